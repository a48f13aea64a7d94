import PQueue from 'p-queue';
import { ConfigurationError } from './errors.js';
import type { RecordOutcome } from './RecordOutcome.js';

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
   */
  async dispatch<R extends Keyed>(
    records: readonly R[],
    run: RunRecord<R>,
    signal?: AbortSignal,
  ): Promise<RecordOutcome[]> {
    const outcomes = new Array<RecordOutcome>(records.length);
    const chains = groupByKey(records);
    // The signal's state as a plain flag: its getter costs more than the rest of a no-op
    // record's dispatch, and the abort event is delivered synchronously, so the flag is exact.
    const state = { aborted: signal?.aborted === true };
    const onAbort = () => {
      state.aborted = true;
    };
    signal?.addEventListener('abort', onAbort);
    try {
      return await this.#dispatchChains(records, chains, outcomes, run, state);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #dispatchChains<R extends Keyed>(
    records: readonly R[],
    chains: Map<string, number[]>,
    outcomes: RecordOutcome[],
    run: RunRecord<R>,
    state: { readonly aborted: boolean },
  ): Promise<RecordOutcome[]> {
    /** Records an outcome; returns false when the chain must stop. */
    const settle = (indexes: number[], i: number, outcome: RecordOutcome): boolean => {
      outcomes[indexes[i]!] = outcome;
      if (outcome.status !== 'failed') return true;
      blockRest(outcomes, indexes, i + 1, records[indexes[i]!]!.sequenceNumber);
      return false;
    };
    const runChainFrom = async (indexes: number[], from: number): Promise<void> => {
      for (let i = from; i < indexes.length; i++) {
        if (state.aborted) {
          blockRest(outcomes, indexes, i, undefined);
          return;
        }
        const result = run(records[indexes[i]!]!, indexes[i]!);
        if (!settle(indexes, i, isPromise(result) ? await result : result)) return;
      }
    };
    // Synchronous runners (a no-op or CPU-only handler) go through without any queue or
    // microtask. The first promise switches the batch to `concurrency` workers, the chain that
    // went async being the first one's; each worker then takes the next chain not started, so
    // chains start in order and at most `concurrency` are in flight. Workers pulling from the
    // list cost less per chain than a p-queue task (a promise, events and a slot check each):
    // with 1 ms records and four shards at once, the p-queue took the reader below a bare
    // SDK loop.
    const list = [...chains.values()];
    for (let c = 0; c < list.length; c++) {
      const indexes = list[c]!;
      for (let i = 0; i < indexes.length; i++) {
        if (state.aborted) {
          blockRest(outcomes, indexes, i, undefined);
          break;
        }
        const result = run(records[indexes[i]!]!, indexes[i]!);
        if (isPromise(result)) {
          let next = c + 1;
          const worker = async (first?: Promise<void>): Promise<void> => {
            if (first) await first;
            while (next < list.length) {
              const chain = list[next++]!;
              if (chain.length > 1 || state.aborted) {
                await runChainFrom(chain, 0);
                continue;
              }
              // A key with one record in the batch (the common case): run it here, without
              // an async call and its promise per record.
              const only = chain[0]!;
              const result = run(records[only]!, only);
              settle(chain, 0, isPromise(result) ? await result : result);
            }
          };
          const at = i;
          const rest = (async () => {
            if (settle(indexes, at, await result)) await runChainFrom(indexes, at + 1);
          })();
          const workers = [worker(rest)];
          for (let w = 1; w < this.concurrency && next < list.length; w++) workers.push(worker());
          await Promise.all(workers);
          return outcomes;
        }
        if (!settle(indexes, i, result)) break;
      }
    }
    return outcomes;
  }

  /**
   * Runs each key's records as one group through `runGroup` (a per-key batch handler), groups
   * `concurrency` at a time. The group's outcomes come back in the order of `records`.
   */
  async dispatchGroups<R extends Keyed>(
    records: readonly R[],
    runGroup: (group: R[], indexes: number[]) => Promise<RecordOutcome[]>,
  ): Promise<RecordOutcome[]> {
    const outcomes = new Array<RecordOutcome>(records.length);
    const queue = new PQueue({ concurrency: this.concurrency });
    const tasks: Promise<void>[] = [];
    for (const indexes of groupByKey(records).values()) {
      tasks.push(
        queue.add(async () => {
          const group = indexes.map((i) => records[i]!);
          const groupOutcomes = await runGroup(group, indexes);
          for (let i = 0; i < indexes.length; i++) outcomes[indexes[i]!] = groupOutcomes[i]!;
        }),
      );
    }
    await Promise.all(tasks);
    return outcomes;
  }
}

/** Indexes of `records` grouped by ordering key, each group in shard order. */
export function groupByKey<R extends Keyed>(records: readonly R[]): Map<string, number[]> {
  const chains = new Map<string, number[]>();
  for (let i = 0; i < records.length; i++) {
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
  blockedBy: string | undefined,
): void {
  const outcome: RecordOutcome =
    blockedBy === undefined
      ? { status: 'blocked', reason: 'aborted' }
      : { status: 'blocked', reason: 'key-failed', blockedBy };
  for (let j = from; j < indexes.length; j++) outcomes[indexes[j]!] = outcome;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
