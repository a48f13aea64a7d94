import type { BatchProcessor } from './BatchProcessor.js';
import type { ChangeRecord } from './ChangeRecord.js';
import { CheckpointTracker, type CommitCheckpoint } from './CheckpointTracker.js';
import type { ShardReadResult, ShardSource, StartPosition } from './contracts.js';
import { ConfigurationError, LeaseLostError, SinkFlushError, toError } from './errors.js';
import type { EventBus } from './events.js';
import { type Logger, silentLogger } from './Logger.js';
import { type Metrics, noopMetrics } from './metrics.js';
import { isDone } from './RecordOutcome.js';
import { RetryPolicy, sleep } from './RetryPolicy.js';
import { ShardLag } from './ShardLag.js';

/** Options of a {@link ShardConsumer}. */
export interface ShardConsumerOptions {
  readonly source: ShardSource;
  readonly shardId: string;
  /** Where reading starts: the checkpoint (AFTER_SEQUENCE_NUMBER), or TRIM_HORIZON / LATEST. */
  readonly from: StartPosition;
  readonly processor: BatchProcessor;
  /** Writes checkpoints (lease-fenced in the worker). Without it nothing is committed. */
  readonly commit?: CommitCheckpoint;
  /**
   * Makes durable what the sink buffers (`Sink.flush`); called before every commit, so a
   * checkpoint never passes a record whose write is still in a buffer. When it fails, this
   * consumer commits nothing more and `run` rejects: its caller restarts from the last
   * checkpoint (with a fresh deduper), so the buffered records are read and written again.
   */
  readonly flush?: (signal?: AbortSignal) => Promise<void>;
  /** Commit after this many records. @default 1000 */
  readonly commitEveryRecords?: number;
  /** Commit after this long, in ms. @default 5000 */
  readonly commitIntervalMs?: number;
  /**
   * Least time between two reads of the shard, in ms: caps calls per second per shard
   * (Kinesis allows 5 GetRecords/s per shard, shared by all consumers). @default 200
   */
  readonly minReadIntervalMs?: number;
  /**
   * How often an idle shard is read, in ms: after a read that returned no records, the next
   * read starts this long after that one started. This is the freshness/cost trade-off: a
   * change to an idle shard waits on average half of it, at most all of it, and every idle
   * shard costs `3_600_000 / idlePollIntervalMs` GetRecords calls per hour. The default, 250
   * (4 reads/s, 14,400/h), is the rate of Lambda's event source mapping on DynamoDB Streams. On
   * Kinesis it uses 4 of the 5 reads/s a shard allows all its polling consumers together: with
   * another polling consumer on the stream, raise it (1000 is Lambda's Kinesis rate). A shard
   * with records is read again at once (paced by `minReadIntervalMs` only).
   * @default 250
   */
  readonly idlePollIntervalMs?: number;
  /** @deprecated The former name of `idlePollIntervalMs`; used only when that is not given. */
  readonly idleDelayMs?: number;
  /**
   * Longest wait between reads of an idle shard, in ms. Above `idlePollIntervalMs`, the wait
   * doubles per consecutive empty read up to this (fewer calls on shards idle for long, at the
   * cost of freshness when they wake up); below it, it caps the poll interval.
   * @default idlePollIntervalMs (a constant interval, no backoff)
   */
  readonly maxIdleDelayMs?: number;
  /** First backoff after a throttling error, in ms (full jitter, doubling). @default 250 */
  readonly throttleBaseDelayMs?: number;
  /** Longest backoff after throttling or a failed batch, in ms. @default 10_000 */
  readonly maxBackoffMs?: number;
  /**
   * Read the next page while the current one is processed. Memory stays bounded by two pages
   * per shard (GetRecords' own page limit); no read starts while both are held. @default true
   */
  readonly prefetch?: boolean;
  /**
   * Where the shard's lag is kept. Give one that outlives this consumer (the worker keeps one
   * per lease, across reader restarts) and track it yourself; without it the consumer keeps its
   * own and tracks it as `iterator_age_ms` while `run` runs (`Metrics.track`, else pushed as a
   * gauge on every read and retry).
   */
  readonly lag?: ShardLag;
  readonly events?: EventBus;
  readonly metrics?: Metrics;
  /** A logger; the consumer binds `shardId` to it (give one without it, or it is written twice). */
  readonly logger?: Logger;
}

/** Defaults of {@link ShardConsumer}. */
export const DEFAULT_SHARD_CONSUMER = {
  minReadIntervalMs: 200,
  idlePollIntervalMs: 250,
  throttleBaseDelayMs: 250,
  maxBackoffMs: 10_000,
  prefetch: true,
} as const;

/** How a consumer run ended. */
export interface ShardConsumerResult {
  /** True when the shard reached SHARD_END and every record of it is done (SHARD_END committed). */
  readonly ended: boolean;
  /** Children announced at shard end, when the service said. */
  readonly childShardIds: readonly string[];
  /** The last record that is done. */
  readonly lastSequenceNumber: string | undefined;
  /** Records read in this run. */
  readonly recordsRead: number;
}

/**
 * The reader loop of one shard, shared by every source and runtime: read a page, process it
 * (dedup, keyed dispatch, retries, parking), track and commit the checkpoint, and repeat until
 * SHARD_END or until stopped.
 *
 * - A page whose records are not all done is retried (unfinished records only, with backoff)
 *   until they are done or the consumer is stopped: a failing batch is never skipped (KCL's
 *   issue #10 is exactly that skip). The checkpoint never passes an unfinished record.
 * - Reads are paced (`minReadIntervalMs`), idle shards are polled every `idlePollIntervalMs`
 *   (Lambda's 4 reads/s by default), busy or lagging ones at once, and throttling backs off with
 *   full jitter.
 * - On stop (`signal`), the page in hand is finished, the checkpoint committed, and `run` returns;
 *   a second signal (`abortSignal`) interrupts the page too (a lost lease, a shutdown deadline).
 * - A `LeaseLostError` from a commit stops the loop at once and is rethrown.
 */
export class ShardConsumer {
  readonly #options: ShardConsumerOptions;
  readonly #tracker: CheckpointTracker;
  readonly #events: EventBus | undefined;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  /**
   * Core's backoff for a throttled or failed read and for a page whose records are not done:
   * both are retried until they succeed or the consumer is stopped (a shard is never skipped),
   * so only the policy's delays and its retriable test are used, not an attempt limit.
   */
  readonly #backoff: RetryPolicy;
  readonly #lag: ShardLag;
  readonly #labels: { readonly stream: string; readonly shard: string };
  #flushError: SinkFlushError | undefined;
  #lastReadAt = 0;
  #idleDelayMs = 0;

  constructor(options: ShardConsumerOptions) {
    for (const name of [
      'minReadIntervalMs',
      'idlePollIntervalMs',
      'idleDelayMs',
      'maxIdleDelayMs',
      'throttleBaseDelayMs',
      'maxBackoffMs',
    ] as const) {
      const value = options[name];
      if (value !== undefined && !(value >= 0)) {
        throw new ConfigurationError(`${name} must be 0 or more (ms), got ${String(value)}.`);
      }
    }
    this.#options = options;
    this.#backoff = RetryPolicy.untilStopped(
      options.throttleBaseDelayMs ?? DEFAULT_SHARD_CONSUMER.throttleBaseDelayMs,
      options.maxBackoffMs ?? DEFAULT_SHARD_CONSUMER.maxBackoffMs,
    );
    const { commit, flush } = options;
    const durableCommit: CommitCheckpoint | undefined =
      commit && flush
        ? async (checkpoint) => {
            if (this.#flushError) throw this.#flushError;
            try {
              await flush();
            } catch (error) {
              this.#flushError = new SinkFlushError(options.shardId, error);
              throw this.#flushError;
            }
            await commit(checkpoint);
          }
        : commit;
    this.#tracker = new CheckpointTracker({
      ...(durableCommit ? { commit: durableCommit } : {}),
      ...(options.commitEveryRecords !== undefined
        ? { commitEveryRecords: options.commitEveryRecords }
        : {}),
      ...(options.commitIntervalMs !== undefined
        ? { commitIntervalMs: options.commitIntervalMs }
        : {}),
    });
    this.#events = options.events;
    this.#metrics = options.metrics ?? noopMetrics;
    this.#log = (options.logger ?? silentLogger).child({ shardId: options.shardId });
    this.#lag = options.lag ?? new ShardLag();
    this.#labels = { stream: options.source.streamId, shard: options.shardId };
  }

  /** The shard's lag (see {@link ShardLag}). */
  get lag(): ShardLag {
    return this.#lag;
  }

  /** The checkpoint tracker of this shard (resolved and committed positions). */
  get tracker(): CheckpointTracker {
    return this.#tracker;
  }

  /**
   * Reads and processes until SHARD_END or until `signal` aborts.
   *
   * @param signal - Stops reading: no page is read after it aborts, the page in hand is
   *   finished (its records get their retries), the checkpoint is committed, and `run` returns.
   * @param abortSignal - Stops processing too: records not started yet are left undone (the
   *   checkpoint stays before them), retries and handlers are interrupted. Give it for a lost
   *   lease or a shutdown deadline. Without it a page, once read, is always finished.
   */
  async run(signal?: AbortSignal, abortSignal?: AbortSignal): Promise<ShardConsumerResult> {
    const lag = this.#lag;
    const untrack =
      this.#options.lag === undefined
        ? this.#metrics.track?.('iterator_age_ms', this.#labels, () => lag.valueAt(Date.now()))
        : undefined;
    try {
      return await this.#run(signal, abortSignal);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) lag.readFailed();
      throw error;
    } finally {
      untrack?.();
    }
  }

  async #run(
    signal: AbortSignal | undefined,
    abortSignal: AbortSignal | undefined,
  ): Promise<ShardConsumerResult> {
    const { source, shardId, from } = this.#options;
    const prefetch = this.#options.prefetch ?? DEFAULT_SHARD_CONSUMER.prefetch;
    this.#events?.emit('shard.started', {
      streamId: source.streamId,
      shardId,
      from: describeStart(from),
    });
    this.#log.info(
      { streamId: source.streamId, from: describeStart(from) },
      'shard consumer started',
    );
    const iterator = await source.openShard(shardId, from, signal);
    let recordsRead = 0;
    let lastDone: string | undefined;
    const read = () => {
      const page = this.#read(() => iterator.next(signal), signal, iterator.pushed === true);
      // A prefetch may fail while the page before it is processed, before anything awaits it:
      // mark it handled now (it is awaited, and rethrows, in turn), so the failure ends this
      // run instead of crashing the process as an unhandled rejection.
      page.catch(() => undefined);
      return page;
    };
    let pending: Promise<ShardReadResult | undefined> | undefined = read();
    try {
      while (pending) {
        const page = await pending;
        pending = undefined;
        if (!page) break; // stopped while reading
        if (prefetch && !page.shardEnded && !signal?.aborted) pending = read();
        recordsRead += page.records.length;
        if (page.records.length > 0) {
          const done = await this.#processUntilDone(page.records, signal, abortSignal);
          if (done === undefined) break; // stopped with records unfinished
          lastDone = done;
        }
        // Also on empty pages: the tail of a shard that went idle is committed on the interval,
        // not only at shutdown.
        await this.#tracker.maybeCommit();
        if (page.shardEnded) {
          await this.#tracker.commit();
          await this.#tracker.commitSentinel('SHARD_END');
          this.#events?.emit('checkpoint.committed', {
            streamId: source.streamId,
            shardId,
            position: 'SHARD_END',
          });
          this.#events?.emit('shard.ended', {
            streamId: source.streamId,
            shardId,
            lastSequenceNumber: lastDone,
          });
          this.#log.info(
            { lastSequenceNumber: lastDone, childShardIds: page.childShardIds },
            'shard ended',
          );
          return {
            ended: true,
            childShardIds: page.childShardIds ?? [],
            lastSequenceNumber: lastDone,
            recordsRead,
          };
        }
        if (!pending && !signal?.aborted) pending = read();
      }
      await this.#commit();
      return { ended: false, childShardIds: [], lastSequenceNumber: lastDone, recordsRead };
    } catch (error) {
      // Let a prefetch in flight settle so nothing runs after we return.
      await pending?.catch(() => undefined);
      if (!(error instanceof LeaseLostError)) await this.#commit().catch(() => undefined);
      throw error;
    }
  }

  async #commit(): Promise<void> {
    const before = this.#tracker.committed;
    await this.#tracker.commit();
    const after = this.#tracker.committed;
    if (after !== before && after !== undefined && typeof after !== 'string') {
      this.#events?.emit('checkpoint.committed', {
        streamId: this.#options.source.streamId,
        shardId: this.#options.shardId,
        position: after,
      });
    }
  }

  /**
   * Processes a page; retries its unfinished records until all are done. Returns the last
   * sequence number, or `undefined` when stopped before everything was done.
   */
  async #processUntilDone(
    records: readonly ChangeRecord[],
    signal: AbortSignal | undefined,
    abortSignal: AbortSignal | undefined,
  ) {
    const tickets = records.map((r) => this.#tracker.register(r));
    let remaining = records.map((_, i) => i);
    this.#lag.pending(records[0]);
    for (let round = 1; ; round++) {
      const batch = remaining.map((i) => records[i]!);
      const result = await this.#options.processor.process(
        batch,
        abortSignal ? { signal: abortSignal } : {},
      );
      const next: number[] = [];
      for (let j = 0; j < batch.length; j++) {
        if (isDone(result.outcomes[j])) this.#tracker.markDone(tickets[remaining[j]!]!);
        else next.push(remaining[j]!);
      }
      if (next.length === 0) {
        this.#lag.pending(undefined);
        this.#pushLag();
        return records[records.length - 1]!.sequenceNumber;
      }
      const first = records[next[0]!]!;
      this.#lag.pending(first);
      this.#pushLag();
      const delayMs = this.#backoff.delayMs(round);
      this.#log.error(
        {
          sequenceNumber: first.sequenceNumber,
          orderingKey: first.orderingKey,
          unfinished: next.length,
          round,
          delayMs,
        },
        'records not done after the retry policy; the shard waits and tries them again (nothing is skipped)',
      );
      this.#metrics.increment('batch_retries_total', 1, this.#labels);
      await this.#commit();
      if (signal?.aborted) return undefined;
      try {
        await sleep(delayMs, signal);
      } catch {
        return undefined;
      }
      remaining = next;
    }
  }

  /**
   * One paced read, with backoff on throttling and retriable errors. `undefined` when stopped.
   * A pushed iterator (enhanced fan-out) is not paced: its `next` waits for the service's event.
   */
  async #read(
    call: () => Promise<ShardReadResult>,
    signal: AbortSignal | undefined,
    pushed: boolean,
  ): Promise<ShardReadResult | undefined> {
    const { source, shardId } = this.#options;
    const minInterval = this.#options.minReadIntervalMs ?? DEFAULT_SHARD_CONSUMER.minReadIntervalMs;
    for (let attempt = 1; ; attempt++) {
      // Both intervals count from the start of the previous read, so an idle shard costs
      // exactly 1000 / idlePollIntervalMs reads per second however long a read takes.
      const wait = pushed
        ? 0
        : this.#lastReadAt + Math.max(minInterval, this.#idleDelayMs) - Date.now();
      try {
        if (wait > 0) await sleep(wait, signal);
      } catch {
        return undefined;
      }
      if (signal?.aborted) return undefined;
      this.#lastReadAt = Date.now();
      try {
        const page = await call();
        this.#afterRead(page);
        return page;
      } catch (error) {
        if (signal?.aborted) return undefined;
        if (!this.#backoff.shouldRetry(error, attempt)) throw error;
        const delayMs = this.#backoff.delayMs(attempt);
        const e = error as { operation?: unknown; code?: unknown; name?: unknown };
        const operation = [e.code, e.name, e.operation].find((v) => typeof v === 'string') as
          | string
          | undefined;
        this.#events?.emit('shard.throttled', {
          streamId: source.streamId,
          shardId,
          delayMs,
          operation: operation ?? 'GetRecords',
        });
        this.#metrics.increment('read_throttled_total', 1, this.#labels);
        this.#lag.readFailed();
        this.#pushLag();
        this.#log.warn(
          { err: toError(error), attempt, delayMs },
          'shard read failed with a retriable error; backing off',
        );
        try {
          await sleep(delayMs, signal);
        } catch {
          return undefined;
        }
      }
    }
  }

  #afterRead(page: ShardReadResult): void {
    const { source, shardId } = this.#options;
    const base =
      this.#options.idlePollIntervalMs ??
      this.#options.idleDelayMs ??
      DEFAULT_SHARD_CONSUMER.idlePollIntervalMs;
    const max = this.#options.maxIdleDelayMs ?? base;
    // An empty shard is polled every `base` ms (growing to `max` when that is larger), a busy
    // or lagging one at once.
    if (page.records.length === 0 && !page.shardEnded) {
      this.#idleDelayMs = Math.min(max, this.#idleDelayMs === 0 ? base : this.#idleDelayMs * 2);
    } else {
      this.#idleDelayMs = 0;
    }
    this.#lag.read(page.millisBehindLatest, Date.now());
    this.#pushLag();
    if (page.records.length > 0) {
      let bytes = 0;
      for (const r of page.records) bytes += r.sizeBytes;
      this.#metrics.increment('records_read_total', page.records.length, this.#labels);
      this.#events?.emit('records.fetched', {
        streamId: source.streamId,
        shardId,
        count: page.records.length,
        bytes,
        millisBehindLatest: page.millisBehindLatest,
      });
    }
  }

  /** Metrics that cannot sample at collection time get the lag pushed as it changes. */
  #pushLag(): void {
    if (this.#metrics.track) return;
    const value = this.#lag.valueAt(Date.now());
    if (value !== undefined) this.#metrics.gauge('iterator_age_ms', value, this.#labels);
  }
}

function describeStart(from: StartPosition): string {
  switch (from.type) {
    case 'AFTER_SEQUENCE_NUMBER':
    case 'AT_SEQUENCE_NUMBER':
      return `${from.type}:${from.sequenceNumber}${'subSequenceNumber' in from && from.subSequenceNumber !== undefined ? `:${from.subSequenceNumber}` : ''}`;
    case 'AT_TIMESTAMP':
      return `AT_TIMESTAMP:${from.timestamp.toISOString()}`;
    default:
      return from.type;
  }
}
