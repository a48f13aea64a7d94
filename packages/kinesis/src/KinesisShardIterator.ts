import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-kinesis';
import { type PolledPage, PollingShardIterator, type StartPosition } from '@shardline/core';
import type { KinesisSettings } from './KinesisSource.js';
import { KinesisPageDecoder, resumePointOf } from './kinesisPages.js';
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
  readonly #startingSequenceNumber: string | undefined;
  readonly #pages: KinesisPageDecoder;

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
    this.#startingSequenceNumber = startingSequenceNumber;
    this.#pages = new KinesisPageDecoder(settings, shardId, hashKeyRange, this.report);
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
    this.#pages.resumeAt = resumePointOf(from, this.#startingSequenceNumber);
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
    return {
      records: this.#pages.decode(raw, !output.NextShardIterator),
      lastSequenceNumber: raw[raw.length - 1]?.SequenceNumber,
      millisBehindLatest: output.MillisBehindLatest,
      nextIterator: output.NextShardIterator ?? undefined,
      childShardIds: (output.ChildShards ?? []).map((c) => c.ShardId!).filter(Boolean),
    };
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
