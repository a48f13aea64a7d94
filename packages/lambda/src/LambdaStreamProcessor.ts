import {
  BatchProcessor,
  type ChangeRecord,
  ConfigurationError,
  consoleWarningLogger,
  Deduper,
  type EventBus,
  type FailureDestination,
  type FilterReason,
  flushOfSinks,
  type KeyBatchHandler,
  LazyAbort,
  type Logger,
  type Metrics,
  type RecordHandler,
  type RecordOutcome,
  RecordSelector,
  RetryPolicy,
  reportFiltered,
  type Sink,
  type SinkRecordResult,
  type StaleChanges,
  SUCCEEDED,
  sleep,
  staleChangesOf,
  streamViewTypeError,
  toError,
  toFailedRecord,
  ttlRouteOf,
} from '@shardline/core';
import type { EventDecoder } from './EventDecoder.js';
import { type ItemIdentifiers, resolveBatchItemFailures } from './resolveBatchItemFailures.js';
import { type TimeBudget, timeBudget, validateTimeoutMargin } from './timeBudget.js';
import type {
  BatchItemFailure,
  LambdaHandlerOptions,
  LambdaTimeContext,
  StreamBatchResponse,
  StreamEvent,
  WindowHandler,
  WindowState,
} from './types.js';

/** One invocation's records, decoded, with what Lambda knows each one by. */
interface DecodedBatch {
  readonly records: ChangeRecord[];
  /** The `itemIdentifier` of each change record (its Lambda record's sequence number). */
  readonly identifiers: ItemIdentifiers;
  /** The shard of each change record, or `undefined` when all share one (the usual case). */
  readonly shardKeys: string[] | undefined;
}

const TIMED_OUT = Symbol('timed out');

/**
 * The engine behind every Shardline Lambda handler: decodes the event, runs it through core's
 * {@link BatchProcessor} (dedup, per-key order, retries, bisect, failure destination) within the
 * invocation's remaining time, and answers with the `batchItemFailures` that move Lambda's
 * checkpoint exactly to the first unfinished record.
 *
 * One instance lives for the life of the Lambda execution environment (it is created when the
 * handler module loads), so its deduper remembers applied records across warm invocations and a
 * redelivered tail is dropped instead of re-applied.
 */
export class LambdaStreamProcessor<S extends WindowState = WindowState> {
  readonly #decoders: ReadonlyMap<string, EventDecoder>;
  readonly #processor: BatchProcessor | undefined;
  readonly #windowHandler: WindowHandler<S> | undefined;
  readonly #sink: Sink | undefined;
  /** The sinks that need images the stream may not carry (checked on each batch's first record). */
  readonly #imageSinks: readonly Sink[];
  /** Flushes the sink and a TTL route's sink before answering; absent when none buffers. */
  readonly #flush: ((signal?: AbortSignal) => Promise<void>) | undefined;
  /** Filters, TTL and global tables choices (applied by the processor; also in window mode). */
  readonly #selector: RecordSelector | undefined;
  readonly #retry: RetryPolicy;
  readonly #reporting: { readonly metrics?: Metrics; readonly events?: EventBus };
  readonly #failureDestination: FailureDestination | undefined;
  readonly #timeoutMarginMs: number | undefined;
  readonly #logger: Logger;
  /** Shared with the processor; remembers done records across warm invocations. */
  readonly #deduper: Deduper | undefined;
  /** Whether the deduper drops stale changes too (a last-writer-wins handler or sink). */
  readonly #staleChanges: StaleChanges;
  /**
   * Records of the current invocation whose handler or sink write finished, the proof used when
   * time runs out (needed unless the deduper remembers every record once done). An array,
   * replaced per invocation, and made a Set only on that rare path: a push costs a few ns a
   * record where a Set's add cost about 40 (a WeakSet's, a third of the no-op throughput).
   */
  readonly #tracking = { done: [] as ChangeRecord[] };
  /** Whether the handler or sink is wrapped to fill `#tracking` (see the constructor). */
  readonly #tracked: boolean = false;
  /**
   * With a buffering sink: the work (calls, then the flush) of an invocation that answered at
   * the time limit, until it settles. What it remembered or forgot holds only once its flush
   * ended, and the flush takes what the sink buffered, this invocation's writes or the next's:
   * the next invocation waits for it (see #processBatch).
   */
  #leftover: Promise<unknown> | undefined;

  constructor(options: LambdaHandlerOptions<S>, decoders: readonly EventDecoder[]) {
    const modes = (['handler', 'keyBatchHandler', 'sink', 'windowHandler'] as const).filter(
      (name) => options[name] !== undefined,
    );
    if (modes.length !== 1) {
      throw new ConfigurationError(
        `Give exactly one of handler, keyBatchHandler, sink or windowHandler to the Lambda handler (got ${
          modes.length === 0 ? 'none' : modes.join(', ')
        }).`,
      );
    }
    validateTimeoutMargin(options.timeoutMarginMs);
    this.#decoders = new Map(decoders.map((d) => [d.eventSource, d]));
    this.#retry =
      options.retry instanceof RetryPolicy ? options.retry : new RetryPolicy(options.retry);
    this.#failureDestination = options.failureDestination;
    this.#timeoutMarginMs = options.timeoutMarginMs;
    this.#logger = options.logger ?? consoleWarningLogger({ component: 'shardline-lambda' });
    this.#windowHandler = options.windowHandler;
    this.#sink = options.sink;
    this.#imageSinks = [options.sink, ttlRouteOf(options.ttlDeletes)].filter(
      (s): s is Sink => s?.requiredStreamViewTypes !== undefined,
    );
    this.#flush = flushOfSinks(options.sink, ttlRouteOf(options.ttlDeletes));
    this.#selector = RecordSelector.from(options);
    this.#reporting = {
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.events ? { events: options.events } : {}),
    };
    if (options.windowHandler && this.#selector?.routeTo) {
      throw new ConfigurationError(
        "ttlDeletes: { routeTo } needs handler, keyBatchHandler or sink; a windowHandler folds every record into its state. Use ttlDeletes: 'skip', or test record.isTtlDelete in the window handler.",
      );
    }
    this.#staleChanges = staleChangesOf(options);
    if (!options.windowHandler) {
      this.#deduper = options.deduper === false ? undefined : (options.deduper ?? new Deduper());
      const remember = options.remember ?? 'redelivered';
      // Proof of what finished, needed when time runs out: the deduper, when it remembers every
      // record once done; otherwise the handler or sink is wrapped to keep it.
      this.#tracked = !this.#deduper || remember !== 'every-record';
      this.#processor = new BatchProcessor({
        ...options,
        retry: this.#retry,
        logger: this.#logger,
        deduper: this.#deduper ?? false,
        remember,
        ...(this.#tracked ? this.#trackedMode(options) : {}),
      });
    }
  }

  /**
   * Handles one invocation. Throws only for a misconfigured event source. Buffered metrics
   * (`Metrics.flush`, EMF) are written at its end, whatever happened.
   */
  async handle(
    event: StreamEvent<S>,
    context?: LambdaTimeContext,
  ): Promise<StreamBatchResponse<S>> {
    const metrics = this.#reporting.metrics;
    if (!metrics?.flush) return this.#handle(event, context);
    try {
      return await this.#handle(event, context);
    } finally {
      try {
        metrics.flush();
      } catch (error) {
        this.#logger.warn(
          { err: toError(error) },
          'could not write the metrics of this invocation',
        );
      }
    }
  }

  async #handle(
    event: StreamEvent<S>,
    context?: LambdaTimeContext,
  ): Promise<StreamBatchResponse<S>> {
    if (!event || !Array.isArray(event.Records)) {
      throw new ConfigurationError(
        'The Lambda event has no Records array: wire this handler to a DynamoDB Streams or Kinesis event source mapping.',
      );
    }
    const budget = timeBudget(context, this.#timeoutMarginMs);
    if (budget && budget.deadline <= Date.now()) {
      this.#logger.warn(
        { marginMs: budget.marginMs, remainingMs: context?.getRemainingTimeInMillis() },
        'no time left for this batch after the timeout margin; raise the function timeout',
      );
    }
    for (const decoder of this.#decoders.values()) await decoder.prepare?.(event);
    const batch = this.#decode(event);
    this.#checkViewType(batch.records[0]);
    const windowed = event.window !== undefined;
    if (this.#windowHandler) {
      if (!windowed) {
        throw new ConfigurationError(
          'windowHandler needs tumbling-window events: set TumblingWindowInSeconds on the event source mapping, or give handler, keyBatchHandler or sink instead.',
        );
      }
      return this.#handleWindow(event, batch, budget, this.#windowHandler);
    }
    let batchItemFailures: BatchItemFailure[] = [];
    if (batch.records.length > 0) {
      this.#tracking.done = [];
      try {
        batchItemFailures = await this.#processBatch(batch, budget);
      } finally {
        this.#tracking.done = [];
      }
      this.#reportBatch(batch.records, batchItemFailures.length);
    }
    if (!windowed) return { batchItemFailures };
    // A window event without a window handler: Lambda requires the state back, unchanged.
    return { state: (event.state ?? {}) as S, batchItemFailures };
  }

  /**
   * A Lambda has no DescribeStream to call at start (it is not given the stream's ARN before
   * its first event, and the call would need permissions of its own), but every DynamoDB record
   * carries its stream's view type: a sink that needs images the stream does not carry fails
   * the whole invocation at the batch's first record with the same error the worker gives at
   * start, rather than failing and parking every record. The mapping retries the batch until
   * the stream is fixed (nothing is skipped).
   */
  #checkViewType(first: ChangeRecord | undefined): void {
    if (!first) return;
    for (const sink of this.#imageSinks) {
      const error = streamViewTypeError(sink, first.streamViewType, first.streamId);
      if (error) {
        this.#logger.error({ err: error, streamId: first.streamId }, error.message);
        throw error;
      }
    }
  }

  /**
   * The invocation's own figures, per stream and shard of its first record (a Lambda batch
   * holds one shard): `batch_item_failures_total`, and `iterator_age_ms`, Lambda's definition:
   * now − the arrival of the batch's newest record.
   */
  #reportBatch(records: readonly ChangeRecord[], failures: number): void {
    const metrics = this.#reporting.metrics;
    const first = records[0];
    if (!metrics || !first) return;
    const labels = { stream: first.streamId, shard: first.shardId };
    metrics.increment('batch_item_failures_total', failures, labels);
    let newest: number | undefined;
    for (const r of records) {
      const at = r.approximateCreationTimeMs;
      if (at !== undefined && (newest === undefined || at > newest)) newest = at;
    }
    if (newest !== undefined) {
      metrics.gauge('iterator_age_ms', Math.max(0, Date.now() - newest), labels);
    }
  }

  // ─── decoding ─────────────────────────────────────────────────────────────────────────

  #decode(event: StreamEvent<S>): DecodedBatch {
    const records: ChangeRecord[] = [];
    // Which Lambda record each change record came from, kept only once they stop being 1:1
    // (a KPL aggregate); identifiers are read from the Lambda records only when needed.
    let origins: number[] | undefined;
    let decoders: EventDecoder[] | undefined;
    let firstDecoder: EventDecoder | undefined;
    let shardKeys: string[] | undefined;
    let firstStream: string | undefined;
    let firstShard: string | undefined;
    const lambdaRecords = event.Records;
    for (let r = 0; r < lambdaRecords.length; r++) {
      const lambdaRecord = lambdaRecords[r]!;
      const source = (lambdaRecord as { eventSource?: string }).eventSource ?? '';
      const decoder =
        firstDecoder?.eventSource === source ? firstDecoder : this.#decoders.get(source);
      if (!decoder) throw this.#unsupportedSource(source);
      if (!firstDecoder) firstDecoder = decoder;
      else if (decoder !== firstDecoder && !decoders) decoders = new Array(r).fill(firstDecoder);
      decoders?.push(decoder);
      const from = records.length;
      decoder.decode(lambdaRecord, event, records);
      if (!origins && (records.length !== r + 1 || from !== r)) {
        origins = Array.from({ length: from }, (_, i) => i);
      }
      for (let i = from; i < records.length; i++) {
        origins?.push(r);
        const record = records[i]!;
        if (firstStream === undefined) {
          firstStream = record.streamId;
          firstShard = record.shardId;
        } else if (
          !shardKeys &&
          (record.streamId !== firstStream || record.shardId !== firstShard)
        ) {
          // Lambda batches hold one shard; keep per-record shards only if this one does not.
          shardKeys = new Array<string>(i).fill(`${firstStream} ${firstShard}`);
        }
        if (shardKeys) shardKeys.push(`${record.streamId} ${record.shardId}`);
      }
    }
    const identifiers: ItemIdentifiers = {
      length: records.length,
      identifierAt(index: number): string {
        const r = origins ? origins[index]! : index;
        return (decoders?.[r] ?? firstDecoder)!.itemIdentifier(lambdaRecords[r]);
      },
    };
    return { records, identifiers, shardKeys };
  }

  #unsupportedSource(source: string): ConfigurationError {
    const handled = [...this.#decoders.keys()].join(', ');
    return new ConfigurationError(
      `This handler reads ${handled} events, got eventSource ${JSON.stringify(source)}. Use createLambdaHandler from @shardline/lambda for both DynamoDB Streams and Kinesis, or the factory of the matching entry point (@shardline/lambda/dynamodb, @shardline/lambda/kinesis).`,
    );
  }

  // ─── handler, per-key batch and sink modes ───────────────────────────────────────────

  async #processBatch(batch: DecodedBatch, budget: TimeBudget | undefined) {
    const leftover = this.#leftover;
    if (leftover) {
      const settled = budget ? await raceUntil(leftover, budget.hardStopAt) : await leftover;
      if (settled === TIMED_OUT) {
        this.#logger.warn(
          { records: batch.records.length, sink: this.#sink?.name },
          'the previous invocation still writes or flushes its batch; nothing of this one was run, it is reported whole and redelivered',
        );
        return resolveBatchItemFailures(batch.identifiers, batch.shardKeys, []);
      }
    }
    // Its AbortSignal is made only if a handler, sink or backoff reads it.
    const abort = new LazyAbort();
    const work = this.#runGroups(batch, budget, abort);
    const ran = budget ? await raceUntil(work, budget.hardStopAt) : await work;
    if (ran === TIMED_OUT) {
      abort.abort(new Error('the Lambda invocation is about to time out'));
      if (this.#flush) {
        const settling = work.then(
          () => undefined,
          () => undefined,
        );
        this.#leftover = settling;
        void settling.then(() => {
          if (this.#leftover === settling) this.#leftover = undefined;
        });
      }
      this.#logger.warn(
        { records: batch.records.length, marginMs: budget?.marginMs },
        'answering before the timeout with calls still running; unfinished records are reported and redelivered',
      );
      return resolveBatchItemFailures(
        batch.identifiers,
        batch.shardKeys,
        this.#provenOutcomes(batch.records),
      );
    }
    if (ran.allDone) return [];
    return resolveBatchItemFailures(batch.identifiers, batch.shardKeys, ran.outcomes);
  }

  async #runGroups(
    batch: DecodedBatch,
    budget: TimeBudget | undefined,
    abort: LazyAbort,
  ): Promise<{ outcomes: (RecordOutcome | undefined)[]; allDone: boolean }> {
    const processor = this.#processor!;
    const options = { signal: abort, ...(budget ? { deadline: budget.deadline } : {}) };
    let outcomes: (RecordOutcome | undefined)[];
    let allDone = true;
    if (!batch.shardKeys) {
      const result = await processor.process(batch.records, options);
      outcomes = result.outcomes;
      allDone = result.firstNotDone === -1;
    } else {
      // Several shards in one event: each is its own ordered sequence, processed in turn.
      outcomes = new Array(batch.records.length);
      const groups = new Map<string, number[]>();
      batch.shardKeys.forEach((shard, i) => {
        const group = groups.get(shard);
        if (group) group.push(i);
        else groups.set(shard, [i]);
      });
      for (const indexes of groups.values()) {
        const result = await processor.process(
          indexes.map((i) => batch.records[i]!),
          options,
        );
        if (result.firstNotDone !== -1) allDone = false;
        indexes.forEach((index, j) => {
          outcomes[index] = result.outcomes[j];
        });
      }
    }
    const flush = this.#flush;
    if (flush) {
      try {
        await flush(abort.signal);
        // Durable only now, after an answer at the time limit that proved nothing of a
        // buffering sink (see #provenOutcomes): Lambda sends the whole batch again.
        if (abort.aborted) this.#rememberDurable(batch.records, outcomes);
      } catch (error) {
        // What the sink buffered is lost: nothing written in this invocation counts as done.
        this.#logger.error(
          { err: toError(error), sink: this.#sink?.name },
          'sink flush failed; the batch is reported from its first record and redelivered',
        );
        // Remembered on the sink's ok, but never durable: the redelivery must be applied again.
        batch.records.forEach((record, i) => {
          if (outcomes[i]?.status === 'succeeded') processor.forget(record);
        });
        outcomes = outcomes.map((o) => (o?.status === 'succeeded' ? undefined : o));
        allDone = false;
      }
    }
    return { outcomes, allDone };
  }

  /** Remembers the records of `outcomes` that succeeded (their writes are durable). */
  #rememberDurable(
    records: readonly ChangeRecord[],
    outcomes: readonly (RecordOutcome | undefined)[],
  ): void {
    const deduper = this.#deduper;
    if (!deduper) return;
    records.forEach((record, i) => {
      if (outcomes[i]?.status === 'succeeded') deduper.remember(record);
    });
  }

  /** The outcomes that are certain when time ran out: finished calls only. */
  #provenOutcomes(records: readonly ChangeRecord[]): (RecordOutcome | undefined)[] {
    // A sink that buffers may not have written what it acknowledged: prove nothing for it.
    if (this.#flush) return new Array(records.length);
    const deduper = this.#deduper;
    const selector = this.#selector;
    // A filtered record is done by decision alone: the same decision holds on redelivery.
    const filtered = (r: ChangeRecord) => {
      const selection = selector?.select(r);
      return selection !== undefined && selection !== 'keep' && selection !== 'route';
    };
    // The handler saw the selector's view of each record (the same object per record).
    const seenAs = (r: ChangeRecord) => (selector ? selector.view(r) : r);
    const done = this.#tracked ? new Set(this.#tracking.done) : undefined;
    if (deduper) {
      // For a delta target a stale record is not proof of anything: only one seen is done.
      const staleChanges = this.#staleChanges;
      return records.map((r) => {
        if (filtered(r) || deduper.check(r, staleChanges)) return SUCCEEDED;
        if (!done?.has(seenAs(r))) return undefined;
        // Finished but not yet remembered (`remember: 'redelivered'` waits for the batch's
        // end): the redelivery comes before that end may, so remember it now.
        deduper.remember(r);
        return SUCCEEDED;
      });
    }
    return records.map((r) => (filtered(r) || done!.has(seenAs(r)) ? SUCCEEDED : undefined));
  }

  /** Wraps the user's handler or sink so that finished records are known even on a time-out. */
  #trackedMode(options: LambdaHandlerOptions<S>): {
    handler?: RecordHandler;
    keyBatchHandler?: KeyBatchHandler;
    sink?: Sink;
  } {
    const tracking = this.#tracking;
    const { handler, keyBatchHandler, sink } = options;
    if (handler) {
      return {
        handler: (record, context) => {
          const result = handler(record, context);
          if (typeof (result as { then?: unknown } | null)?.then === 'function') {
            return (result as Promise<unknown>).then(() => tracking.done.push(record));
          }
          tracking.done.push(record);
          return result;
        },
      };
    }
    if (keyBatchHandler) {
      return {
        keyBatchHandler: async (records, context) => {
          await keyBatchHandler(records, context);
          for (const record of records) tracking.done.push(record);
        },
      };
    }
    const inner = sink!;
    const tracked: Sink = {
      name: inner.name,
      ...(inner.maxBatchSize === undefined ? {} : { maxBatchSize: inner.maxBatchSize }),
      ...(inner.effect === undefined ? {} : { effect: inner.effect }),
      write: async (records, context): Promise<SinkRecordResult[]> => {
        const results = await inner.write(records, context);
        for (let i = 0; i < records.length && i < results.length; i++) {
          if (results[i]!.status === 'ok') tracking.done.push(records[i]!);
        }
        return results;
      },
    };
    return { sink: tracked };
  }

  // ─── tumbling windows ─────────────────────────────────────────────────────────────────

  async #handleWindow(
    event: StreamEvent<S>,
    batch: DecodedBatch,
    budget: TimeBudget | undefined,
    windowHandler: WindowHandler<S>,
  ): Promise<StreamBatchResponse<S>> {
    const inputState = (event.state ?? {}) as S;
    const { records } = batch;
    const outcomes = new Array<RecordOutcome | undefined>(records.length);
    const controller = new AbortController();
    // Undecodable records are parked (and skipped) or end the fold: the state then covers the
    // records before them, and Lambda resumes at the bad record with that state.
    const live: ChangeRecord[] = [];
    let cutAt = records.length;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.decodeError) {
        if (!(await this.#park(record, record.decodeError, controller.signal))) {
          cutAt = i;
          break;
        }
        outcomes[i] = SUCCEEDED;
        continue;
      }
      const selector = this.#selector;
      if (selector) {
        const selection = selector.select(record);
        if (selection !== 'keep') {
          // Filtered out: done, and not folded into the window state.
          outcomes[i] = reportFiltered(record, selection as FilterReason, this.#reporting);
          continue;
        }
        live.push(selector.view(record));
        continue;
      }
      live.push(record);
    }
    const work = this.#foldWindow(
      event,
      live,
      inputState,
      budget,
      controller.signal,
      windowHandler,
    );
    const folded = budget ? await raceUntil(work, budget.hardStopAt) : await work;
    if (folded === TIMED_OUT)
      controller.abort(new Error('the Lambda invocation is about to time out'));
    if (folded === TIMED_OUT || folded instanceof Error) {
      if (records.length === 0) {
        // Nothing to report: failing the invoke is the only way to have Lambda call again.
        throw folded === TIMED_OUT
          ? new Error('the window handler did not finish in time')
          : folded;
      }
      return {
        state: inputState,
        batchItemFailures: resolveBatchItemFailures(batch.identifiers, batch.shardKeys, []),
      };
    }
    for (let i = 0; i < cutAt; i++) outcomes[i] = SUCCEEDED;
    return {
      state: folded.state,
      batchItemFailures: resolveBatchItemFailures(batch.identifiers, batch.shardKeys, outcomes),
    };
  }

  async #foldWindow(
    event: StreamEvent<S>,
    records: readonly ChangeRecord[],
    state: S,
    budget: TimeBudget | undefined,
    signal: AbortSignal,
    windowHandler: WindowHandler<S>,
  ): Promise<{ state: S } | Error> {
    const base = {
      start: event.window!.start,
      end: event.window!.end,
      shardId: event.shardId ?? records[0]?.shardId,
      isFinalInvoke: event.isFinalInvokeForWindow === true,
      isTerminatedEarly: event.isWindowTerminatedEarly === true,
      signal,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        // A copy per attempt: a handler that mutated the state before throwing leaves no trace.
        const next = await windowHandler(records, {
          ...base,
          state: structuredClone(state),
          attempt,
        });
        if (next === null || typeof next !== 'object') {
          return new ConfigurationError(
            `windowHandler must return the window state (an object), got ${String(next)}.`,
          );
        }
        return { state: next };
      } catch (error) {
        const delayMs = this.#retry.delayMs(attempt);
        const retry =
          this.#retry.shouldRetry(error, attempt, records[0]?.approximateCreationTimeMs) &&
          !signal.aborted &&
          (budget === undefined || Date.now() + delayMs < budget.deadline);
        if (!retry) {
          this.#logger.error(
            { err: toError(error), attempts: attempt, shardId: base.shardId, window: base.start },
            'window handler failed; the state is kept and the batch is redelivered',
          );
          return toError(error);
        }
        try {
          await sleep(delayMs, signal);
        } catch {
          return toError(error);
        }
      }
    }
  }

  /** Sends a record to the failure destination when the policy parks; true when it did. */
  async #park(record: ChangeRecord, error: Error, signal: AbortSignal): Promise<boolean> {
    const destination = this.#failureDestination;
    if (!destination || this.#retry.exhaustedAction(true) !== 'park') return false;
    try {
      await destination.send([toFailedRecord(record, error, 1)], signal);
      this.#logger.warn(
        { shardId: record.shardId, sequenceNumber: record.sequenceNumber, err: error },
        'record parked in the failure destination',
      );
      return true;
    } catch (sendError) {
      this.#logger.error(
        { err: toError(sendError), destination: destination.name },
        'could not park the record in the failure destination',
      );
      return false;
    }
  }
}

/** Resolves with `work`, or with {@link TIMED_OUT} at `at` (epoch ms), whichever is first. */
async function raceUntil<T>(work: Promise<T>, at: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Work left running after the answer must not crash the runtime with an unhandled rejection.
  work.catch(() => {});
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, at - Date.now()));
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
