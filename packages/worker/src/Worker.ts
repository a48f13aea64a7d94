import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchProcessor,
  type ChangeEffect,
  type Checkpoint,
  ConfigurationError,
  EventBus,
  type FailureDestination,
  flushOfSinks,
  type KeyBatchHandler,
  type Lease,
  LeaseLostError,
  type LeaseStore,
  type Logger,
  type Metrics,
  type RecordHandler,
  type RecordSelectionOptions,
  RecordSelector,
  RetryPolicy,
  type RetryPolicyOptions,
  ShardConsumer,
  type ShardInfo,
  ShardLag,
  ShardlineError,
  type ShardlineEventMap,
  type ShardSource,
  type Sink,
  type StartPosition,
  sharedAbortController,
  sleep,
  staleChangesOf,
  streamViewTypeError,
  toError,
  ttlRouteOf,
} from '@shardline/core';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { type MonotonicClock, monotonicNow } from './clock.js';
import { type ConsoleOptions, WorkerConsole } from './console/WorkerConsole.js';
import { createRootLogger } from './createRootLogger.js';
import { defaultHttpHost, HealthServer } from './HealthServer.js';
import { DEFAULT_FULL_SCAN_INTERVAL_MS, LeaseCoordinator } from './LeaseCoordinator.js';
import { PrometheusMetrics } from './PrometheusMetrics.js';

/**
 * Where a shard without a checkpoint starts (applied when its lease is created, as in the KCL):
 * the oldest record kept, the newest, or (Kinesis only) the first record at or after a time.
 * A lease created AT_TIMESTAMP holds the `AT_TIMESTAMP` checkpoint sentinel until it is read,
 * as the KCL writes it; the timestamp stays this setting, so a KCL lease table with such leases
 * is read from the timestamp configured here.
 */
export type InitialPosition =
  | 'TRIM_HORIZON'
  | 'LATEST'
  | { readonly type: 'AT_TIMESTAMP'; readonly timestamp: Date };

/** Options of {@link createWorker}. Give exactly one of `handler`, `keyBatchHandler`, `sink`. */
/**
 * Options of {@link createWorker}. `filters`, `ttlDeletes` and `globalTables` (core's
 * `RecordSelectionOptions`) mean what they mean in the Lambda handler: records they leave out
 * are counted (`shardline_records_filtered_total{reason}`, the `record.filtered` event) and
 * checkpointed, never retried or parked.
 */
export interface WorkerOptions extends RecordSelectionOptions {
  /** The application: names the lease table by default, and every log line. */
  readonly applicationName: string;
  /** One stream or several (leases are keyed by stream and shard). */
  readonly sources: ShardSource | readonly ShardSource[];
  readonly handler?: RecordHandler;
  readonly keyBatchHandler?: KeyBatchHandler;
  readonly sink?: Sink;
  /**
   * What a change does to the handler's target (core's `ChangeEffect`): only with
   * `last-writer-wins` are changes older than an applied change of their item dropped.
   * @default the sink's `effect`, else 'every-change'
   */
  readonly effect?: ChangeEffect;
  /** A lease store; or give `dynamoDBClient` (and optionally `leaseTable`). */
  readonly leaseStore?: LeaseStore;
  /** The DynamoDB client for the lease table, when no `leaseStore` is given. */
  readonly dynamoDBClient?: DynamoDBClient;
  /** The lease table's name. @default applicationName */
  readonly leaseTable?: string;
  /** Create the lease table (PAY_PER_REQUEST) when it does not exist. @default true */
  readonly createLeaseTable?: boolean;
  /** This worker's id, the `leaseOwner` it writes. @default `<hostname>-<pid>-<random>` */
  readonly workerId?: string;
  /** Where shards with no checkpoint start. @default 'TRIM_HORIZON' */
  readonly initialPosition?: InitialPosition;
  /** A lease not renewed for this long is expired (KCL `failoverTimeMillis`). @default 10_000 */
  readonly leaseDurationMs?: number;
  /** Renewal period. @default a third of leaseDurationMs */
  readonly renewIntervalMs?: number;
  /** How often the coordination item is read to take and balance leases. @default 1000 */
  readonly takeIntervalMs?: number;
  /** How often each source's shards are listed for new shards. @default 60_000 */
  readonly discoveryIntervalMs?: number;
  /** Safety-net listing of the whole lease table. @default 60_000 */
  readonly fullScanIntervalMs?: number;
  /** Most leases taken over from live workers in one round. @default half of the share */
  readonly maxLeasesToStealPerRound?: number;
  /**
   * How long a worker that took a lease over for balance waits for the live previous owner's
   * final checkpoint before reading from the older one (KCL 3.x graceful handoff timeout).
   * A previous owner that looks dead is waited for a lease duration only. @default 30_000
   */
  readonly handoverTimeoutMs?: number;
  /** Most leases this worker holds. @default Infinity */
  readonly maxLeasesPerWorker?: number;
  /** Graceful-shutdown deadline, in ms: under ECS's 30 s stopTimeout. @default 25_000 */
  readonly shutdownTimeoutMs?: number;
  /** Stop gracefully on SIGTERM/SIGINT and exit (0 when done in time). @default false */
  readonly handleSignals?: boolean;
  /**
   * Serve `/healthz`, `/readyz`, `/metrics` and the console (`/console/`) on this port (0: any
   * free port). Env: `SHARDLINE_HTTP_PORT`.
   */
  readonly httpPort?: number;
  /**
   * The address the HTTP server binds. Env: `SHARDLINE_HTTP_HOST` (set `0.0.0.0` in an ECS task
   * definition so the load balancer's health check and scrapers reach it).
   * @default loopback (127.0.0.1) outside a container; 0.0.0.0 in an ECS task or Kubernetes pod
   */
  readonly httpHost?: string;
  /**
   * The read-only console served with `httpPort`: workers and their leases, the shard lineage,
   * lag and throughput per shard, recent parked records and errors. Record images are not shown
   * unless `showRecordImages` is set. @default enabled, without record images
   */
  readonly console?: ConsoleOptions;
  /** Stops the worker when aborted. */
  readonly signal?: AbortSignal;
  /** Keys processed at once per shard (handler modes). @default 10 */
  readonly concurrency?: number;
  readonly retry?: RetryPolicy | RetryPolicyOptions;
  readonly failureDestination?: FailureDestination;
  /** Commit after this many records. @default 1000 */
  readonly commitEveryRecords?: number;
  /** Commit after this long, in ms. @default 5000 */
  readonly commitIntervalMs?: number;
  /** Least time between two reads of a shard, in ms. @default 200 */
  readonly minReadIntervalMs?: number;
  /**
   * How often each idle shard is read, in ms: the freshness/cost setting. A change to an idle
   * shard waits at most this long before a read picks it up (half of it on average), and every
   * idle shard this worker owns costs `3_600_000 / idlePollIntervalMs` GetRecords calls per hour.
   * The default, 250, is Lambda's DynamoDB Streams rate: 4 reads/s, 14,400 calls per shard per
   * hour. Kinesis allows 5 GetRecords/s per shard shared by every polling consumer, so at 250
   * this worker leaves 1/s to the others: raise it (Lambda polls Kinesis at 1000) when other
   * consumers poll the same stream. A shard with records is read again at once, paced by
   * `minReadIntervalMs`. Env: `SHARDLINE_IDLE_POLL_INTERVAL_MS`.
   * @default 250
   */
  readonly idlePollIntervalMs?: number;
  /**
   * Longest wait between reads of an idle shard, in ms. Above `idlePollIntervalMs` the wait
   * doubles per consecutive empty read up to this (fewer calls, slower wake-up); below it, it
   * caps the interval. @default idlePollIntervalMs (a constant interval, no backoff)
   */
  readonly maxIdleDelayMs?: number;
  /** The root logger. @default a pino logger at `info` */
  readonly logger?: Logger;
  /** Metrics; defaults to Prometheus metrics served at `/metrics`. */
  readonly metrics?: PrometheusMetrics;
  readonly clock?: MonotonicClock;
}

/** Defaults of {@link WorkerOptions}. */
export const DEFAULT_WORKER = {
  leaseDurationMs: 10_000,
  takeIntervalMs: 1000,
  discoveryIntervalMs: 60_000,
  shutdownTimeoutMs: 25_000,
  initialPosition: 'TRIM_HORIZON',
} as const;

/** Why a shard's reader stopped in this worker (the `shard.stopped` event's `reason`). */
type ShardStopReason = ShardlineEventMap['shard.stopped']['reason'];

interface ShardRun {
  readonly lease: Lease;
  /** The coordinator's acquisition this run reads for: its commits are fenced on it. */
  readonly generation: number;
  /** Stops reading: the page in hand is finished and committed (stop, handover). */
  readonly controller: AbortController;
  /** Stops processing as well (a lost lease, the shutdown deadline). */
  readonly abort: AbortController;
  handover: boolean;
  lost: boolean;
  done: Promise<void>;
  /** The shard's lag, kept across reader restarts and tracked while the run lasts. */
  readonly lag: ShardLag;
}

/**
 * A KCL-style worker: shares the shards of one or more streams with the other workers of the
 * same application through a lease table, reads each owned shard with core's `ShardConsumer`
 * (checkpoints fenced by the lease), balances, fails over and shuts down gracefully.
 */
export class Worker {
  /** Typed state changes: leases, shards, checkpoints, batches. */
  readonly events: EventBus;
  /** The worker's id (its `leaseOwner`). */
  readonly workerId: string;
  readonly #options: WorkerOptions;
  readonly #sources: Map<string, ShardSource>;
  readonly #store: LeaseStore;
  readonly #coordinator: LeaseCoordinator;
  readonly #log: Logger;
  readonly #metrics: PrometheusMetrics;
  readonly #clock: MonotonicClock;
  readonly #runs = new Map<string, ShardRun>();
  readonly #timers: { stop(): Promise<void> }[] = [];
  readonly #leaseDurationMs: number;
  readonly #renewIntervalMs: number;
  #renewTimer: { stop(): Promise<void> } | undefined;
  #health: HealthServer | undefined;
  readonly #console: WorkerConsole | undefined;
  readonly #failureDestination: FailureDestination | undefined;
  #started: Promise<void> | undefined;
  #stopping: Promise<boolean> | undefined;
  #httpPort: number | undefined;
  #signalHandler: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    const modes = [options.handler, options.keyBatchHandler, options.sink].filter(Boolean);
    if (modes.length !== 1) {
      throw new ConfigurationError(
        `Give exactly one of handler, keyBatchHandler or sink to createWorker (got ${modes.length}).`,
      );
    }
    if (!options.applicationName) {
      throw new ConfigurationError(
        'applicationName must be set: it names the lease table and tells fleets apart.',
      );
    }
    staleChangesOf(options); // a bad effect fails here, not when the first shard starts
    RecordSelector.from(options); // so do malformed filters, ttlDeletes and globalTables
    const sources = Array.isArray(options.sources)
      ? (options.sources as readonly ShardSource[])
      : [options.sources as ShardSource];
    if (sources.length === 0)
      throw new ConfigurationError('sources must hold at least one stream.');
    if (new Set(sources.map((s) => s.streamId)).size !== sources.length) {
      throw new ConfigurationError('sources holds the same stream twice; give each stream once.');
    }
    checkInitialPosition(options.initialPosition, sources);
    this.#leaseDurationMs = options.leaseDurationMs ?? DEFAULT_WORKER.leaseDurationMs;
    this.#renewIntervalMs = options.renewIntervalMs ?? Math.floor(this.#leaseDurationMs / 3);
    if (!(this.#renewIntervalMs > 0 && this.#renewIntervalMs < this.#leaseDurationMs)) {
      throw new ConfigurationError(
        `renewIntervalMs must be above 0 and below leaseDurationMs (${this.#leaseDurationMs}), got ${String(this.#renewIntervalMs)}; about a third of the lease duration is usual.`,
      );
    }
    this.#options = options;
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.#clock = options.clock ?? monotonicNow;
    this.#log = (
      options.logger ?? createRootLogger({ bindings: { applicationName: options.applicationName } })
    ).child({ workerId: this.workerId });
    this.#metrics = options.metrics ?? new PrometheusMetrics();
    this.events = new EventBus((error) =>
      this.#log.warn({ err: toError(error) }, 'an event listener threw'),
    );
    // The sources report trimmed data, re-acquired iterators and throttling to this worker's
    // bus, /metrics and logs, unless their own options name others.
    const telemetry = { events: this.events, metrics: this.#metrics, logger: this.#log };
    this.#sources = new Map(sources.map((s) => [s.streamId, s.withTelemetry?.(telemetry) ?? s]));
    if (options.leaseStore) {
      this.#store = options.leaseStore;
    } else if (options.dynamoDBClient) {
      this.#store = new DynamoDBLeaseStore({
        client: options.dynamoDBClient,
        tableName: options.leaseTable ?? options.applicationName,
        multiStream: sources.length > 1,
        // Leases keyed by a bare shard id are the first stream's: the table's only stream
        // before others were added keeps its checkpoints.
        streamId: sources[0]!.streamId,
        streams: sources.map((s) => s.streamId),
      });
    } else {
      throw new ConfigurationError(
        'Give leaseStore, or dynamoDBClient (with leaseTable, default: applicationName) for the DynamoDB lease table.',
      );
    }
    this.#coordinator = new LeaseCoordinator({
      store: this.#store,
      workerId: this.workerId,
      leaseDurationMs: this.#leaseDurationMs,
      maxLeasesToStealPerRound: options.maxLeasesToStealPerRound,
      ...(options.handoverTimeoutMs !== undefined
        ? { handoverTimeoutMs: options.handoverTimeoutMs }
        : {}),
      maxLeasesPerWorker: options.maxLeasesPerWorker,
      fullScanIntervalMs: options.fullScanIntervalMs ?? DEFAULT_FULL_SCAN_INTERVAL_MS,
      clock: this.#clock,
      events: this.events,
      logger: this.#log.child({ component: 'lease-coordinator' }),
      listener: {
        acquired: (lease, generation) => this.#startShard(lease, generation),
        lost: (leaseKey) => this.#stopShard(leaseKey, 'lost'),
        handoverRequested: (leaseKey) => this.#stopShard(leaseKey, 'handover'),
      },
    });
    this.#metrics.subscribe(this.events, () => this.#coordinator.leaseCount);
    if (options.httpPort !== undefined && options.console?.enabled !== false) {
      this.#console = new WorkerConsole({
        ...options.console,
        applicationName: options.applicationName,
        workerId: this.workerId,
        store: this.#store,
        sources,
        registry: this.#metrics.registry,
        events: this.events,
        ownedShardIds: () =>
          [...this.#runs.values()].filter((r) => !r.lost).map((r) => r.lease.shardId),
        clock: this.#clock,
      });
    }
    this.#failureDestination = this.#console
      ? this.#console.captureImages(options.failureDestination)
      : options.failureDestination;
  }

  /** The lease store in use. */
  get leaseStore(): LeaseStore {
    return this.#store;
  }

  /** The Prometheus registry behind `/metrics`. */
  get metrics(): PrometheusMetrics {
    return this.#metrics;
  }

  /** The bound HTTP port, once started with `httpPort`. */
  get httpPort(): number | undefined {
    return this.#httpPort;
  }

  /** Lease keys this worker reads now. */
  ownedLeaseKeys(): string[] {
    return this.#coordinator.activeLeaseKeys();
  }

  /** Whether the worker is started and renewed its leases within a lease duration. */
  isReady(): boolean {
    const at = this.#coordinator.lastRenewedAt;
    return (
      this.#started !== undefined &&
      this.#stopping === undefined &&
      at !== undefined &&
      this.#clock() - at < this.#leaseDurationMs
    );
  }

  /** Joins the fleet: creates the lease table if asked, lists shards, takes leases, and runs. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const o = this.#options;
    if (this.#store instanceof DynamoDBLeaseStore) {
      if (o.createLeaseTable !== false) await this.#store.createTableIfNotExists();
      else await this.#store.assertTableExists();
    }
    // Setup problems (a missing stream, no region) fail the start, before any lease is taken.
    const listed = await this.#listSources();
    await this.#checkViewTypes();
    if (o.httpPort !== undefined) {
      this.#health = new HealthServer(
        {
          ready: () => this.isReady(),
          status: () => ({
            workerId: this.workerId,
            leases: this.#coordinator.leaseCount,
            shards: this.ownedLeaseKeys().length,
          }),
        },
        this.#metrics.registry,
        this.#console?.handler,
      );
      this.#httpPort = await this.#health.listen(o.httpPort, o.httpHost ?? defaultHttpHost());
      this.#console?.start();
    }
    if (o.signal?.aborted) return;
    o.signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (o.handleSignals) this.#installSignalHandlers();
    await this.#coordinator.renewRound();
    await this.#coordinator.takeRound();
    await this.#discoverAll(listed);
    await this.#coordinator.takeRound();
    this.#renewTimer = every(
      this.#renewIntervalMs,
      () => this.#coordinator.renewRound(),
      this.#log,
    );
    this.#timers.push(
      every(
        o.takeIntervalMs ?? DEFAULT_WORKER.takeIntervalMs,
        () => this.#coordinator.takeRound(),
        this.#log,
      ),
      every(
        o.discoveryIntervalMs ?? DEFAULT_WORKER.discoveryIntervalMs,
        () => this.#discoverAll(),
        this.#log,
      ),
    );
    this.#log.info(
      { streams: [...this.#sources.keys()], leases: this.#coordinator.leaseCount },
      'worker started',
    );
  }

  /**
   * Stops gracefully: no new leases or reads, in-flight records finish, checkpoints are
   * committed, leases released (so the fleet takes them at once). Idempotent. Resolves `true`
   * when everything finished within `shutdownTimeoutMs`.
   */
  stop(): Promise<boolean> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<boolean> {
    const deadline = this.#options.shutdownTimeoutMs ?? DEFAULT_WORKER.shutdownTimeoutMs;
    const started = Date.now();
    this.#log.info({ deadlineMs: deadline }, 'worker stopping');
    if (this.#signalHandler) {
      process.off('SIGTERM', this.#signalHandler);
      process.off('SIGINT', this.#signalHandler);
    }
    await this.#started?.catch(() => undefined);
    await Promise.all(this.#timers.map((t) => t.stop()));
    for (const run of this.#runs.values()) run.controller.abort();
    // Keep renewing while in-flight records finish, so no lease expires mid-shutdown.
    const margin = Math.min(2000, deadline / 5);
    const finished = await Promise.race([
      Promise.all([...this.#runs.values()].map((r) => r.done)).then(() => true),
      sleep(Math.max(0, deadline - margin)).then(() => false),
    ]);
    // Past the deadline the pages in hand are interrupted; what is done is still committed.
    for (const run of this.#runs.values()) run.abort.abort();
    await this.#renewTimer?.stop();
    await this.#coordinator.releaseAll();
    try {
      await this.#options.sink?.close?.();
    } catch (error) {
      this.#log.warn({ err: toError(error) }, 'sink close failed');
    }
    await this.#console?.stop();
    await this.#health?.close();
    const inTime = finished && Date.now() - started <= deadline;
    this.#log.info({ inTime, durationMs: Date.now() - started }, 'worker stopped');
    return inTime;
  }

  #installSignalHandlers(): void {
    this.#signalHandler = () => {
      void this.stop().then(
        (inTime) => process.exit(inTime ? 0 : 1),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', this.#signalHandler);
    process.once('SIGINT', this.#signalHandler);
  }

  // ─── discovery ────────────────────────────────────────────────────────────────────────

  /**
   * Each source's shards, listed once at start: an error no retry can cure (a
   * {@link ConfigurationError} such as a missing stream or no region, access denied) fails the
   * start with every such problem named; a transient one is logged and discovery lists again.
   */
  async #listSources(): Promise<Map<string, ShardInfo[]>> {
    const listed = new Map<string, ShardInfo[]>();
    const problems: ShardlineError[] = [];
    for (const source of this.#sources.values()) {
      try {
        listed.set(source.streamId, await source.listShards());
      } catch (error) {
        // A source's own verdict only (StreamReadError, ConfigurationError): an error of
        // unknown kind from a custom source is left to discovery's retries.
        if (error instanceof ShardlineError && !error.retriable) problems.push(error);
        else {
          this.#log.warn(
            { err: toError(error), streamId: source.streamId },
            'shard discovery failed',
          );
        }
      }
    }
    if (problems.length === 1) throw problems[0];
    if (problems.length > 1) {
      throw new ConfigurationError(problems.map((p) => p.message).join('\n'), {
        cause: problems[0],
      });
    }
    return listed;
  }

  /**
   * Fails the start when a sink needs images the stream does not carry (a summary on a
   * NEW_IMAGE stream): said once, naming the table, the view types and the fix, rather than as
   * a failure of every record.
   */
  async #checkViewTypes(): Promise<void> {
    const sinks = [this.#options.sink, ttlRouteOf(this.#options.ttlDeletes)].filter(
      (s): s is Sink => s?.requiredStreamViewTypes !== undefined,
    );
    if (sinks.length === 0) return;
    for (const source of this.#sources.values()) {
      const found = await source.streamViewType?.();
      for (const sink of sinks) {
        const error = streamViewTypeError(sink, found, source.streamId);
        if (error) throw error;
      }
    }
  }

  /** Discovers new shards of every source; `listed` holds listings already made (at start). */
  async #discoverAll(listed?: ReadonlyMap<string, ShardInfo[]>): Promise<void> {
    let changed = false;
    for (const source of this.#sources.values()) {
      try {
        changed = (await this.#discover(source, listed?.get(source.streamId))) || changed;
      } catch (error) {
        this.#log.warn(
          { err: toError(error), streamId: source.streamId },
          'shard discovery failed',
        );
      }
    }
    if (changed) await this.#coordinator.noteLeaseSetChanged();
  }

  async #discover(source: ShardSource, listing?: ShardInfo[]): Promise<boolean> {
    const shards = listing ?? (await source.listShards());
    const listed = new Set(shards.map((s) => s.shardId));
    const initial = this.#options.initialPosition ?? DEFAULT_WORKER.initialPosition;
    let changed = false;
    // Parents before children, so a child sees whether its parent got a lease.
    for (const shard of orderByLineage(shards)) {
      const leaseKey = this.#store.leaseKeyFor(source.streamId, shard.shardId);
      if (this.#coordinator.knows(leaseKey)) continue;
      const parentLeased = shard.parentShardIds.some((p) =>
        this.#coordinator.knows(this.#store.leaseKeyFor(source.streamId, p)),
      );
      // With LATEST, closed shards of a new application are not read (nothing after LATEST).
      if (!parentLeased && initial === 'LATEST' && shard.endingSequenceNumber !== undefined) {
        continue;
      }
      const created = await this.#coordinator.createLease({
        leaseKey,
        streamId: source.streamId,
        shardId: shard.shardId,
        checkpoint: parentLeased
          ? 'TRIM_HORIZON'
          : typeof initial === 'string'
            ? initial
            : 'AT_TIMESTAMP',
        parentShardIds: shard.parentShardIds,
        childShardIds: [],
        ...(shard.hashKeyRange ? { hashKeyRange: shard.hashKeyRange } : {}),
      });
      if (created) {
        changed = true;
        this.events.emit('shard.discovered', {
          streamId: source.streamId,
          shardId: shard.shardId,
          parentShardIds: shard.parentShardIds,
        });
      }
    }
    // Ended shards the stream no longer lists (trimmed): their leases are no longer needed;
    // their children treat a missing parent lease as done, as the KCL does.
    for (const lease of this.#coordinator.knownLeases()) {
      if (
        lease.streamId === source.streamId &&
        lease.checkpoint === 'SHARD_END' &&
        !listed.has(lease.shardId)
      ) {
        await this.#coordinator.deleteLease(lease.leaseKey);
        changed = true;
      }
    }
    return changed;
  }

  // ─── shard readers ────────────────────────────────────────────────────────────────────

  #startShard(lease: Lease, generation: number): void {
    if (this.#stopping) return;
    const previous = this.#runs.get(lease.leaseKey);
    if (previous) {
      // The lease was lost and taken again (a checkpoint reset) while its old reader is still
      // stopping: start the new reader, from the lease's checkpoint, once the old one is gone.
      // The old reader's commits are fenced on its own acquisition, so its last position does
      // not overwrite the reset checkpoint meanwhile.
      if (previous.lost) {
        void previous.done.then(() => {
          if (this.#coordinator.holds(lease.leaseKey, generation)) {
            this.#startShard(lease, generation);
          }
        });
      }
      return;
    }
    const source = this.#sources.get(lease.streamId);
    if (!source) {
      this.#log.warn(
        { leaseKey: lease.leaseKey },
        'lease of a stream this worker does not read; releasing',
      );
      void this.#coordinator.release(lease.leaseKey);
      return;
    }
    const run: ShardRun = {
      lease,
      generation,
      // Handed to every read, handler, sink write and backoff of the shard at once.
      controller: sharedAbortController(),
      abort: sharedAbortController(),
      handover: false,
      lost: false,
      done: Promise.resolve(),
      lag: new ShardLag(),
    };
    this.#runs.set(lease.leaseKey, run);
    const labels = { stream: lease.streamId, shard: lease.shardId };
    const untrack = this.#metrics.track('iterator_age_ms', labels, () =>
      run.lag.valueAt(Date.now()),
    );
    run.done = this.#runShard(source, run).then(
      (reason) => this.#shardStopped(run, untrack, reason),
      (error: unknown) => {
        this.#log.error(
          { err: toError(error), shardId: lease.shardId },
          'shard reader stopped on an unexpected error',
        );
        this.#shardStopped(run, untrack, run.lost ? 'lost' : 'shutdown');
      },
    );
  }

  /** The shard is no longer read here: its gauges go (`shard.stopped`), its run is forgotten. */
  #shardStopped(run: ShardRun, untrack: () => void, reason: ShardStopReason): void {
    const { lease } = run;
    if (this.#runs.get(lease.leaseKey) === run) this.#runs.delete(lease.leaseKey);
    untrack();
    this.events.emit('shard.stopped', { streamId: lease.streamId, shardId: lease.shardId, reason });
  }

  #stopShard(leaseKey: string, why: 'lost' | 'handover'): void {
    const run = this.#runs.get(leaseKey);
    if (why === 'handover' && !run) {
      void this.#coordinator.finishHandover(leaseKey);
      return;
    }
    if (!run) return;
    if (why === 'lost') {
      run.lost = true;
      run.abort.abort();
    } else {
      run.handover = true;
    }
    run.controller.abort();
  }

  async #runShard(source: ShardSource, run: ShardRun): Promise<ShardStopReason> {
    const { lease, generation } = run;
    const o = this.#options;
    // The consumer binds shardId and the processor writes it in its lines: bound here too, it
    // would be written twice on each line.
    const logger = this.#log.child({ component: 'shard-consumer' });
    const shardLog = logger.child({ shardId: lease.shardId });
    let checkpoint: Checkpoint | undefined = lease.checkpoint;
    const flush = flushOfSinks(o.sink, ttlRouteOf(o.ttlDeletes));
    for (let attempt = 1; ; attempt++) {
      const signal = run.controller.signal;
      if (signal.aborted && !run.handover) break;
      if (checkpoint === 'SHARD_END') {
        await this.#coordinator.shardEnded(lease.leaseKey, [], generation);
        return 'ended';
      }
      const processor = new BatchProcessor({
        ...(o.handler ? { handler: o.handler } : {}),
        ...(o.keyBatchHandler ? { keyBatchHandler: o.keyBatchHandler } : {}),
        ...(o.sink ? { sink: o.sink } : {}),
        ...(o.effect ? { effect: o.effect } : {}),
        ...(o.filters ? { filters: o.filters } : {}),
        ...(o.ttlDeletes ? { ttlDeletes: o.ttlDeletes } : {}),
        ...(o.globalTables ? { globalTables: o.globalTables } : {}),
        concurrency: o.concurrency,
        // A processor lives for one run of one shard's consumer, which hands it each record once
        // (a retry round passes only the records not done) and reads on after the last record
        // returned: remembering every record would fill the event id window with ids that never
        // come back (about 1 µs a record, the packing of a Kinesis id). What can come back is
        // still remembered at once: the changes of a source that repeats them (a `version`,
        // "Kinesis Data Streams for DynamoDB"), and those done after the consumer aborted.
        remember: 'redelivered',
        retry: o.retry,
        failureDestination: this.#failureDestination,
        events: this.events,
        metrics: this.#metrics as Metrics,
        logger,
      });
      const consumer = new ShardConsumer({
        source,
        shardId: lease.shardId,
        from: startPosition(
          checkpoint,
          o.initialPosition ?? DEFAULT_WORKER.initialPosition,
          shardLog,
        ),
        processor,
        commit: (cp) => this.#coordinator.commit(lease.leaseKey, cp, generation),
        // A buffering sink is flushed before each checkpoint, so none passes a buffered write.
        ...(flush ? { flush } : {}),
        commitEveryRecords: o.commitEveryRecords,
        commitIntervalMs: o.commitIntervalMs,
        minReadIntervalMs: o.minReadIntervalMs,
        idlePollIntervalMs: o.idlePollIntervalMs,
        maxIdleDelayMs: o.maxIdleDelayMs,
        lag: run.lag,
        events: this.events,
        metrics: this.#metrics,
        logger,
      });
      try {
        const result = await consumer.run(signal, run.abort.signal);
        if (result.ended) {
          await this.#coordinator.shardEnded(lease.leaseKey, result.childShardIds, generation);
          // Children get leases now, not at the next discovery round.
          if (await this.#discover(source).catch(() => false)) {
            await this.#coordinator.noteLeaseSetChanged();
          }
          return 'ended';
        }
        if (run.handover) {
          await this.#coordinator.finishHandover(lease.leaseKey);
          return 'handover';
        }
        return run.lost ? 'lost' : 'shutdown';
      } catch (error) {
        if (error instanceof LeaseLostError || run.lost) {
          this.#coordinator.markLost(lease.leaseKey, toError(error).message, generation);
          return 'lost';
        }
        if (run.handover) {
          await this.#coordinator.finishHandover(lease.leaseKey);
          return 'handover';
        }
        checkpoint = consumer.tracker.committed ?? checkpoint;
        const delayMs = RESTART_BACKOFF.delayMs(attempt);
        shardLog.error(
          { err: toError(error), attempt, delayMs },
          'shard reader failed; restarting it from the last checkpoint',
        );
        try {
          await sleep(delayMs, signal);
        } catch {
          // A handover that arrives during the backoff: nothing is in flight, the checkpoint
          // is committed; finish it so the new owner need not wait for the handover timeout.
          if (run.handover && !run.lost) {
            await this.#coordinator.finishHandover(lease.leaseKey);
            return 'handover';
          }
          return run.lost ? 'lost' : 'shutdown';
        }
      }
    }
    return run.lost ? 'lost' : 'shutdown';
  }
}

/** A failed shard reader restarts after core's backoff: 1 s doubling to 30 s, full jitter. */
const RESTART_BACKOFF = RetryPolicy.untilStopped(1000, 30_000);

/** Creates a {@link Worker}; call `start()` to join the fleet. */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options);
}

function startPosition(
  checkpoint: Checkpoint | undefined,
  initial: InitialPosition,
  log: Logger,
): StartPosition {
  if (checkpoint === undefined || checkpoint === 'AT_TIMESTAMP') {
    if (typeof initial === 'object') return { type: 'AT_TIMESTAMP', timestamp: initial.timestamp };
    if (checkpoint === 'AT_TIMESTAMP') {
      // A KCL lease created AT_TIMESTAMP, read by a worker set to another initial position:
      // the timestamp is not in the lease, so read from the oldest record (nothing skipped).
      log.warn(
        { initialPosition: initial },
        'the lease checkpoint is AT_TIMESTAMP but initialPosition is not AT_TIMESTAMP; reading from TRIM_HORIZON (set initialPosition to { type: "AT_TIMESTAMP", timestamp } to start at the time)',
      );
      return { type: 'TRIM_HORIZON' };
    }
    return { type: initial };
  }
  if (checkpoint === 'TRIM_HORIZON' || checkpoint === 'LATEST') return { type: checkpoint };
  if (checkpoint === 'SHARD_END') return { type: 'LATEST' };
  return {
    type: 'AFTER_SEQUENCE_NUMBER',
    sequenceNumber: checkpoint.sequenceNumber,
    subSequenceNumber: checkpoint.subSequenceNumber,
  };
}

/** A bad or unsupported initial position fails at construction, naming the fix. */
function checkInitialPosition(
  initial: InitialPosition | undefined,
  sources: readonly ShardSource[],
): void {
  if (initial === undefined || initial === 'TRIM_HORIZON' || initial === 'LATEST') return;
  if (typeof initial !== 'object' || initial.type !== 'AT_TIMESTAMP') {
    throw new ConfigurationError(
      `initialPosition must be 'TRIM_HORIZON', 'LATEST' or { type: 'AT_TIMESTAMP', timestamp: Date }, got ${JSON.stringify(initial)}.`,
    );
  }
  if (!(initial.timestamp instanceof Date) || Number.isNaN(initial.timestamp.getTime())) {
    throw new ConfigurationError(
      `initialPosition AT_TIMESTAMP needs a valid Date as timestamp, got ${String(initial.timestamp)}.`,
    );
  }
  const dynamodb = sources.filter((s) => s.kind === 'dynamodb-streams');
  if (dynamodb.length > 0) {
    throw new ConfigurationError(
      `initialPosition AT_TIMESTAMP is a Kinesis position; DynamoDB Streams has none (${dynamodb.map((s) => s.streamId).join(', ')}). Use 'TRIM_HORIZON' (the last 24 h) or 'LATEST' for DynamoDB Streams sources.`,
    );
  }
}

function orderByLineage<T extends { shardId: string; parentShardIds: readonly string[] }>(
  shards: readonly T[],
): T[] {
  const byId = new Map(shards.map((s) => [s.shardId, s]));
  const out: T[] = [];
  const seen = new Set<string>();
  const visit = (s: T) => {
    if (seen.has(s.shardId)) return;
    seen.add(s.shardId);
    for (const p of s.parentShardIds) {
      const parent = byId.get(p);
      if (parent) visit(parent);
    }
    out.push(s);
  };
  for (const s of shards) visit(s);
  return out;
}

/** Runs `fn` every `ms` (never overlapping); `stop` waits for a run in flight. */
function every(ms: number, fn: () => Promise<unknown>, log: Logger): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const tick = () => {
    running = fn()
      .catch((error: unknown) => log.warn({ err: toError(error) }, 'periodic task failed'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, ms);
      });
  };
  timer = setTimeout(tick, ms);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
