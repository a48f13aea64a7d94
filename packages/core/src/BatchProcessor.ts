import { type AbortFlag, LazyAbort, watchAbort } from './abortFlag.js';
import type { ChangeRecord } from './ChangeRecord.js';
import type { CheckpointTracker } from './CheckpointTracker.js';
import {
  ChangeEffect,
  type FailedRecord,
  type FailureDestination,
  type Sink,
  type SinkRecordResult,
} from './contracts.js';
import { Deadline } from './Deadline.js';
import { Deduper, type DuplicateReason, type StaleChanges } from './Deduper.js';
import { ConfigurationError, isRetriable, ShardlineError, toError } from './errors.js';
import type { EventBus } from './events.js';
import { itemKey } from './itemKey.js';
import { KeyedDispatcher } from './KeyedDispatcher.js';
import { type Logger, silentLogger } from './Logger.js';
import { type Metrics, noopMetrics } from './metrics.js';
import {
  ABORTED,
  blockedBehind,
  FailedKeys,
  isDone,
  type RecordOutcome,
  SUCCEEDED,
} from './RecordOutcome.js';
import {
  type FilterReason,
  type RecordSelectionOptions,
  RecordSelector,
  reportFiltered,
} from './RecordSelector.js';
import { RetryPolicy, type RetryPolicyOptions, sleep } from './RetryPolicy.js';
import { tracedBatch } from './tracedBatch.js';

/** What a handler is told besides the record. */
export interface HandlerContext {
  /** 1 on the first try, then 2, 3, … */
  readonly attempt: number;
  readonly signal: AbortSignal | undefined;
}

/** Applies one change. Throwing fails the record; the retry policy decides what follows. */
export type RecordHandler = (record: ChangeRecord, context: HandlerContext) => unknown;

/**
 * Applies every change of one ordering key in the batch at once, in order (a per-key batch
 * handler). Throwing fails the whole group.
 */
export type KeyBatchHandler = (records: ChangeRecord[], context: HandlerContext) => unknown;

/**
 * Options of a {@link BatchProcessor}: give exactly one of `handler`, `keyBatchHandler`, `sink`.
 * `filters`, `ttlDeletes` and `globalTables` (see {@link RecordSelectionOptions}) choose, before
 * any of them runs, which records they get.
 */
export interface BatchProcessorOptions extends RecordSelectionOptions {
  /** Called once per record, serially within a key, concurrently across keys. */
  readonly handler?: RecordHandler;
  /** Called once per key with that key's records of the batch. */
  readonly keyBatchHandler?: KeyBatchHandler;
  /** Receives the batch in shard order and reports a result per record. */
  readonly sink?: Sink;
  /** Keys processed at once (handler modes). @default 10 */
  readonly concurrency?: number;
  /** Retries, backoff, record age limit, bisect, and what to do when a record gives out. */
  readonly retry?: RetryPolicy | RetryPolicyOptions;
  /** Where records go when the retry policy parks them. */
  readonly failureDestination?: FailureDestination;
  /**
   * What a change does to the target of the handler or sink (see {@link ChangeEffect}). With
   * `last-writer-wins` the deduper also drops a change older than the newest applied change of
   * the same item (`stale`); otherwise every change is applied, as delta targets (counters)
   * need. Overrides the sink's own `effect`.
   * @default the sink's `effect`, else 'every-change' (nothing is dropped as stale)
   */
  readonly effect?: ChangeEffect;
  /**
   * Drops redelivered records (same event id), and stale ones for a last-writer-wins `effect`;
   * `false` turns de-duplication off. @default new Deduper()
   */
  readonly deduper?: Deduper | false;
  /**
   * Which done records the deduper remembers, for what the source sends again:
   *
   * - `every-record`: each record once it is done, so a record that the source sends twice
   *   within the window is dropped, whatever sent it: for a caller that may pass a done record
   *   again (a reading loop of your own that re-reads from an older position).
   * - `redelivered`: what a Lambda event source mapping sends again, which is everything from
   *   the reported checkpoint on. Also right under a `ShardConsumer` (the worker uses it),
   *   which passes each record once and retries only the records not done. A batch that
   *   leaves a record unfinished, or whose `signal` was aborted (the caller may have answered
   *   before it ended), has its succeeded records remembered when it ends: all of them, not
   *   only those after the first unfinished one, since the checkpoint may be the Lambda record
   *   of a KPL aggregate whose earlier user records succeeded. A batch that finishes every record is not remembered: the mapping moves past
   *   it. Parked records, and records of sources that repeat changes (those with a `version`:
   *   "Kinesis Data Streams for DynamoDB"), are remembered as soon as they are done, as with
   *   `every-record`; so is every record that finishes once `signal` is aborted (the caller may
   *   have answered, and the source may send it again before the batch ends). A healthy stream
   *   then keeps the event id window empty and pays nothing for it.
   * @default 'every-record'
   */
  readonly remember?: 'every-record' | 'redelivered';
  readonly events?: EventBus;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
}

/** Per-call options of {@link BatchProcessor.process}. */
export interface ProcessOptions {
  /**
   * Stops the batch: no record starts once it aborts, and handlers, sinks and retries are handed
   * it. A {@link LazyAbort} makes its `AbortSignal` only if one of them reads it.
   */
  readonly signal?: AbortSignal | LazyAbort;
  /**
   * Epoch ms by which `process` must return (Lambda: now + remaining time − margin). No new
   * record starts and no retry is scheduled past it; unstarted records come back `blocked`.
   */
  readonly deadline?: number;
  /** Registers the records and marks the done ones, so the shard's checkpoint can move. */
  readonly tracker?: CheckpointTracker;
}

/** After a failed attempt: try again, give up (attempts used up), or stop for lack of time. */
type RetryDecision = 'retry' | 'exhausted' | 'out-of-time';

/** What one `process` call runs under: the caller's signal and its deadline, made cheap to check. */
interface RunOptions {
  readonly signal: AbortSignal | undefined;
  /** `signal.aborted`, followed while the call runs (read once per record). */
  readonly abort: AbortFlag;
  readonly deadline: Deadline | undefined;
}

const DEADLINE_BLOCKED: RecordOutcome = Object.freeze({ status: 'blocked', reason: 'deadline' });

/** The result of one batch. */
export interface BatchResult {
  /** One outcome per record, in the order given. */
  readonly outcomes: RecordOutcome[];
  /** Index of the first record that is not done (the checkpoint stops before it), or -1. */
  readonly firstNotDone: number;
  readonly succeeded: number;
  readonly duplicates: number;
  readonly parked: number;
  readonly failed: number;
  readonly blocked: number;
  /** Records left out by `filters`, `ttlDeletes: 'skip'` or `globalTables` (done). */
  readonly filtered: number;
}

/**
 * The core pipeline: dedup → keyed dispatch (or a sink write) → retries with backoff → bisect →
 * failure destination → checkpoint. One instance serves many batches; its deduper remembers
 * across them.
 *
 * @example
 * const processor = new BatchProcessor({ handler: async (r) => index(r), concurrency: 16 });
 * const result = await processor.process(records, { tracker });
 */
export class BatchProcessor {
  readonly #handler: RecordHandler | undefined;
  readonly #keyBatchHandler: KeyBatchHandler | undefined;
  readonly #sink: Sink | undefined;
  readonly #dispatcher: KeyedDispatcher;
  readonly #retry: RetryPolicy;
  readonly #failureDestination: FailureDestination | undefined;
  readonly #deduper: Deduper | undefined;
  readonly #staleChanges: StaleChanges;
  /** Whether each succeeded record is remembered at once (`remember: 'every-record'`). */
  readonly #rememberEach: boolean;
  readonly #events: EventBus | undefined;
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  /** Filters, TTL and global tables choices; absent when none is configured. */
  readonly #selector: RecordSelector | undefined;
  /** Writes the records `ttlDeletes: { routeTo }` sends to its sink. */
  readonly #route: BatchProcessor | undefined;

  constructor(options: BatchProcessorOptions) {
    const modes = [options.handler, options.keyBatchHandler, options.sink].filter(
      (m) => m !== undefined,
    );
    if (modes.length !== 1) {
      throw new ConfigurationError(
        `Give exactly one of handler, keyBatchHandler or sink (got ${modes.length}).`,
      );
    }
    this.#handler = options.handler;
    this.#keyBatchHandler = options.keyBatchHandler;
    this.#sink = options.sink;
    this.#dispatcher = new KeyedDispatcher({ concurrency: options.concurrency });
    this.#retry =
      options.retry instanceof RetryPolicy ? options.retry : new RetryPolicy(options.retry);
    this.#failureDestination = options.failureDestination;
    this.#deduper = options.deduper === false ? undefined : (options.deduper ?? new Deduper());
    this.#staleChanges = staleChangesOf(options);
    const remember = options.remember ?? 'every-record';
    if (remember !== 'every-record' && remember !== 'redelivered') {
      throw new ConfigurationError(
        `remember must be 'every-record' or 'redelivered', got ${JSON.stringify(remember)}.`,
      );
    }
    this.#rememberEach = remember === 'every-record';
    this.#events = options.events;
    this.#metrics = options.metrics ?? noopMetrics;
    this.#logger = options.logger ?? silentLogger;
    this.#selector = RecordSelector.from(options);
    const routeTo = this.#selector?.routeTo;
    this.#route = routeTo
      ? new BatchProcessor({
          sink: routeTo,
          retry: this.#retry,
          ...(options.failureDestination ? { failureDestination: options.failureDestination } : {}),
          // Its own memory: a routed delete must never count as a newer change of the main target.
          deduper: this.#deduper ? new Deduper() : false,
          ...(options.events ? { events: options.events } : {}),
          metrics: this.#metrics,
          logger: this.#logger,
        })
      : undefined;
  }

  /**
   * Processes one batch of one shard, given in shard order. Never throws for record failures.
   * With `@opentelemetry/api` installed, the batch runs in a `shardline.batch` span.
   */
  process(records: readonly ChangeRecord[], options: ProcessOptions = {}): Promise<BatchResult> {
    return tracedBatch(records, () => this.#process(records, options));
  }

  async #process(records: readonly ChangeRecord[], options: ProcessOptions): Promise<BatchResult> {
    const started = Date.now();
    const tracker = options.tracker;
    const firstTicket = tracker ? tracker.registerBatch(records) : 0;
    const given = options.signal;
    const abort = watchAbort(given);
    const deadline = options.deadline === undefined ? undefined : new Deadline(options.deadline);
    const runOptions: RunOptions =
      given instanceof LazyAbort
        ? {
            // Read where handed on (a handler's context, a sink write, a backoff): made then.
            get signal() {
              return given.signal;
            },
            abort: abort.flag,
            deadline,
          }
        : { signal: given, abort: abort.flag, deadline };
    let outcomes: RecordOutcome[];
    try {
      outcomes = this.#selector
        ? await this.#runSelected(this.#selector, records, runOptions)
        : await this.#run(records, runOptions);
    } finally {
      abort.stop();
    }

    let succeeded = 0;
    let duplicates = 0;
    let parked = 0;
    let failed = 0;
    let blocked = 0;
    let filtered = 0;
    let firstNotDone = -1;
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i]!;
      if (isDone(outcome)) tracker?.markDone(firstTicket + i);
      else if (firstNotDone === -1) firstNotDone = i;
      switch (outcome.status) {
        case 'succeeded':
          succeeded++;
          break;
        case 'duplicate':
          duplicates++;
          break;
        case 'parked':
          parked++;
          break;
        case 'failed':
          failed++;
          break;
        case 'blocked':
          blocked++;
          break;
        case 'filtered':
          filtered++;
          break;
      }
    }
    if (!this.#rememberEach && (firstNotDone !== -1 || abort.flag.aborted)) {
      this.#rememberRedelivered(records, outcomes);
    }
    const durationMs = Date.now() - started;
    const shardId = records[0]?.shardId ?? '';
    const labels = { stream: records[0]?.streamId ?? '', shard: shardId };
    this.#metrics.increment('records_in_total', records.length, labels);
    this.#metrics.increment('records_out_total', succeeded, labels);
    if (duplicates) this.#metrics.increment('records_duplicate_total', duplicates, labels);
    if (parked) this.#metrics.increment('records_parked_total', parked, labels);
    if (failed) this.#metrics.increment('records_failed_total', failed, labels);
    this.#metrics.observe('batch_duration_ms', durationMs, labels);
    this.#events?.emit('batch.processed', {
      shardId,
      records: records.length,
      succeeded,
      failed,
      parked,
      blocked,
      durationMs,
    });
    return { outcomes, firstNotDone, succeeded, duplicates, parked, failed, blocked, filtered };
  }

  /**
   * Remembers a succeeded record now (`every-record`, a source that repeats changes, or a batch
   * its caller gave up on: once `signal` is aborted the caller may have answered, and the source
   * may send the record again before this batch ends), or leaves it to the end of the batch
   * (`redelivered`, see {@link #rememberRedelivered}).
   */
  #rememberSucceeded(record: ChangeRecord, abort: AbortFlag, eventKey?: string): void {
    if (this.#rememberEach || record.version !== undefined || abort.aborted) {
      this.#deduper?.remember(record, eventKey);
    }
  }

  /**
   * `remember: 'redelivered'`: remembers the succeeded records that were left to the end of a
   * batch the source sends again. A routed TTL delete is remembered here too, though its own
   * processor checks it: an id the main checks never meet.
   */
  #rememberRedelivered(records: readonly ChangeRecord[], outcomes: readonly RecordOutcome[]): void {
    const deduper = this.#deduper;
    if (!deduper) return;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (outcomes[i]!.status === 'succeeded' && record.version === undefined) {
        deduper.remember(record);
      }
    }
  }

  /**
   * Forgets that `record` was applied: its write did not become durable (a buffering sink's
   * flush failed), so its redelivery must be applied again, not dropped as seen. A TTL delete
   * that `ttlDeletes: { routeTo }` sends to its own sink is forgotten by that route's deduper,
   * which is the one that checks it.
   */
  forget(record: ChangeRecord): void {
    this.#deduper?.forget(record);
    if (this.#route && this.#selector?.select(record) === 'route') {
      this.#route.#deduper?.forget(record);
    }
  }

  /** Runs `records` through the handler, per-key handler or sink. */
  #run(records: readonly ChangeRecord[], runOptions: RunOptions): Promise<RecordOutcome[]> {
    if (this.#sink) return this.#processWithSink(this.#sink, records, runOptions);
    if (this.#keyBatchHandler)
      return this.#processGroups(this.#keyBatchHandler, records, runOptions);
    return this.#processRecords(this.#handler!, records, runOptions);
  }

  // ─── record selection (filters, TTL deletes, global tables) ───────────────────────────

  /**
   * Leaves out the records the selector filters (done at once), runs the kept ones, then the
   * routed TTL deletes through the route's sink. The route is its own target: its records keep
   * their order among themselves, and a failure there holds the checkpoint like any other.
   */
  async #runSelected(
    selector: RecordSelector,
    records: readonly ChangeRecord[],
    runOptions: RunOptions,
  ): Promise<RecordOutcome[]> {
    const outcomes = new Array<RecordOutcome>(records.length);
    // `kept` stays undefined while every record so far is kept: no index list on the common path.
    let kept: number[] | undefined;
    const routed: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const selection = selector.select(record);
      if (selection === 'keep') {
        kept?.push(i);
        continue;
      }
      kept ??= Array.from({ length: i }, (_, j) => j);
      if (selection === 'route') routed.push(i);
      else outcomes[i] = this.#filtered(record, selection);
    }
    const strip = selector.stripsReplicationAttributes;
    if (kept === undefined || kept.length > 0) {
      const batch =
        kept === undefined
          ? strip
            ? records.map((r) => selector.view(r))
            : records
          : kept.map((i) => (strip ? selector.view(records[i]!) : records[i]!));
      const ran = await this.#run(batch, runOptions);
      if (kept === undefined) for (let j = 0; j < ran.length; j++) outcomes[j] = ran[j]!;
      else for (let j = 0; j < kept.length; j++) outcomes[kept[j]!] = ran[j]!;
    }
    if (routed.length > 0) {
      const route = this.#route!;
      const ran = await route.#run(
        routed.map((i) => records[i]!),
        runOptions,
      );
      for (let j = 0; j < routed.length; j++) outcomes[routed[j]!] = ran[j]!;
    }
    return outcomes;
  }

  #filtered(record: ChangeRecord, reason: FilterReason): RecordOutcome {
    return reportFiltered(record, reason, { metrics: this.#metrics, events: this.#events });
  }

  // ─── handler mode ─────────────────────────────────────────────────────────────────────

  #processRecords(handler: RecordHandler, records: readonly ChangeRecord[], options: RunOptions) {
    const { abort, deadline } = options;
    const deduper = this.#deduper;
    // One context for every first attempt of the batch: no allocation per record.
    const firstAttempt: HandlerContext = Object.freeze({
      attempt: 1,
      get signal() {
        return options.signal;
      },
    });
    const run = (record: ChangeRecord): RecordOutcome | Promise<RecordOutcome> => {
      if (deadline?.reached()) return DEADLINE_BLOCKED;
      if (record.decodeError) return this.#exhausted(record, record.decodeError, 1, options);
      // Kept from the check to the remember (other records are checked while this one runs),
      // when every record is remembered; with `redelivered` most never are, and the key (a packed
      // Kinesis id) is built only if the window or a remember needs it.
      let eventKey: string | undefined;
      if (deduper) {
        if (this.#rememberEach) eventKey = deduper.keyOf(record);
        const reason = deduper.check(record, this.#staleChanges, eventKey);
        if (reason) return this.#duplicate(record, reason);
      }
      let result: unknown;
      try {
        result = handler(record, firstAttempt);
      } catch (error) {
        return this.#retryRecord(handler, record, error, options);
      }
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        return (result as Promise<unknown>).then(
          () => {
            if (deduper) this.#rememberSucceeded(record, abort, eventKey);
            return SUCCEEDED;
          },
          (error: unknown) => this.#retryRecord(handler, record, error, options),
        );
      }
      if (deduper) this.#rememberSucceeded(record, abort, eventKey);
      return SUCCEEDED;
    };
    return this.#dispatcher.dispatch(records, run, abort);
  }

  async #retryRecord(
    handler: RecordHandler,
    record: ChangeRecord,
    firstError: unknown,
    options: RunOptions,
  ): Promise<RecordOutcome> {
    let error = firstError;
    let attempt = 1;
    for (;;) {
      const next = await this.#waitBeforeRetry(record, error, attempt, options);
      // Out of time is not out of attempts: leave it failed (redelivered), never parked early.
      if (next === 'out-of-time')
        return { status: 'failed', error: toError(error), attempts: attempt };
      if (next === 'exhausted') return this.#exhausted(record, toError(error), attempt, options);
      const applied = this.#appliedMeanwhile(record);
      if (applied) return applied;
      attempt++;
      try {
        await handler(record, { attempt, signal: options.signal });
        this.#rememberSucceeded(record, options.abort);
        return SUCCEEDED;
      } catch (thrown) {
        error = thrown;
      }
    }
  }

  // ─── per-key batch mode ───────────────────────────────────────────────────────────────

  #processGroups(handler: KeyBatchHandler, records: readonly ChangeRecord[], options: RunOptions) {
    return this.#dispatcher.dispatchGroups(
      records,
      async (group) => {
        const outcomes = new Array<RecordOutcome>(group.length);
        if (options.deadline?.reached()) return outcomes.fill(DEADLINE_BLOCKED);
        const live: number[] = [];
        // A source may repeat a change within one batch ("Kinesis Data Streams for DynamoDB"):
        // both copies share the key, so the group holds both, none of them applied yet.
        const seenInGroup = this.#deduper && group.length > 1 ? new Set<string>() : undefined;
        for (let i = 0; i < group.length; i++) {
          const undecodable = group[i]!.decodeError;
          if (undecodable) {
            // Per-key order: nothing after an undecodable record of this key runs in this batch.
            outcomes[i] = await this.#exhausted(group[i]!, undecodable, 1, options);
            if (outcomes[i]!.status === 'failed') {
              for (let j = i + 1; j < group.length; j++) {
                outcomes[j] = blockedBehind(group[i]!.sequenceNumber);
              }
              break;
            }
            continue;
          }
          let reason = this.#deduper?.check(group[i]!, this.#staleChanges);
          if (!reason && seenInGroup) {
            const eventId = group[i]!.eventId;
            if (seenInGroup.has(eventId)) reason = 'seen';
            else seenInGroup.add(eventId);
          }
          if (reason) outcomes[i] = this.#duplicate(group[i]!, reason);
          else live.push(i);
        }
        if (live.length === 0) return outcomes;
        let liveRecords = live.map((i) => group[i]!);
        let attempt = 0;
        let error: unknown;
        let next: RetryDecision = 'retry';
        while (next === 'retry') {
          if (attempt > 0 && this.#deduper) {
            // Drop what another call applied meanwhile (see #appliedMeanwhile).
            for (let j = live.length - 1; j >= 0; j--) {
              const applied = this.#appliedMeanwhile(liveRecords[j]!);
              if (!applied) continue;
              outcomes[live[j]!] = applied;
              live.splice(j, 1);
            }
            if (live.length === 0) return outcomes;
            liveRecords = live.map((i) => group[i]!);
          }
          attempt++;
          try {
            await handler(liveRecords, { attempt, signal: options.signal });
            for (const i of live) {
              this.#rememberSucceeded(group[i]!, options.abort);
              outcomes[i] = SUCCEEDED;
            }
            return outcomes;
          } catch (thrown) {
            error = thrown;
          }
          next = await this.#waitBeforeRetry(liveRecords[0]!, error, attempt, options);
        }
        const first: RecordOutcome =
          next === 'out-of-time'
            ? { status: 'failed', error: toError(error), attempts: attempt }
            : await this.#exhausted(liveRecords[0]!, toError(error), attempt, options);
        outcomes[live[0]!] = first;
        for (let j = 1; j < live.length; j++) {
          outcomes[live[j]!] =
            first.status === 'parked'
              ? await this.#exhausted(liveRecords[j]!, toError(error), attempt, options)
              : blockedBehind(liveRecords[0]!.sequenceNumber);
        }
        return outcomes;
      },
      options.abort,
    );
  }

  // ─── sink mode ────────────────────────────────────────────────────────────────────────

  async #processWithSink(sink: Sink, records: readonly ChangeRecord[], options: RunOptions) {
    const outcomes = new Array<RecordOutcome>(records.length);
    // Duplicates are found before the write; within the batch too (a source may repeat itself).
    const live: number[] = [];
    const seenInBatch = new Set<string>();
    // Per item, never per ordering key: a custom ordering key may group several items.
    const newestInBatch = this.#staleChanges === 'drop' ? new Map<string, bigint>() : undefined;
    // Each record's dedup key, kept from the check to the remember after the write when every
    // record is remembered (see #processRecords).
    const deduper = this.#deduper;
    const keys = deduper && this.#rememberEach ? new Array<string>(records.length) : undefined;
    // A key stops at its first record that stays failed, as in handler mode: its later records
    // are not written (blocked). Known before any write for an undecodable record, and after
    // each chunk for a failed write; within one write the sink gets the key's records together.
    let failedKeys: FailedKeys | undefined;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const blocked = failedKeys?.blocked(record.orderingKey);
      if (blocked) {
        outcomes[i] = blocked;
        continue;
      }
      if (record.decodeError) {
        outcomes[i] = await this.#exhausted(record, record.decodeError, 1, options);
        if (outcomes[i]!.status === 'failed') {
          failedKeys ??= new FailedKeys();
          failedKeys.add(record);
        }
        continue;
      }
      let reason: DuplicateReason;
      if (deduper) {
        const key = keys ? deduper.keyOf(record) : undefined;
        if (keys) keys[i] = key!;
        reason = deduper.check(record, this.#staleChanges, key);
      }
      if (!reason && deduper) {
        if (seenInBatch.has(record.eventId)) reason = 'seen';
        else if (newestInBatch && record.version !== undefined) {
          const item = itemKey(record);
          const newest = item === undefined ? undefined : newestInBatch.get(item);
          if (newest !== undefined && record.version < newest) reason = 'stale';
          else if (item !== undefined) newestInBatch.set(item, record.version);
        }
        seenInBatch.add(record.eventId);
      }
      if (reason) outcomes[i] = this.#duplicate(record, reason);
      else live.push(i);
    }
    const chunkSize = sink.maxBatchSize ?? Number.POSITIVE_INFINITY;
    // With `redelivered` (Lambda), a call of an invocation answered at the time limit may apply
    // a record of a later chunk while the earlier chunks are written: checked again.
    const recheck = deduper !== undefined && !this.#rememberEach;
    for (let start = 0; start < live.length; start += chunkSize) {
      let chunk = live.slice(start, start + chunkSize);
      if (options.deadline?.reached()) {
        for (const i of live.slice(start)) outcomes[i] = DEADLINE_BLOCKED;
        break;
      }
      // The caller gave up (during an earlier chunk's write or backoff): write no more.
      if (options.abort.aborted) {
        for (const i of live.slice(start)) outcomes[i] = ABORTED;
        break;
      }
      if (failedKeys && start > 0) {
        const failed = failedKeys;
        chunk = chunk.filter((i) => {
          const blocked = failed.blocked(records[i]!.orderingKey);
          if (blocked) outcomes[i] = blocked;
          return !blocked;
        });
      }
      if (recheck && start > 0) {
        chunk = chunk.filter((i) => {
          const applied = this.#appliedMeanwhile(records[i]!, keys?.[i]);
          if (applied) outcomes[i] = applied;
          return !applied;
        });
      }
      if (chunk.length === 0) continue;
      await this.#writeWithRetry(sink, records, chunk, outcomes, options, keys);
      for (const i of chunk) {
        if (outcomes[i]!.status !== 'failed') continue;
        failedKeys ??= new FailedKeys();
        failedKeys.add(records[i]!);
      }
    }
    return outcomes;
  }

  async #writeWithRetry(
    sink: Sink,
    records: readonly ChangeRecord[],
    indexes: number[],
    outcomes: RecordOutcome[],
    options: RunOptions,
    keys: readonly string[] | undefined,
  ): Promise<void> {
    let pending = indexes;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const results = await this.#writeBisecting(sink, records, pending, attempt, options.signal);
      const retry: number[] = [];
      let lastError: Error | undefined;
      for (const index of pending) {
        const result = results.get(index)!;
        const record = records[index]!;
        if (result.status === 'ok') {
          this.#rememberSucceeded(record, options.abort, keys?.[index]);
          outcomes[index] = SUCCEEDED;
        } else if (
          result.retriable &&
          this.#retry.shouldRetry(result.error, attempt, record.approximateCreationTimeMs)
        ) {
          retry.push(index);
          lastError = result.error;
        } else {
          outcomes[index] = await this.#exhausted(record, result.error, attempt, options);
        }
      }
      if (retry.length === 0) return;
      const delayMs = this.#retry.delayMs(attempt);
      const failRetries = (): void => {
        for (const index of retry) {
          outcomes[index] = { status: 'failed', error: toError(lastError), attempts: attempt };
        }
      };
      if (!this.#timeAllows(delayMs, options)) {
        failRetries();
        return;
      }
      for (const index of retry) {
        this.#emitRetried(records[index]!, attempt, delayMs, lastError!);
      }
      try {
        await sleep(delayMs, options.signal);
      } catch {
        // The caller gave up during the backoff: the records stay failed (their keys blocked,
        // the checkpoint before them) and the batch still returns its outcomes.
        failRetries();
        return;
      }
      // Drop what another call applied meanwhile (see #appliedMeanwhile).
      pending = this.#deduper
        ? retry.filter((index) => {
            const applied = this.#appliedMeanwhile(records[index]!, keys?.[index]);
            if (applied) outcomes[index] = applied;
            return !applied;
          })
        : retry;
    }
  }

  /** Writes `indexes`; when the whole write throws, splits it in halves down to single records. */
  async #writeBisecting(
    sink: Sink,
    records: readonly ChangeRecord[],
    indexes: number[],
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<Map<number, SinkRecordResult>> {
    const results = new Map<number, SinkRecordResult>();
    try {
      const batch = indexes.map((i) => records[i]!);
      const written = await sink.write(batch, { attempt, signal });
      if (written.length !== batch.length) {
        throw new ShardlineError(
          `Sink ${sink.name} returned ${written.length} results for ${batch.length} records; a sink must return one result per record.`,
        );
      }
      for (let i = 0; i < indexes.length; i++) results.set(indexes[i]!, written[i]!);
    } catch (thrown) {
      const error = toError(thrown);
      if (this.#retry.bisectOnError && indexes.length > 1) {
        const middle = Math.ceil(indexes.length / 2);
        for (const half of [indexes.slice(0, middle), indexes.slice(middle)]) {
          for (const [k, v] of await this.#writeBisecting(sink, records, half, attempt, signal))
            results.set(k, v);
        }
      } else {
        const failed: SinkRecordResult = {
          status: 'failed',
          error,
          retriable: isRetriable(thrown),
        };
        for (const index of indexes) results.set(index, failed);
      }
    }
    return results;
  }

  // ─── shared ───────────────────────────────────────────────────────────────────────────

  /**
   * Before a retry: the `duplicate` outcome of a record that another call applied (or parked)
   * while this one waited, else `undefined`. That other call is one a Lambda invocation answered
   * without at the time limit, still running when Lambda sent the record again.
   */
  #appliedMeanwhile(record: ChangeRecord, eventKey?: string): RecordOutcome | undefined {
    const reason = this.#deduper?.check(record, this.#staleChanges, eventKey);
    return reason ? this.#duplicate(record, reason) : undefined;
  }

  /** After attempt `attempt` failed: waits the backoff and says whether to try again. */
  async #waitBeforeRetry(
    record: ChangeRecord,
    error: unknown,
    attempt: number,
    options: RunOptions,
  ): Promise<RetryDecision> {
    if (!this.#retry.shouldRetry(error, attempt, record.approximateCreationTimeMs))
      return 'exhausted';
    const delayMs = this.#retry.delayMs(attempt);
    if (!this.#timeAllows(delayMs, options)) return 'out-of-time';
    this.#emitRetried(record, attempt, delayMs, toError(error));
    try {
      await sleep(delayMs, options.signal);
    } catch {
      return 'out-of-time';
    }
    return 'retry';
  }

  #timeAllows(delayMs: number, options: RunOptions): boolean {
    if (options.abort.aborted) return false;
    return options.deadline === undefined || options.deadline.allows(delayMs);
  }

  #emitRetried(record: ChangeRecord, attempt: number, delayMs: number, error: Error): void {
    this.#metrics.increment('records_retried_total', 1, {
      stream: record.streamId,
      shard: record.shardId,
    });
    this.#events?.emit('record.retried', {
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      attempt,
      delayMs,
      error,
    });
  }

  #duplicate(record: ChangeRecord, reason: 'seen' | 'stale'): RecordOutcome {
    this.#events?.emit('record.duplicate', {
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      reason,
    });
    return { status: 'duplicate', reason };
  }

  /** The record's attempts are used up: park it whole, or leave it failed (blocking its key). */
  async #exhausted(
    record: ChangeRecord,
    error: Error,
    attempts: number,
    options: RunOptions,
  ): Promise<RecordOutcome> {
    const log = this.#logger;
    const where = {
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      orderingKey: record.orderingKey,
      attempts,
    };
    const destination = this.#failureDestination;
    if (destination && this.#retry.exhaustedAction(true) === 'park') {
      try {
        await destination.send([toFailedRecord(record, error, attempts)], options.signal);
        log.warn(
          { ...where, err: error, destination: destination.name },
          'record parked in the failure destination',
        );
        this.#events?.emit('record.parked', { ...where, error });
        this.#deduper?.remember(record);
        return { status: 'parked', error, attempts };
      } catch (sendError) {
        log.error(
          { ...where, err: toError(sendError), destination: destination.name },
          'could not park the record in the failure destination; it stays failed and will be retried',
        );
      }
    }
    log.error(
      { ...where, err: error },
      'record failed; its key is blocked and the checkpoint stays before it',
    );
    this.#events?.emit('record.failed', { ...where, error });
    return { status: 'failed', error, attempts };
  }
}

/**
 * Whether a pipeline with these options drops stale changes: only when the handler's or sink's
 * effect is last-writer-wins (`options.effect`, else `sink.effect`). Every other target, and one
 * that says nothing, gets every change: dropping one is safe only where a newer state replaces
 * it, and losing a delta is not.
 */
export function staleChangesOf(options: {
  readonly effect?: ChangeEffect | undefined;
  readonly sink?: Pick<Sink, 'effect'> | undefined;
}): StaleChanges {
  const effect = options.effect ?? options.sink?.effect ?? ChangeEffect.EveryChange;
  if (!EFFECTS.includes(effect)) {
    throw new ConfigurationError(
      `effect must be one of ${EFFECTS.map((e) => `'${e}'`).join(', ')}, got ${JSON.stringify(effect)}${
        options.effect === undefined
          ? ` (from sink ${JSON.stringify((options.sink as Sink).name)})`
          : ''
      }.`,
    );
  }
  return effect === ChangeEffect.LastWriterWins ? 'drop' : 'apply';
}

const EFFECTS: readonly string[] = Object.values(ChangeEffect);

/**
 * Builds the {@link FailedRecord} a failure destination keeps: the whole record and why. A raw
 * record that has a `toJSON` (a polled Kinesis record computes its base64 `Data` there) is kept
 * in that form, so every destination, and a structured clone of it, holds plain data.
 */
export function toFailedRecord(record: ChangeRecord, error: Error, attempts: number): FailedRecord {
  return {
    record: jsonFormOf(record.raw),
    source: record.source,
    streamId: record.streamId,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: record.subSequenceNumber,
    orderingKey: record.orderingKey,
    error: { name: error.name, message: error.message, retriable: isRetriable(error) },
    attempts,
    failedAt: new Date().toISOString(),
  };
}

/** `value.toJSON()` for an object that has one, else `value` itself. */
function jsonFormOf(value: unknown): unknown {
  const toJSON = (value as { toJSON?: unknown } | null)?.toJSON;
  return typeof value === 'object' && typeof toJSON === 'function' ? toJSON.call(value) : value;
}

/** Runs one batch with a fresh {@link BatchProcessor}: the function facade for one-off use. */
export function processBatch(
  records: readonly ChangeRecord[],
  options: BatchProcessorOptions & ProcessOptions,
): Promise<BatchResult> {
  return new BatchProcessor(options).process(records, options);
}
