import type { ChangeRecord } from './ChangeRecord.js';
import type { ShardIterator, ShardReadResult, StartPosition } from './contracts.js';
import { ShardlineError } from './errors.js';
import type { EventBus } from './events.js';
import type { Logger } from './Logger.js';
import type { Metrics } from './metrics.js';
import {
  type IteratorReacquiredReport,
  MAX_REACQUIRES_PER_READ,
  reportIteratorReacquired,
} from './reportIteratorReacquired.js';
import { awsErrorCode, toStreamReadError } from './StreamReadError.js';

/** What a {@link PollingShardIterator} is told about its shard. */
export interface PollingShardIteratorOptions {
  readonly streamId: string;
  readonly shardId: string;
  /** Where reading starts when nothing was read yet. */
  readonly start: StartPosition;
  /** The service's error codes a backoff and retry may cure (throttling, server faults). */
  readonly retriableCodes: ReadonlySet<string>;
  /** The children of the shard, looked up when it ended and the page did not name them. */
  readonly findChildren: (signal?: AbortSignal) => Promise<string[]>;
  /** The lag reported once the shard has ended (0 for Kinesis; unknown for DynamoDB Streams). */
  readonly endedMillisBehindLatest: number | undefined;
  readonly events: EventBus | undefined;
  readonly metrics: Metrics;
  /** The source's logger; the iterator logs through a child bound to the shard id. */
  readonly logger: Logger;
}

/** One GetRecords page, decoded by the service's iterator. */
export interface PolledPage {
  readonly records: ChangeRecord[];
  /** The sequence number of the page's last record: an expired iterator resumes after it. */
  readonly lastSequenceNumber: string | undefined;
  readonly millisBehindLatest: number | undefined;
  /** `NextShardIterator`; absent at SHARD_END. */
  readonly nextIterator: string | undefined;
  /** Children the page named itself (Kinesis `ChildShards`); else they are looked up. */
  readonly childShardIds?: readonly string[];
}

/**
 * The polling loop both stream services share, with the service calls as the only difference:
 * one `GetRecords` page per `next`, an expired iterator re-acquired after the last record
 * returned (at most {@link MAX_REACQUIRES_PER_READ} times a read, each reported), throttling and
 * server faults thrown as retriable `StreamReadError`s with the iterator kept (the consumer backs
 * off and reads the same page again), and SHARD_END when there is no next iterator, with the
 * children from the page or a lookup. Subclasses give the two calls and the service's quirks
 * (trimmed data, KPL aggregates) through the hooks.
 */
export abstract class PollingShardIterator implements ShardIterator {
  protected readonly shardId: string;
  protected readonly start: StartPosition;
  protected readonly log: Logger;
  /** Where re-acquires and trims are reported (metrics, events, this shard's logger). */
  protected readonly report: IteratorReacquiredReport;
  /** The sequence number of the last record returned by `next`. */
  protected lastSequenceNumber: string | undefined;
  readonly #options: PollingShardIteratorOptions;
  #iterator: string | undefined;
  #ended = false;
  #childShardIds: string[] | undefined;

  protected constructor(options: PollingShardIteratorOptions) {
    this.#options = options;
    this.shardId = options.shardId;
    this.start = options.start;
    this.log = options.logger.child({ shardId: options.shardId });
    this.report = {
      metrics: options.metrics,
      events: options.events,
      log: this.log,
      streamId: options.streamId,
      shardId: options.shardId,
    };
  }

  /** `GetShardIterator` at `position`; `undefined` when the shard has none left (ended). */
  protected abstract getShardIterator(
    position: StartPosition,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined>;

  /** `GetRecords` with `iterator`, decoded. Errors are thrown as the service threw them. */
  protected abstract getRecords(
    iterator: string,
    signal: AbortSignal | undefined,
  ): Promise<PolledPage>;

  /** Where an iterator is taken: after the last record returned, else the start position. */
  protected position(): StartPosition {
    return this.lastSequenceNumber !== undefined
      ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.lastSequenceNumber }
      : this.start;
  }

  /**
   * A `GetRecords` error that is not an expired iterator: return true to take a new iterator and
   * read again (`retries` such reads happened in this `next` already), or false to throw it.
   * Throwing from here (e.g. `DataTrimmedError`) ends the read too.
   */
  protected onReadError(_error: unknown, _code: string | undefined, _retries: number): boolean {
    return false;
  }

  /** A `GetShardIterator` error: return true to try again at {@link position}, false to throw it. */
  protected onAcquireError(_error: unknown, _code: string | undefined): boolean {
    return false;
  }

  /** Takes the first iterator, so that a bad shard id or a trimmed checkpoint fails at open. */
  async open(signal?: AbortSignal): Promise<void> {
    await this.#acquire(signal);
  }

  async next(signal?: AbortSignal): Promise<ShardReadResult> {
    for (let retries = 0; ; ) {
      if (!this.#ended && this.#iterator === undefined) await this.#acquire(signal);
      if (this.#ended) return this.#endPage([], this.#options.endedMillisBehindLatest);
      let page: PolledPage;
      try {
        page = await this.getRecords(this.#iterator!, signal);
      } catch (error) {
        // Shardline's own errors (DataTrimmedError from a page check) pass as they are.
        if (error instanceof ShardlineError) throw error;
        const code = awsErrorCode(error);
        if (code === 'ExpiredIteratorException' && retries < MAX_REACQUIRES_PER_READ) {
          retries++;
          this.#iterator = undefined;
          reportIteratorReacquired(this.report, this.lastSequenceNumber, code);
          continue;
        }
        if (retries < MAX_REACQUIRES_PER_READ && this.onReadError(error, code, retries)) {
          retries++;
          this.#iterator = undefined;
          continue;
        }
        throw toStreamReadError(error, 'GetRecords', this.#options.retriableCodes, this.shardId);
      }
      return this.#toResult(page, signal);
    }
  }

  async #toResult(page: PolledPage, signal: AbortSignal | undefined): Promise<ShardReadResult> {
    if (page.lastSequenceNumber !== undefined) this.lastSequenceNumber = page.lastSequenceNumber;
    this.#iterator = page.nextIterator;
    const { records, millisBehindLatest } = page;
    if (page.nextIterator) return { records, millisBehindLatest, shardEnded: false };
    this.#ended = true;
    if (page.childShardIds && page.childShardIds.length > 0) {
      this.#childShardIds = [...page.childShardIds];
    } else {
      try {
        this.#childShardIds = await this.#options.findChildren(signal);
      } catch (error) {
        // The worker's periodic listing finds the children anyway; the shard end must not wait.
        this.log.warn({ err: error }, 'could not look up the children of an ended shard');
      }
    }
    return this.#endPage(records, millisBehindLatest);
  }

  #endPage(records: ChangeRecord[], millisBehindLatest: number | undefined): ShardReadResult {
    return { records, millisBehindLatest, shardEnded: true, childShardIds: this.#childShardIds };
  }

  async #acquire(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      try {
        this.#iterator = await this.getShardIterator(this.position(), signal);
        // A closed shard read to its end has no iterator left: SHARD_END.
        if (!this.#iterator) this.#ended = true;
        return;
      } catch (error) {
        if (error instanceof ShardlineError) throw error;
        if (this.onAcquireError(error, awsErrorCode(error))) continue;
        throw toStreamReadError(
          error,
          'GetShardIterator',
          this.#options.retriableCodes,
          this.shardId,
        );
      }
    }
  }
}
