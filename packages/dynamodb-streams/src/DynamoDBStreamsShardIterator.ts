import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import {
  awsErrorCode,
  type ChangeRecord,
  DataTrimmedError,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecordSafely,
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
import type { DynamoDBStreamsSettings } from './DynamoDBStreamsSource.js';
import { DYNAMODB_STREAMS_RETRIABLE_CODES } from './retriableCodes.js';

/**
 * Reads one DynamoDB Streams shard, one GetRecords page per `next`.
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
export class DynamoDBStreamsShardIterator implements ShardIterator {
  readonly #settings: DynamoDBStreamsSettings;
  readonly #shardId: string;
  readonly #start: StartPosition;
  readonly #findChildren: (signal?: AbortSignal) => Promise<string[]>;
  readonly #log: Logger;
  /** Where this shard's iterator reports re-acquires and trims. */
  readonly #report: IteratorReacquiredReport;
  #iterator: string | undefined;
  #ended = false;
  #childShardIds: string[] | undefined;
  #lastSequenceNumber: string | undefined;
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
    this.#settings = settings;
    this.#shardId = shardId;
    this.#start = start;
    this.#findChildren = findChildren;
    this.#log = settings.logger.child({ shardId });
    this.#report = {
      metrics: settings.metrics,
      events: settings.events,
      log: this.#log,
      streamId: settings.streamArn,
      shardId,
    };
  }

  /** The last sequence number returned by `next`. */
  get lastSequenceNumber(): string | undefined {
    return this.#lastSequenceNumber;
  }

  /** Acquires the first iterator (so a bad shard id or trimmed checkpoint fails at open). */
  async open(signal?: AbortSignal): Promise<void> {
    await this.#acquire(signal);
  }

  async next(signal?: AbortSignal): Promise<ShardReadResult> {
    if (this.#ended) return this.#endPage([], undefined);
    let reacquired = 0;
    for (;;) {
      if (this.#iterator === undefined) await this.#acquire(signal);
      if (this.#ended) return this.#endPage([], undefined);
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
        if (code === 'TrimmedDataAccessException') {
          // Nothing read yet and no checkpoint to honour (start at TRIM_HORIZON or LATEST): no
          // position was skipped, so take a fresh iterator at the start. DynamoDB Local answers
          // this way for a brand-new shard. Bounded like an expired iterator.
          if (
            this.#lastSequenceNumber === undefined &&
            (this.#start.type === 'TRIM_HORIZON' || this.#start.type === 'LATEST') &&
            reacquired < MAX_REACQUIRES_PER_READ
          ) {
            reacquired++;
            this.#iterator = undefined;
            this.#log.info(
              { start: this.#start.type },
              'iterator at the start was trimmed before the first read; re-acquired at the start (nothing skipped)',
            );
            continue;
          }
          this.#onTrimmed();
          continue;
        }
        throw toStreamReadError(
          error,
          'GetRecords',
          DYNAMODB_STREAMS_RETRIABLE_CODES,
          this.#shardId,
        );
      }
      return this.#toPage(output, signal);
    }
  }

  async #toPage(output: GetRecordsCommandOutput, signal?: AbortSignal): Promise<ShardReadResult> {
    const raw = output.Records ?? [];
    const records: ChangeRecord[] = new Array(raw.length);
    const context = { streamId: this.#settings.streamArn, shardId: this.#shardId };
    for (let i = 0; i < raw.length; i++) {
      records[i] = decodeDynamoDBRecordSafely(raw[i] as DynamoDBStreamRecordLike, context);
    }
    let millisBehindLatest: number | undefined;
    const last = raw[raw.length - 1];
    if (last) {
      this.#lastSequenceNumber = last.dynamodb?.SequenceNumber ?? this.#lastSequenceNumber;
      const created = last.dynamodb?.ApproximateCreationDateTime;
      if (created instanceof Date) {
        millisBehindLatest = Math.max(0, this.#settings.now() - created.getTime());
      }
    }
    if (this.#trimmedAfter) this.#emitTrimmed(raw[0]?.dynamodb?.SequenceNumber);
    this.#iterator = output.NextShardIterator ?? undefined;
    if (output.NextShardIterator) return { records, millisBehindLatest, shardEnded: false };
    this.#ended = true;
    try {
      this.#childShardIds = await this.#findChildren(signal);
    } catch (error) {
      // The worker's periodic listing finds the children anyway; the shard end must not wait.
      this.#log.warn({ err: error }, 'could not look up the children of an ended shard');
    }
    return this.#endPage(records, millisBehindLatest);
  }

  #endPage(records: ChangeRecord[], millisBehindLatest: number | undefined): ShardReadResult {
    return {
      records,
      millisBehindLatest,
      shardEnded: true,
      childShardIds: this.#childShardIds,
    };
  }

  async #acquire(signal?: AbortSignal): Promise<void> {
    const position: StartPosition =
      this.#lastSequenceNumber !== undefined
        ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.#lastSequenceNumber }
        : this.#fromTrimHorizon
          ? { type: 'TRIM_HORIZON' }
          : this.#start;
    try {
      const output = await this.#settings.client.send(
        new GetShardIteratorCommand({
          StreamArn: this.#settings.streamArn,
          ShardId: this.#shardId,
          ShardIteratorType: position.type as ShardIteratorType,
          ...(position.type === 'AFTER_SEQUENCE_NUMBER' || position.type === 'AT_SEQUENCE_NUMBER'
            ? { SequenceNumber: position.sequenceNumber }
            : {}),
        }),
        signal ? { abortSignal: signal } : {},
      );
      this.#iterator = output.ShardIterator;
      // A closed shard read to its end has no iterator left: SHARD_END.
      if (!this.#iterator) this.#ended = true;
    } catch (error) {
      if (
        awsErrorCode(error) === 'TrimmedDataAccessException' &&
        position.type !== 'TRIM_HORIZON'
      ) {
        this.#onTrimmed(); // throws under the 'stop' policy
        await this.#acquire(signal);
        return;
      }
      throw toStreamReadError(
        error,
        'GetShardIterator',
        DYNAMODB_STREAMS_RETRIABLE_CODES,
        this.#shardId,
      );
    }
  }

  /** The position was trimmed: stop or skip, per policy; never silently. */
  #onTrimmed(): void {
    const afterSequenceNumber =
      this.#lastSequenceNumber ??
      (this.#start.type === 'AFTER_SEQUENCE_NUMBER' || this.#start.type === 'AT_SEQUENCE_NUMBER'
        ? this.#start.sequenceNumber
        : undefined);
    if (this.#settings.trimmedDataPolicy === 'stop') {
      this.#trimmedAfter = { afterSequenceNumber };
      this.#emitTrimmed(undefined);
      throw new DataTrimmedError(this.#shardId, afterSequenceNumber);
    }
    this.#trimmedAfter = { afterSequenceNumber };
    this.#iterator = undefined;
    // Re-acquire at TRIM_HORIZON: forget the position the trim invalidated.
    this.#lastSequenceNumber = undefined;
    this.#fromTrimHorizon = true;
  }

  #emitTrimmed(resumedAtSequenceNumber: string | undefined): void {
    const trimmed = this.#trimmedAfter;
    if (!trimmed) return;
    this.#trimmedAfter = undefined;
    reportDataTrimmed(
      { ...this.#report, policy: this.#settings.trimmedDataPolicy },
      trimmed.afterSequenceNumber,
      resumedAtSequenceNumber,
    );
  }
}
