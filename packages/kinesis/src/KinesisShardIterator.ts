import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-kinesis';
import {
  type ChangeRecord,
  DataTrimmedError,
  type PolledPage,
  PollingShardIterator,
  reportDataTrimmed,
  type StartPosition,
} from '@shardline/core';
import { decodeKinesisSdkRecord } from './decodeKinesisRecord.js';
import type { KinesisSettings } from './KinesisSource.js';
import { KINESIS_RETRIABLE_CODES } from './retriableCodes.js';

/**
 * Reads one Kinesis shard, one GetRecords page per `next`, on core's polling loop
 * (`PollingShardIterator`, shared with DynamoDB Streams).
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
export class KinesisShardIterator extends PollingShardIterator {
  readonly #settings: KinesisSettings;
  readonly #hashKeyRange: { startingHashKey: string; endingHashKey: string } | undefined;
  readonly #startingSequenceNumber: string | undefined;
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
    super({
      streamId: settings.streamId,
      shardId,
      start,
      retriableCodes: KINESIS_RETRIABLE_CODES,
      findChildren,
      endedMillisBehindLatest: 0,
      events: settings.events,
      metrics: settings.metrics,
      logger: settings.logger,
    });
    this.#settings = settings;
    this.#hashKeyRange = hashKeyRange;
    this.#startingSequenceNumber = startingSequenceNumber;
  }

  protected async getShardIterator(
    from: StartPosition,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const input: GetShardIteratorCommandInput = {
      ...this.#settings.streamRef,
      ShardId: this.shardId,
      ...iteratorPosition(from),
    };
    const output = await this.#settings.client.send(
      new GetShardIteratorCommand(input),
      signal ? { abortSignal: signal } : {},
    );
    this.#resumeAt =
      from.type === 'AFTER_SEQUENCE_NUMBER' || from.type === 'AT_SEQUENCE_NUMBER'
        ? {
            sequenceNumber: from.sequenceNumber,
            sub: from.type === 'AT_SEQUENCE_NUMBER' ? -1 : (from.subSequenceNumber ?? Infinity),
            check: from.sequenceNumber !== this.#startingSequenceNumber,
          }
        : undefined;
    return output.ShardIterator;
  }

  protected async getRecords(
    iterator: string,
    signal: AbortSignal | undefined,
  ): Promise<PolledPage> {
    const output = await this.#settings.client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#settings.maxRecordsPerRead }),
      signal ? { abortSignal: signal } : {},
    );
    const raw = output.Records ?? [];
    const context = {
      streamId: this.#settings.streamId,
      shardId: this.shardId,
      payload: this.#settings.payload,
      hashKeyRange: this.#hashKeyRange,
      outOfRangeRecordPolicy: this.#settings.outOfRangeRecordPolicy,
      events: this.#settings.events,
      metrics: this.#settings.metrics,
      logger: this.log,
      ...(this.#settings.orderingKey ? { orderingKey: this.#settings.orderingKey } : {}),
    };
    let records: ChangeRecord[] = [];
    for (const record of raw) {
      const decoded = decodeKinesisSdkRecord(record, context);
      if (decoded.length === 1) records.push(decoded[0]!);
      else for (const r of decoded) records.push(r);
    }
    const resume = this.#resumeAt;
    // Under the 'stop' policy #onTrimmed throws with #resumeAt still set, so a read again with
    // the same iterator is refused again.
    if (resume && raw.length > 0) {
      // The first record AT a position is the position's own record, unless it was trimmed.
      if (raw[0]!.SequenceNumber !== resume.sequenceNumber) {
        if (resume.check) this.#onTrimmed(resume.sequenceNumber, raw[0]!.SequenceNumber);
      } else if (resume.sub >= 0) {
        records = records.filter(
          (r) =>
            r.sequenceNumber !== resume.sequenceNumber ||
            (r.subSequenceNumber !== undefined && r.subSequenceNumber > resume.sub),
        );
      }
      this.#resumeAt = undefined;
    }
    if (!output.NextShardIterator && resume && this.#resumeAt) {
      // The shard ended without the position's record: it was trimmed with whatever followed.
      if (resume.check) this.#onTrimmed(resume.sequenceNumber, undefined);
      this.#resumeAt = undefined;
    }
    return {
      records,
      lastSequenceNumber: raw[raw.length - 1]?.SequenceNumber,
      millisBehindLatest: output.MillisBehindLatest,
      nextIterator: output.NextShardIterator ?? undefined,
      childShardIds: (output.ChildShards ?? []).map((c) => c.ShardId!).filter(Boolean),
    };
  }

  /** The record at `afterSequenceNumber` is gone: report, then stop or read on, per policy. */
  #onTrimmed(afterSequenceNumber: string, resumedAtSequenceNumber: string | undefined): void {
    const policy = this.#settings.trimmedDataPolicy;
    reportDataTrimmed({ ...this.report, policy }, afterSequenceNumber, resumedAtSequenceNumber);
    // Under 'stop' the position is kept: a restart reads it again and stays stopped.
    if (policy === 'stop') throw new DataTrimmedError(this.shardId, afterSequenceNumber);
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
