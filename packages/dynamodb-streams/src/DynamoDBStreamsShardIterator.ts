import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import {
  type ChangeRecord,
  DataTrimmedError,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecordSafely,
  type PolledPage,
  PollingShardIterator,
  reportDataTrimmed,
  type StartPosition,
} from '@shardline/core';
import type { DynamoDBStreamsSettings } from './DynamoDBStreamsSource.js';
import { DYNAMODB_STREAMS_RETRIABLE_CODES } from './retriableCodes.js';

/**
 * Reads one DynamoDB Streams shard, one GetRecords page per `next`, on core's polling loop
 * (`PollingShardIterator`, shared with Kinesis):
 *
 * - An expired iterator (15 min) is re-acquired AFTER the last sequence number returned, or at
 *   the start position when nothing was returned yet, and `shard.iteratorReacquired` is emitted.
 * - Trimmed data (the position is older than the 24 h retention) emits `shard.dataTrimmed` and a
 *   `shard_data_trimmed_total` metric, then stops (`DataTrimmedError`) or restarts at
 *   TRIM_HORIZON, per the source's `trimmedDataPolicy`.
 * - Throttling, 5xx and network errors are thrown as retriable `StreamReadError`s with the
 *   iterator kept, so the consumer's backoff and retry read the same page again.
 * - `NextShardIterator` null means SHARD_END; the children are looked up then.
 */
export class DynamoDBStreamsShardIterator extends PollingShardIterator {
  readonly #settings: DynamoDBStreamsSettings;
  /** Set after a skip to TRIM_HORIZON, until the next page says where reading resumed. */
  #trimmedAfter: { afterSequenceNumber: string | undefined } | undefined;
  /** Set by a skip past trimmed data: re-acquire at TRIM_HORIZON instead of the start. */
  #fromTrimHorizon = false;

  constructor(
    settings: DynamoDBStreamsSettings,
    shardId: string,
    start: StartPosition,
    findChildren: (signal?: AbortSignal) => Promise<string[]>,
  ) {
    super({
      streamId: settings.streamArn,
      shardId,
      start,
      retriableCodes: DYNAMODB_STREAMS_RETRIABLE_CODES,
      findChildren,
      endedMillisBehindLatest: undefined,
      events: settings.events,
      metrics: settings.metrics,
      logger: settings.logger,
    });
    this.#settings = settings;
  }

  /** The last sequence number returned by `next`. */
  get lastReadSequenceNumber(): string | undefined {
    return this.lastSequenceNumber;
  }

  protected override position(): StartPosition {
    if (this.lastSequenceNumber !== undefined) return super.position();
    return this.#fromTrimHorizon ? { type: 'TRIM_HORIZON' } : this.start;
  }

  protected async getShardIterator(
    position: StartPosition,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const output = await this.#settings.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.#settings.streamArn,
        ShardId: this.shardId,
        ShardIteratorType: position.type as ShardIteratorType,
        ...(position.type === 'AFTER_SEQUENCE_NUMBER' || position.type === 'AT_SEQUENCE_NUMBER'
          ? { SequenceNumber: position.sequenceNumber }
          : {}),
      }),
      signal ? { abortSignal: signal } : {},
    );
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
    const records: ChangeRecord[] = new Array(raw.length);
    const context = { streamId: this.#settings.streamArn, shardId: this.shardId };
    for (let i = 0; i < raw.length; i++) {
      records[i] = decodeDynamoDBRecordSafely(raw[i] as DynamoDBStreamRecordLike, context);
    }
    let millisBehindLatest: number | undefined;
    const last = raw[raw.length - 1];
    const created = last?.dynamodb?.ApproximateCreationDateTime;
    if (created instanceof Date) {
      millisBehindLatest = Math.max(0, this.#settings.now() - created.getTime());
    } else if (raw.length === 0 && output.NextShardIterator) {
      // An empty page of an open shard: the reader is at the tip (the service has no
      // MillisBehindLatest; the next non-empty page corrects this if records were further on).
      millisBehindLatest = 0;
    }
    if (this.#trimmedAfter) this.#emitTrimmed(raw[0]?.dynamodb?.SequenceNumber);
    return {
      records,
      lastSequenceNumber: last?.dynamodb?.SequenceNumber,
      millisBehindLatest,
      nextIterator: output.NextShardIterator ?? undefined,
    };
  }

  protected override onReadError(_error: unknown, code: string | undefined): boolean {
    if (code !== 'TrimmedDataAccessException') return false;
    // Nothing read yet and no checkpoint to honour (start at TRIM_HORIZON or LATEST): no
    // position was skipped, so take a fresh iterator at the start. DynamoDB Local answers this
    // way for a brand-new shard. Bounded like an expired iterator.
    if (
      this.lastSequenceNumber === undefined &&
      (this.start.type === 'TRIM_HORIZON' || this.start.type === 'LATEST')
    ) {
      this.log.info(
        { start: this.start.type },
        'iterator at the start was trimmed before the first read; re-acquired at the start (nothing skipped)',
      );
      return true;
    }
    this.#onTrimmed(); // throws under the 'stop' policy
    return true;
  }

  protected override onAcquireError(_error: unknown, code: string | undefined): boolean {
    if (code !== 'TrimmedDataAccessException' || this.position().type === 'TRIM_HORIZON') {
      return false;
    }
    this.#onTrimmed(); // throws under the 'stop' policy
    return true;
  }

  /** The position was trimmed: stop or skip, per policy; never silently. */
  #onTrimmed(): void {
    const afterSequenceNumber =
      this.lastSequenceNumber ??
      (this.start.type === 'AFTER_SEQUENCE_NUMBER' || this.start.type === 'AT_SEQUENCE_NUMBER'
        ? this.start.sequenceNumber
        : undefined);
    this.#trimmedAfter = { afterSequenceNumber };
    if (this.#settings.trimmedDataPolicy === 'stop') {
      this.#emitTrimmed(undefined);
      throw new DataTrimmedError(this.shardId, afterSequenceNumber);
    }
    // Re-acquire at TRIM_HORIZON: forget the position the trim invalidated.
    this.lastSequenceNumber = undefined;
    this.#fromTrimHorizon = true;
  }

  #emitTrimmed(resumedAtSequenceNumber: string | undefined): void {
    const trimmed = this.#trimmedAfter;
    if (!trimmed) return;
    this.#trimmedAfter = undefined;
    reportDataTrimmed(
      { ...this.report, policy: this.#settings.trimmedDataPolicy },
      trimmed.afterSequenceNumber,
      resumedAtSequenceNumber,
    );
  }
}
