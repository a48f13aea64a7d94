import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-kinesis';
import {
  awsErrorCode,
  type ChangeRecord,
  DataTrimmedError,
  type IteratorReacquiredReport,
  type Logger,
  MAX_REACQUIRES_PER_READ,
  reportDataTrimmed,
  reportIteratorReacquired,
  type ShardIterator,
  type ShardReadResult,
  type StartPosition,
  toStreamReadError,
} from '@shardline/core';
import { decodeKinesisSdkRecord } from './decodeKinesisRecord.js';
import type { KinesisSettings } from './KinesisSource.js';
import { KINESIS_RETRIABLE_CODES } from './retriableCodes.js';

/**
 * Reads one Kinesis shard, one GetRecords page per `next`.
 *
 * - KPL aggregates are de-aggregated; a user record hashing outside the shard's range is
 *   reported and delivered or skipped per the source's `outOfRangeRecordPolicy`.
 * - A resume inside an aggregate (AFTER_SEQUENCE_NUMBER + subSequenceNumber) starts AT the
 *   aggregate and drops its user records up to that sub-sequence.
 * - An expired iterator (5 min) is re-acquired AFTER the last sequence number returned, or at
 *   the start position when nothing was returned yet (`shard.iteratorReacquired`).
 * - Trimmed data: Kinesis has no trimmed-data error (an iterator at a trimmed position reads
 *   on from the oldest record kept). So every read from a sequence number (a checkpoint, or a
 *   re-acquire after the last record returned) opens AT that record and checks that the first
 *   record read is that one: if it is gone, the records after it may be gone too, and the
 *   source's `trimmedDataPolicy` applies (`shard.dataTrimmed`, `shard_data_trimmed_total`;
 *   stop with `DataTrimmedError`, or read on). The record itself is then dropped, as an AFTER
 *   iterator would (or, inside an aggregate, its user records up to the sub-sequence done).
 * - ProvisionedThroughputExceeded, KMS throttling, 5xx and network errors are thrown as
 *   retriable `StreamReadError`s with the iterator kept: the consumer backs off and reads again.
 * - `NextShardIterator` null is SHARD_END; children come from `ChildShards`, else a listing.
 */
export class KinesisShardIterator implements ShardIterator {
  readonly #settings: KinesisSettings;
  readonly #shardId: string;
  readonly #hashKeyRange: { startingHashKey: string; endingHashKey: string } | undefined;
  readonly #startingSequenceNumber: string | undefined;
  readonly #start: StartPosition;
  readonly #findChildren: (signal?: AbortSignal) => Promise<string[]>;
  readonly #log: Logger;
  /** Where this shard's iterator reports re-acquires and trims. */
  readonly #report: IteratorReacquiredReport;
  #iterator: string | undefined;
  #ended = false;
  #childShardIds: string[] | undefined;
  #lastSequenceNumber: string | undefined;
  /**
   * While set, the iterator was opened AT this record, which must come first: `sub` is the last
   * user record of it already done (-1: none, an AT position; Infinity: all, an AFTER position);
   * `check` is false for the shard's own starting sequence number, which names no record.
   */
  #resumeAt: { sequenceNumber: string; sub: number; check: boolean } | undefined;

  constructor(
    settings: KinesisSettings,
    shardId: string,
    hashKeyRange: { startingHashKey: string; endingHashKey: string } | undefined,
    start: StartPosition,
    findChildren: (signal?: AbortSignal) => Promise<string[]>,
    startingSequenceNumber?: string,
  ) {
    this.#startingSequenceNumber = startingSequenceNumber;
    this.#settings = settings;
    this.#shardId = shardId;
    this.#hashKeyRange = hashKeyRange;
    this.#start = start;
    this.#findChildren = findChildren;
    this.#log = settings.logger.child({ shardId });
    this.#report = {
      metrics: settings.metrics,
      events: settings.events,
      log: this.#log,
      streamId: settings.streamId,
      shardId,
    };
  }

  /** Acquires the first iterator (so a bad shard id fails at open). */
  async open(signal?: AbortSignal): Promise<void> {
    await this.#acquire(signal);
  }

  async next(signal?: AbortSignal): Promise<ShardReadResult> {
    if (this.#ended) return this.#endPage([], 0);
    for (let reacquired = 0; ; ) {
      if (this.#iterator === undefined) await this.#acquire(signal);
      if (this.#ended) return this.#endPage([], 0);
      let output: GetRecordsCommandOutput;
      try {
        output = await this.#settings.client.send(
          new GetRecordsCommand({
            ShardIterator: this.#iterator,
            Limit: this.#settings.maxRecordsPerRead,
          }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (error) {
        const code = awsErrorCode(error);
        if (code === 'ExpiredIteratorException' && reacquired < MAX_REACQUIRES_PER_READ) {
          reacquired++;
          this.#iterator = undefined;
          reportIteratorReacquired(this.#report, this.#lastSequenceNumber, code);
          continue;
        }
        throw toStreamReadError(error, 'GetRecords', KINESIS_RETRIABLE_CODES, this.#shardId);
      }
      return this.#toPage(output, signal);
    }
  }

  async #toPage(output: GetRecordsCommandOutput, signal?: AbortSignal): Promise<ShardReadResult> {
    const raw = output.Records ?? [];
    const context = {
      streamId: this.#settings.streamId,
      shardId: this.#shardId,
      payload: this.#settings.payload,
      hashKeyRange: this.#hashKeyRange,
      outOfRangeRecordPolicy: this.#settings.outOfRangeRecordPolicy,
      events: this.#settings.events,
      metrics: this.#settings.metrics,
      logger: this.#log,
      ...(this.#settings.orderingKey ? { orderingKey: this.#settings.orderingKey } : {}),
    };
    let records: ChangeRecord[] = [];
    for (const record of raw) {
      const decoded = decodeKinesisSdkRecord(record, context);
      if (decoded.length === 1) records.push(decoded[0]!);
      else for (const r of decoded) records.push(r);
    }
    const resume = this.#resumeAt;
    if (resume && raw.length > 0) {
      // The first record AT a position is the position's own record, unless it was trimmed.
      this.#resumeAt = undefined;
      if (raw[0]!.SequenceNumber !== resume.sequenceNumber) {
        if (resume.check) this.#onTrimmed(resume.sequenceNumber, raw[0]!.SequenceNumber);
      } else {
        if (resume.sub >= 0) {
          records = records.filter(
            (r) =>
              r.sequenceNumber !== resume.sequenceNumber ||
              (r.subSequenceNumber !== undefined && r.subSequenceNumber > resume.sub),
          );
        }
      }
    }
    const last = raw[raw.length - 1];
    if (last?.SequenceNumber) this.#lastSequenceNumber = last.SequenceNumber;
    const millisBehindLatest = output.MillisBehindLatest;
    this.#iterator = output.NextShardIterator ?? undefined;
    if (output.NextShardIterator) return { records, millisBehindLatest, shardEnded: false };
    if (this.#resumeAt) {
      // The shard ended without the position's record: it was trimmed with whatever followed.
      const { sequenceNumber, check } = this.#resumeAt;
      this.#resumeAt = undefined;
      if (check) this.#onTrimmed(sequenceNumber, undefined);
    }
    this.#ended = true;
    if (output.ChildShards && output.ChildShards.length > 0) {
      this.#childShardIds = output.ChildShards.map((c) => c.ShardId!).filter(Boolean);
    } else {
      try {
        this.#childShardIds = await this.#findChildren(signal);
      } catch (error) {
        // The worker's periodic listing finds the children anyway; the shard end must not wait.
        this.#log.warn({ err: error }, 'could not look up the children of an ended shard');
      }
    }
    return this.#endPage(records, millisBehindLatest);
  }

  #endPage(records: ChangeRecord[], millisBehindLatest: number | undefined): ShardReadResult {
    return { records, millisBehindLatest, shardEnded: true, childShardIds: this.#childShardIds };
  }

  async #acquire(signal?: AbortSignal): Promise<void> {
    const from: StartPosition =
      this.#lastSequenceNumber !== undefined
        ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.#lastSequenceNumber }
        : this.#start;
    const position = iteratorPosition(from);
    const input: GetShardIteratorCommandInput = {
      ...this.#settings.streamRef,
      ShardId: this.#shardId,
      ...position,
    };
    try {
      const output = await this.#settings.client.send(
        new GetShardIteratorCommand(input),
        signal ? { abortSignal: signal } : {},
      );
      this.#iterator = output.ShardIterator;
      if (!this.#iterator) this.#ended = true;
    } catch (error) {
      throw toStreamReadError(error, 'GetShardIterator', KINESIS_RETRIABLE_CODES, this.#shardId);
    }
    if (from.type === 'AFTER_SEQUENCE_NUMBER' || from.type === 'AT_SEQUENCE_NUMBER') {
      this.#resumeAt = {
        sequenceNumber: from.sequenceNumber,
        sub: from.type === 'AT_SEQUENCE_NUMBER' ? -1 : (from.subSequenceNumber ?? Infinity),
        check: from.sequenceNumber !== this.#startingSequenceNumber,
      };
    }
  }

  /** The record at `afterSequenceNumber` is gone: report, then stop or read on, per policy. */
  #onTrimmed(afterSequenceNumber: string, resumedAtSequenceNumber: string | undefined): void {
    const policy = this.#settings.trimmedDataPolicy;
    reportDataTrimmed({ ...this.#report, policy }, afterSequenceNumber, resumedAtSequenceNumber);
    if (policy === 'stop') {
      // Read again from the same position after a restart: the shard stays stopped.
      this.#iterator = undefined;
      throw new DataTrimmedError(this.#shardId, afterSequenceNumber);
    }
  }
}

function iteratorPosition(
  from: StartPosition,
): Pick<
  GetShardIteratorCommandInput,
  'ShardIteratorType' | 'StartingSequenceNumber' | 'Timestamp'
> {
  switch (from.type) {
    case 'TRIM_HORIZON':
    case 'LATEST':
      return { ShardIteratorType: from.type };
    case 'AT_TIMESTAMP':
      return { ShardIteratorType: 'AT_TIMESTAMP', Timestamp: from.timestamp };
    case 'AT_SEQUENCE_NUMBER':
      return {
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: from.sequenceNumber,
      };
    case 'AFTER_SEQUENCE_NUMBER':
      // AT the record, which the iterator then drops (or, inside an aggregate, its user records
      // already done): that the record is still there shows that nothing after it was trimmed.
      return {
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: from.sequenceNumber,
      };
  }
}
