import PQueue from 'p-queue';
import { type AbortFlag, watchAbort } from './abortFlag.js';
import { ConfigurationError } from './errors.js';
import { ABORTED, blockedBehind, FailedKeys, type RecordOutcome } from './RecordOutcome.js';

/** Options of a {@link KeyedDispatcher}. */
export interface KeyedDispatcherOptions {
  /**
   * How many ordering keys run at once. Records of one key always run one after another.
   * @default 10
   */
  readonly concurrency?: number;
}

/** The default concurrency across keys. */
export const DEFAULT_DISPATCH_CONCURRENCY = 10;

/** Anything that has an ordering key. */
export interface Keyed {
  readonly orderingKey: string;
  readonly sequenceNumber: string;
}

/**
 * Runs one record and says what became of it. Returning `failed` stops the key: its later
 * records in the batch become `blocked`. Any other outcome lets the key go on.
 */
export type RunRecord<R> = (record: R, index: number) => RecordOutcome | Promise<RecordOutcome>;

/**
 * Runs a batch with bounded concurrency across ordering keys and strict order within a key.
 *
 * Why: Lambda's ParallelizationFactor and Powertools' parallel mode keep no per-key order, and
 * sequential mode wastes the concurrency that independent keys allow. Here the records of a key
 * form a chain; chains run `concurrency` at a time (workers that take the next chain). When a record fails, the rest
 * of its chain is not run (reported `blocked`), so no later change of that key overtakes it.
 *
 * @example
 * const dispatcher = new KeyedDispatcher({ concurrency: 16 });
 * const outcomes = await dispatcher.dispatch(records, async (r) => { await apply(r); return SUCCEEDED; });
 */
export class KeyedDispatcher {
  readonly concurrency: number;

  constructor(options: KeyedDispatcherOptions = {}) {
    const concurrency = options.concurrency ?? DEFAULT_DISPATCH_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ConfigurationError(
        `concurrency must be a whole number of at least 1, got ${String(concurrency)}. Use 1 for fully serial processing.`,
      );
    }
    this.concurrency = concurrency;
  }

  /**
   * Runs `records` (in shard order) through `run`. Returns one outcome per record, in the order
   * of `records`. `run` must not throw: errors are outcomes (the pipeline's runner catches).
   * Once `signal` aborts (a signal, or the flag of a {@link watchAbort} the caller holds), no
   * record starts: those left come back `blocked`.
   */
  async dispatch<R extends Keyed>(
    records: readonly R[],
    run: RunRecord<R>,
    signal?: AbortSignal | AbortFlag,
  ): Promise<RecordOutcome[]> {
    const outcomes = new Array<RecordOutcome>(records.length);
    const abort = watchAbort(signal);
    try {
      return await this.#dispatchInOrder(records, outcomes, run, abort.flag);
    } finally {
      abort.stop();
    }
  }

  /**
   * Synchronous runners (a no-op or CPU-only handler) go through in shard order, one after
   * another, which keeps every key's order with no grouping, queue or microtask; a key whose
   * record failed has its later records blocked. The first promise hands the rest of the batch
   * to {@link #dispatchChains}.
   */
  async #dispatchInOrder<R extends Keyed>(
    records: readonly R[],
    outcomes: RecordOutcome[],
    run: RunRecord<R>,
    state: AbortFlag,
  ): Promise<RecordOutcome[]> {
    // Created at the first failure: the common batch pays one comparison a record.
    let failedKeys: FailedKeys | undefined;
    for (let i = 0; i < records.length; i++) {
      if (state.aborted) {
        for (let j = i; j < records.length; j++) {
          outcomes[j] = failedKeys?.blocked(records[j]!.orderingKey) ?? ABORTED;
        }
        return outcomes;
      }
      const record = records[i]!;
      const blocked = failedKeys?.blocked(record.orderingKey);
      if (blocked) {
        outcomes[i] = blocked;
        continue;
      }
      const result = run(record, i);
      if (isPromise(result)) {
        await this.#dispatchChains(records, i, result, failedKeys, outcomes, run, state);
        return outcomes;
      }
      outcomes[i] = result;
      if (result.status === 'failed') {
        failedKeys ??= new FailedKeys();
        failedKeys.add(record);
      }
    }
    return outcomes;
  }

  /**
   * The rest of a batch from `start`, whose record is in flight (`pending`): its records form
   * one chain per key, and chains run `concurrency` at a time (workers that take the next chain
   * not started), so chains start in order and at most `concurrency` are in flight. The chain
   * of the record in flight is the first worker's. Workers pulling from the list cost less per
   * chain than a p-queue task (a promise, events and a slot check each): with 1 ms records and
   * four shards at once, the p-queue took the reader below a bare SDK loop.
   */
  async #dispatchChains<R extends Keyed>(
    records: readonly R[],
    start: number,
    pending: Promise<RecordOutcome>,
    failedKeys: FailedKeys | undefined,
    outcomes: RecordOutcome[],
    run: RunRecord<R>,
    state: AbortFlag,
  ): Promise<void> {
    /** Records an outcome; returns false when the chain must stop. */
    const settle = (indexes: number[], i: number, outcome: RecordOutcome): boolean => {
      outcomes[indexes[i]!] = outcome;
      if (outcome.status !== 'failed') return true;
      blockRest(outcomes, indexes, i + 1, blockedBehind(records[indexes[i]!]!.sequenceNumber));
      return false;
    };
    const runChainFrom = async (indexes: number[], from: number): Promise<void> => {
      for (let i = from; i < indexes.length; i++) {
        if (state.aborted) {
          blockRest(outcomes, indexes, i, ABORTED);
          return;
        }
        const result = run(records[indexes[i]!]!, indexes[i]!);
        if (!settle(indexes, i, isPromise(result) ? await result : result)) return;
      }
    };
    const list: number[][] = [];
    for (const [key, indexes] of groupByKey(records, start)) {
      const blocked = failedKeys?.blocked(key);
      if (blocked === undefined) list.push(indexes);
      else blockRest(outcomes, indexes, 0, blocked);
    }
    // list[0] is the chain of `start`, the first record grouped; its key has not failed.
    let next = 1;
    const worker = async (first?: Promise<void>): Promise<void> => {
      if (first) await first;
      while (next < list.length) {
        const chain = list[next++]!;
        if (chain.length > 1 || state.aborted) {
          await runChainFrom(chain, 0);
          continue;
        }
        // A key with one record in the batch (the common case): run it here, without an async
        // call and its promise per record.
        const only = chain[0]!;
        const result = run(records[only]!, only);
        settle(chain, 0, isPromise(result) ? await result : result);
      }
    };
    const head = list[0]!;
    const rest = (async () => {
      if (settle(head, 0, await pending)) await runChainFrom(head, 1);
    })();
    const workers = [worker(rest)];
    for (let w = 1; w < this.concurrency && next < list.length; w++) workers.push(worker());
    await Promise.all(workers);
  }

  /**
   * Runs each key's records as one group through `runGroup` (a per-key batch handler), groups
   * `concurrency` at a time. The group's outcomes come back in the order of `records`. Once
   * `signal` aborts (a signal, or a watched flag), no group starts: those left come back
   * `blocked`.
   */
  async dispatchGroups<R extends Keyed>(
    records: readonly R[],
    runGroup: (group: R[], indexes: number[]) => Promise<RecordOutcome[]>,
    signal?: AbortSignal | AbortFlag,
  ): Promise<RecordOutcome[]> {
    const outcomes = new Array<RecordOutcome>(records.length);
    const queue = new PQueue({ concurrency: this.concurrency });
    const tasks: Promise<void>[] = [];
    const abort = watchAbort(signal);
    for (const indexes of groupByKey(records).values()) {
      tasks.push(
        queue.add(async () => {
          if (abort.flag.aborted) {
            blockRest(outcomes, indexes, 0, ABORTED);
            return;
          }
          const group = indexes.map((i) => records[i]!);
          const groupOutcomes = await runGroup(group, indexes);
          for (let i = 0; i < indexes.length; i++) outcomes[indexes[i]!] = groupOutcomes[i]!;
        }),
      );
    }
    try {
      await Promise.all(tasks);
    } finally {
      abort.stop();
    }
    return outcomes;
  }
}

/**
 * Indexes of `records` (from index `from`) grouped by ordering key, each group in shard order;
 * the groups in the order of their keys' first records.
 */
export function groupByKey<R extends Keyed>(
  records: readonly R[],
  from = 0,
): Map<string, number[]> {
  const chains = new Map<string, number[]>();
  for (let i = from; i < records.length; i++) {
    const key = records[i]!.orderingKey;
    const chain = chains.get(key);
    if (chain) chain.push(i);
    else chains.set(key, [i]);
  }
  return chains;
}

function blockRest(
  outcomes: RecordOutcome[],
  indexes: number[],
  from: number,
  outcome: RecordOutcome,
): void {
  for (let j = from; j < indexes.length; j++) outcomes[indexes[j]!] = outcome;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
