import type { EventBus, FailureDestination, LeaseStore, ShardSource } from '@shardline/core';
import type { Registry } from 'prom-client';
import { type MonotonicClock, monotonicNow } from '../clock.js';
import { buildConsoleState } from './buildConsoleState.js';
import { ConsoleHistory, type ShardSample } from './ConsoleHistory.js';
import { ConsoleJournal } from './ConsoleJournal.js';
import type { ConsoleState } from './ConsoleState.js';
import { type ConsoleRequestHandler, consoleRequestHandler } from './consoleRequestHandler.js';
import { LeaseTableView } from './LeaseTableView.js';
import { SampleTimer } from './SampleTimer.js';

/** The console settings of a worker (`WorkerOptions.console`). */
export interface ConsoleOptions {
  /** Serve the console at `/console/` on the worker's HTTP port. @default true */
  readonly enabled?: boolean;
  /**
   * Show parked records' images (the record as delivered) on the console. Off by default: the
   * console shows keys, shards, sequence numbers and errors only. @default false
   */
  readonly showRecordImages?: boolean;
  /** How often lag and throughput are sampled, in ms. @default 5000 */
  readonly sampleIntervalMs?: number;
  /** How much history the chart keeps, in ms. @default 600_000 (10 minutes) */
  readonly historyMs?: number;
  /** Least time between two reads of the lease table for the console, in ms. @default 2000 */
  readonly leaseRefreshMs?: number;
}

/** Defaults of {@link ConsoleOptions}. */
export const DEFAULT_CONSOLE = {
  sampleIntervalMs: 5000,
  historyMs: 600_000,
  leaseRefreshMs: 2000,
} as const;

/** What a {@link WorkerConsole} reads from its worker. */
export interface WorkerConsoleOptions extends ConsoleOptions {
  readonly applicationName: string;
  readonly workerId: string;
  readonly store: LeaseStore;
  readonly sources: readonly ShardSource[];
  /** The worker's Prometheus registry: lag and throughput are read from what `/metrics` serves. */
  readonly registry: Registry;
  readonly events: EventBus;
  /** The shard ids this worker reads now. */
  readonly ownedShardIds: () => readonly string[];
  readonly clock?: MonotonicClock;
}

const PROCESSED = 'shardline_records_processed_total';
const ITERATOR_AGE = 'shardline_iterator_age_milliseconds';

/**
 * The worker's console: samples its own shards' lag (iterator age) and throughput (records
 * processed per second) from the metrics registry into a ring buffer, keeps the recent parked
 * records and errors from its events, and reads the fleet from the lease table on demand.
 */
export class WorkerConsole {
  /** The HTTP routes, for the worker's health server. */
  readonly handler: ConsoleRequestHandler;
  readonly #options: WorkerConsoleOptions;
  readonly #history: ConsoleHistory;
  readonly #journal: ConsoleJournal;
  readonly #view: LeaseTableView;
  readonly #clock: MonotonicClock;
  readonly #sampleIntervalMs: number;
  readonly #lastCounts = new Map<string, number>();
  #lastSampleAt: number | undefined;
  readonly #timer: SampleTimer;
  #unsubscribe: (() => void) | undefined;

  constructor(options: WorkerConsoleOptions) {
    this.#options = options;
    this.#clock = options.clock ?? monotonicNow;
    this.#sampleIntervalMs = options.sampleIntervalMs ?? DEFAULT_CONSOLE.sampleIntervalMs;
    const historyMs = options.historyMs ?? DEFAULT_CONSOLE.historyMs;
    this.#history = new ConsoleHistory(Math.max(2, Math.ceil(historyMs / this.#sampleIntervalMs)));
    this.#journal = new ConsoleJournal({ showRecordImages: options.showRecordImages ?? false });
    this.#view = new LeaseTableView({
      store: options.store,
      sources: options.sources,
      leaseRefreshMs: options.leaseRefreshMs ?? DEFAULT_CONSOLE.leaseRefreshMs,
      clock: this.#clock,
    });
    this.handler = consoleRequestHandler(() => this.state());
    this.#timer = new SampleTimer({
      sample: () => this.sample(),
      intervalMs: this.#sampleIntervalMs,
      onError: (error) => this.#journal.error('console.sample', null, error.message),
      unref: true,
    });
  }

  /** Starts sampling and listening to the worker's events. */
  start(): void {
    this.#unsubscribe ??= this.#journal.subscribe(this.#options.events);
    this.#timer.start();
  }

  /** Stops sampling. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#timer.stop();
  }

  /** See {@link ConsoleJournal.captureImages}. */
  captureImages(destination: FailureDestination | undefined): FailureDestination | undefined {
    return this.#journal.captureImages(destination);
  }

  /** Takes one sample of every owned shard (the timer calls this every sample interval). */
  async sample(): Promise<void> {
    const { registry } = this.#options;
    const now = this.#clock();
    const [processed, age] = await Promise.all([
      byShard(registry, PROCESSED, (a, b) => a + b),
      // Series of the same shard id in two streams: the larger lag, not their sum.
      byShard(registry, ITERATOR_AGE, Math.max),
    ]);
    const seconds =
      this.#lastSampleAt === undefined ? undefined : (now - this.#lastSampleAt) / 1000;
    this.#lastSampleAt = now;
    const samples = new Map<string, ShardSample>();
    for (const shardId of this.#options.ownedShardIds()) {
      const count = processed.get(shardId) ?? 0;
      const previous = this.#lastCounts.get(shardId);
      samples.set(shardId, {
        lagMs: age.get(shardId) ?? null,
        recordsPerSecond:
          previous === undefined || !seconds ? null : round((count - previous) / seconds),
      });
    }
    this.#lastCounts.clear();
    for (const shardId of samples.keys())
      this.#lastCounts.set(shardId, processed.get(shardId) ?? 0);
    this.#history.add(Date.now(), samples);
  }

  /** The state document `/console/api/state` serves. */
  async state(): Promise<ConsoleState> {
    const o = this.#options;
    return buildConsoleState({
      application: o.applicationName,
      servedBy: { kind: 'worker', workerId: o.workerId },
      snapshot: await this.#view.read(),
      history: this.#history,
      sampleIntervalMs: this.#sampleIntervalMs,
      lagMeaning: `iterator age: how far behind the newest record of the shard this worker's reader is, in ms (this worker's shards; sampled every ${this.#sampleIntervalMs / 1000} s)`,
      parked: this.#journal.parked(),
      errors: this.#journal.errors(),
      notes: o.sources.some((s) => s.kind === 'dynamodb-streams')
        ? [
            'DynamoDB Streams lag is measured from ApproximateCreationDateTime; DynamoDB Local rounds it to the minute, so lag on a local stream reads up to 60 s high.',
          ]
        : [],
    });
  }
}

/** A metric's values per `shard` label, series of one shard combined by `combine`. */
async function byShard(
  registry: Registry,
  name: string,
  combine: (a: number, b: number) => number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const metric = registry.getSingleMetric(name);
  if (!metric) return out;
  for (const { labels, value } of (await metric.get()).values) {
    const shard = labels.shard;
    if (typeof shard !== 'string') continue;
    const seen = out.get(shard);
    out.set(shard, seen === undefined ? value : combine(seen, value));
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
