import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-kinesis';
import {
  awsErrorCode,
  type ChangeRecord,
  type Logger,
  MAX_REACQUIRES_PER_READ,
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
 * - ProvisionedThroughputExceeded, KMS throttling, 5xx and network errors are thrown as
 *   retriable `StreamReadError`s with the iterator kept: the consumer backs off and reads again.
 * - `NextShardIterator` null is SHARD_END; children come from `ChildShards`, else a listing.
 */
export class KinesisShardIterator implements ShardIterator {
  readonly #settings: KinesisSettings;
  readonly #shardId: string;
  readonly #hashKeyRange: { startingHashKey: string; endingHashKey: string } | undefined;
  readonly #start: StartPosition;
  readonly #findChildren: (signal?: AbortSignal) => Promise<string[]>;
  readonly #log: Logger;
  #iterator: string | undefined;
  #ended = false;
  #childShardIds: string[] | undefined;
  #lastSequenceNumber: string | undefined;
  /** While set, user records of this aggregate up to `sub` were done before a restart. */
  #resumeInside: { sequenceNumber: string; sub: number } | undefined;

  constructor(
    settings: KinesisSettings,
    shardId: string,
    hashKeyRange: { startingHashKey: string; endingHashKey: string } | undefined,
    start: StartPosition,
    findChildren: (signal?: AbortSignal) => Promise<string[]>,
  ) {
    this.#settings = settings;
    this.#shardId = shardId;
    this.#hashKeyRange = hashKeyRange;
    this.#start = start;
    this.#findChildren = findChildren;
    this.#log = settings.logger.child({ shardId });
    if (start.type === 'AFTER_SEQUENCE_NUMBER' && start.subSequenceNumber !== undefined) {
      this.#resumeInside = { sequenceNumber: start.sequenceNumber, sub: start.subSequenceNumber };
    }
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
          reportIteratorReacquired(
            {
              metrics: this.#settings.metrics,
              events: this.#settings.events,
              log: this.#log,
              streamId: this.#settings.streamId,
              shardId: this.#shardId,
            },
            this.#lastSequenceNumber,
            code,
          );
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
    const resume = this.#resumeInside;
    if (resume && raw.length > 0) {
      records = records.filter(
        (r) =>
          r.sequenceNumber !== resume.sequenceNumber ||
          (r.subSequenceNumber !== undefined && r.subSequenceNumber > resume.sub),
      );
      // The aggregate is the first record AT its sequence number: once a page had records,
      // everything after it is new.
      this.#resumeInside = undefined;
    }
    const last = raw[raw.length - 1];
    if (last?.SequenceNumber) this.#lastSequenceNumber = last.SequenceNumber;
    const millisBehindLatest = output.MillisBehindLatest;
    this.#iterator = output.NextShardIterator ?? undefined;
    if (output.NextShardIterator) return { records, millisBehindLatest, shardEnded: false };
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
    const input: GetShardIteratorCommandInput = {
      ...this.#settings.streamRef,
      ShardId: this.#shardId,
      ...iteratorPosition(
        this.#lastSequenceNumber !== undefined
          ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.#lastSequenceNumber }
          : this.#start,
      ),
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
      // Inside an aggregate: start AT it; the iterator drops the user records already done.
      return {
        ShardIteratorType:
          from.subSequenceNumber !== undefined ? 'AT_SEQUENCE_NUMBER' : 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: from.sequenceNumber,
      };
  }
}
