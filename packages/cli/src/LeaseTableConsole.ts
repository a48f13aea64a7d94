import type { Checkpoint, LeaseStore, ShardSource } from '@shardline/core';
import { toError } from '@shardline/core';
import {
  buildConsoleState,
  ConsoleHistory,
  ConsoleJournal,
  type ConsoleState,
  LeaseTableView,
  SampleTimer,
  type ShardSample,
} from '@shardline/worker';
import { measureShardProgress } from './measureShardProgress.js';

/** Options of {@link LeaseTableConsole}. */
export interface LeaseTableConsoleOptions {
  readonly application: string;
  /** The application's lease table, read as the workers read it. */
  readonly store: LeaseStore;
  /** The streams the leases belong to (for the lineage and the progress reads). */
  readonly sources: readonly ShardSource[];
  /** How often each shard's progress is read from the stream, in ms. */
  readonly sampleIntervalMs: number;
  /** How much history the chart keeps, in ms. @default 600_000 */
  readonly historyMs?: number;
  /** Most GetRecords pages read per shard and sample. */
  readonly maxPages: number;
  /** Stops sampling when aborted. */
  readonly signal?: AbortSignal;
}

/**
 * The console of `shardline console`: what a worker's console shows, from any machine, read
 * from the lease table (workers, leases, checkpoints) and the streams (lineage, and per shard
 * the records checkpointed since the last sample and those still after the checkpoint). It has
 * no worker's memory, so parked records are not listed: they are in the failure destination.
 */
export class LeaseTableConsole {
  readonly #options: LeaseTableConsoleOptions;
  readonly #view: LeaseTableView;
  readonly #history: ConsoleHistory;
  readonly #journal = new ConsoleJournal();
  readonly #behind = new Map<string, number>();
  /** Per lease key: the checkpoint and owner seen at the last sample, and when (monotonic ms). */
  readonly #seen = new Map<
    string,
    { checkpoint: Checkpoint | undefined; owner: string | undefined; at: number }
  >();
  readonly #timer: SampleTimer;

  constructor(options: LeaseTableConsoleOptions) {
    this.#options = options;
    this.#view = new LeaseTableView({
      store: options.store,
      sources: options.sources,
      leaseRefreshMs: Math.min(2000, options.sampleIntervalMs),
    });
    this.#history = new ConsoleHistory(
      Math.max(2, Math.ceil((options.historyMs ?? 600_000) / options.sampleIntervalMs)),
    );
    this.#timer = new SampleTimer({
      sample: () => this.sample(),
      intervalMs: options.sampleIntervalMs,
      onError: (error) => this.#journal.error('console.sample', null, error.message),
    });
  }

  /** Samples now and then every sample interval, until stopped or the signal aborts. */
  start(): void {
    this.#timer.start();
    this.#options.signal?.addEventListener('abort', () => void this.stop(), { once: true });
  }

  /** Stops sampling; waits for a round in flight. */
  async stop(): Promise<void> {
    await this.#timer.stop();
  }

  /** Reads every lease's shard once: records checkpointed since the last sample, and behind. */
  async sample(): Promise<void> {
    const { signal, maxPages } = this.#options;
    const snapshot = await this.#view.read();
    const sources = new Map(this.#options.sources.map((s) => [s.streamId, s]));
    const samples = new Map<string, ShardSample>();
    for (const lease of snapshot.leases) {
      const source = sources.get(lease.streamId);
      const listed = snapshot.shards.get(lease.streamId)?.some((s) => s.shardId === lease.shardId);
      if (!source || !listed) continue;
      const now = performance.now();
      const seen = this.#seen.get(lease.leaseKey);
      if (seen && seen.owner !== lease.leaseOwner) {
        this.#journal.error(
          'lease.moved',
          lease.shardId,
          `lease moved from ${seen.owner ?? '(no owner)'} to ${lease.leaseOwner ?? '(no owner)'}`,
        );
      }
      try {
        const progress = await measureShardProgress(
          source,
          lease.shardId,
          seen?.checkpoint ?? lease.checkpoint,
          lease.checkpoint,
          maxPages,
          signal,
        );
        if (progress) this.#behind.set(lease.shardId, progress.behind);
        samples.set(lease.shardId, {
          lagMs: progress ? progress.oldestUnprocessedAgeMs : null,
          recordsPerSecond:
            progress && seen
              ? Math.round((progress.processed / ((now - seen.at) / 1000)) * 100) / 100
              : null,
        });
      } catch (error) {
        this.#journal.error('console.read', lease.shardId, toError(error).message);
      }
      this.#seen.set(lease.leaseKey, {
        checkpoint: lease.checkpoint,
        owner: lease.leaseOwner,
        at: now,
      });
    }
    this.#history.add(Date.now(), samples);
  }

  /** The state document `/console/api/state` serves. */
  async state(): Promise<ConsoleState> {
    const { sampleIntervalMs, maxPages } = this.#options;
    return buildConsoleState({
      application: this.#options.application,
      servedBy: { kind: 'cli' },
      snapshot: await this.#view.read(),
      history: this.#history,
      sampleIntervalMs,
      lagMeaning: `age of the oldest record after the checkpoint, in ms (0 when caught up), read from the stream every ${sampleIntervalMs / 1000} s, at most ${maxPages} page(s) per shard`,
      recordsBehind: this.#behind,
      errors: this.#journal.errors(),
      notes: [
        'Served by shardline console from the lease table: parked records are in the failure destination (shardline replay reads them); a worker’s own console lists those it parked.',
        ...(this.#options.sources.some((s) => s.kind === 'dynamodb-streams')
          ? [
              'DynamoDB Streams record times come from ApproximateCreationDateTime; DynamoDB Local rounds them to the minute, so lag on a local stream reads up to 60 s high.',
            ]
          : []),
      ],
    });
  }
}
