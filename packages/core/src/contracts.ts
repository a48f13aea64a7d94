import type { ChangeRecord, SourceKind, StreamViewType } from './ChangeRecord.js';
import type { EventBus } from './events.js';
import type { Logger } from './Logger.js';
import type { Metrics } from './metrics.js';
import type { StreamPosition } from './sequenceNumbers.js';

// ─── Sources ────────────────────────────────────────────────────────────────────────────────

/** One shard of a stream, with its lineage. */
export interface ShardInfo {
  readonly shardId: string;
  /** Parent shards (one after a split or rollover, two after a Kinesis merge). */
  readonly parentShardIds: readonly string[];
  readonly startingSequenceNumber: string | undefined;
  /** Set once the shard is closed: no record will be written after it. */
  readonly endingSequenceNumber: string | undefined;
  /** Kinesis hash key range; DynamoDB Streams shards have none. */
  readonly hashKeyRange?: { readonly startingHashKey: string; readonly endingHashKey: string };
}

/** Where a shard reader starts. */
export type StartPosition =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'LATEST' }
  | { readonly type: 'AT_TIMESTAMP'; readonly timestamp: Date }
  | { readonly type: 'AT_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | {
      readonly type: 'AFTER_SEQUENCE_NUMBER';
      readonly sequenceNumber: string;
      /** Inside a KPL aggregate: resume after this user record of the aggregate. */
      readonly subSequenceNumber?: number | undefined;
    };

/** What one read of a shard returned. */
export interface ShardReadResult {
  readonly records: readonly ChangeRecord[];
  /**
   * How far behind the newest record of the shard the reader is, in ms, when known: Kinesis'
   * `MillisBehindLatest`; on DynamoDB Streams the age of the page's newest record, and 0 for an
   * empty page of an open shard (the reader is at its end).
   */
  readonly millisBehindLatest: number | undefined;
  /** True when the shard is closed and every record was returned (SHARD_END). */
  readonly shardEnded: boolean;
  /** Children of an ended shard, when the service said (Kinesis ChildShards, CHILD_SHARDS filter). */
  readonly childShardIds?: readonly string[] | undefined;
}

/** Reads one shard from a start position, one GetRecords page at a time. */
export interface ShardIterator {
  /** Reads the next page. Re-acquires expired iterators itself. */
  next(signal?: AbortSignal): Promise<ShardReadResult>;
  /**
   * True when the service pushes pages (Kinesis enhanced fan-out, `SubscribeToShard`): `next`
   * waits for the next event itself, so the reader asks again at once after an empty page
   * instead of sleeping `idlePollIntervalMs` (which would only delay the records that arrive
   * meanwhile). Absent or false for polled sources (GetRecords), which the reader paces.
   */
  readonly pushed?: boolean;
}

/**
 * Where a source reports what happens to its shards (trimmed data, re-acquired iterators,
 * throttled listings, out-of-range KPL records): the worker hands its own to every source.
 */
export interface SourceTelemetry {
  readonly events?: EventBus | undefined;
  readonly metrics?: Metrics | undefined;
  /** A logger the source binds its own `component` and `streamId` to. */
  readonly logger?: Logger | undefined;
}

/**
 * A stream made of shards: DynamoDB Streams or Kinesis. Both readers implement it, so the reader
 * loop, the worker and the CLI work with either.
 */
export interface ShardSource {
  readonly kind: SourceKind;
  /** The stream's id (ARN), stable across restarts: part of lease and checkpoint keys. */
  readonly streamId: string;
  /** Every shard the service still lists, with lineage. */
  listShards(signal?: AbortSignal): Promise<ShardInfo[]>;
  /** Opens a shard at a position. */
  openShard(shardId: string, from: StartPosition, signal?: AbortSignal): Promise<ShardIterator>;
  /**
   * Which images the stream's records carry (DynamoDB Streams' `StreamViewType`), so that a
   * sink that needs an image fails at start rather than at every record. Absent, or resolving
   * to `undefined`, when the service does not say (Kinesis).
   */
  streamViewType?(signal?: AbortSignal): Promise<StreamViewType | undefined>;
  /**
   * The same source (client and settings) reporting to `telemetry` wherever its own options
   * gave no `events`, `metrics` or `logger`: the worker calls it once per source, so that what
   * the source reports reaches the worker's event bus, `/metrics` and logs with no wiring by
   * hand. It returns a new source and leaves this one as it is (two workers of one process may
   * share a source object).
   */
  withTelemetry?(telemetry: SourceTelemetry): ShardSource;
}

// ─── Sinks ──────────────────────────────────────────────────────────────────────────────────

/** Context handed to a sink with each batch. */
export interface SinkContext {
  readonly signal?: AbortSignal | undefined;
  /** Attempt number of this batch (1 for the first write). */
  readonly attempt: number;
}

/** The outcome of one record of a sink batch. */
export type SinkRecordResult =
  | { readonly status: 'ok' }
  | { readonly status: 'failed'; readonly error: Error; readonly retriable: boolean };

/**
 * What applying a change does to its target. It decides whether the pipeline may drop a change
 * that is older than one already applied to the same item (a *stale* change, which sources that
 * reorder, "Kinesis Data Streams for DynamoDB", deliver): that is safe only when the target keeps
 * the item's latest state and nothing else.
 */
export const ChangeEffect = {
  /**
   * The target holds each item's latest state (a search index, a replica table): an older
   * change of an item, arriving after a newer one was applied, would only roll it back, so the
   * pipeline drops it as `stale`.
   */
  LastWriterWins: 'last-writer-wins',
  /**
   * Each change adds to the target (counters, summaries, anything that applies deltas): every
   * change must reach it once, in whatever order it comes. Nothing is dropped as stale.
   */
  Delta: 'delta',
  /**
   * Each change is an output of its own (an archive, notifications): every change must reach
   * the target. Nothing is dropped as stale. The default, because it never loses a change.
   */
  EveryChange: 'every-change',
} as const;
/** One of {@link ChangeEffect}. */
export type ChangeEffect = (typeof ChangeEffect)[keyof typeof ChangeEffect];

/**
 * Where changes go. `write` applies a batch given in shard order and returns one result per
 * record, in the same order; it throws only when the whole batch failed (network, auth).
 *
 * Within one write, a sink applies records of the same ordering key in the order given. A sink
 * states in its README whether it is idempotent under replay; the ones Shardline ships are.
 */
export interface Sink {
  /** A short name for logs and metrics (`opensearch`, `s3`, …). */
  readonly name: string;
  /**
   * What a change does to this sink (see {@link ChangeEffect}). Only a `last-writer-wins` sink
   * lets the pipeline drop a change older than one already applied to the same item; a
   * redelivered change (same event id) is dropped for every sink.
   * @default 'every-change': every change is written, none is dropped as stale
   */
  readonly effect?: ChangeEffect;
  /** The most records `write` accepts at once; the pipeline splits larger batches. */
  readonly maxBatchSize?: number;
  /**
   * The DynamoDB stream view types this sink can work with (any one of them), when it needs
   * images: a summary needs the old image to take a change back. The worker checks the
   * stream's view type at start and the Lambda handler each batch's, and both fail with
   * {@link streamViewTypeError} instead of failing every record. Absent: any view type.
   */
  readonly requiredStreamViewTypes?: readonly StreamViewType[];
  write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]>;
  /** Writes what the sink buffers (S3 objects in progress). */
  flush?(signal?: AbortSignal): Promise<void>;
  /** Flushes and frees resources. */
  close?(): Promise<void>;
}

// ─── Checkpoints and leases ─────────────────────────────────────────────────────────────────

/** Checkpoint sentinels, as the KCL writes them. */
export const CheckpointSentinel = {
  TrimHorizon: 'TRIM_HORIZON',
  Latest: 'LATEST',
  /**
   * A lease created with an AT_TIMESTAMP initial position and not read yet. As in the KCL, the
   * timestamp is the application's setting (the worker's `initialPosition`), not the lease's.
   */
  AtTimestamp: 'AT_TIMESTAMP',
  ShardEnd: 'SHARD_END',
} as const;
/** One of {@link CheckpointSentinel}. */
export type CheckpointSentinel = (typeof CheckpointSentinel)[keyof typeof CheckpointSentinel];

/** A committed checkpoint: a position, or a sentinel. */
export type Checkpoint = StreamPosition | CheckpointSentinel;

/**
 * Proof that the caller holds a lease, checked by the store on every write so that a worker
 * that lost its lease cannot move the checkpoint (fencing).
 */
export interface LeaseToken {
  readonly leaseKey: string;
  readonly owner: string;
  readonly leaseCounter: number;
  /** The previous owner's last commit during a graceful handover (fenced on `checkpointOwner`). */
  readonly handover?: boolean;
}

/** Reads and commits checkpoints. */
export interface CheckpointStore {
  /** The checkpoint of a shard, or `undefined` when none was committed. */
  getCheckpoint(streamId: string, shardId: string): Promise<Checkpoint | undefined>;
  /**
   * Commits a checkpoint. With a `lease`, the write is conditional on that owner and lease
   * counter and throws `LeaseLostError` otherwise. A token with `handover: true` is the previous
   * owner's final commit during a graceful handover: conditional on `checkpointOwner` instead.
   */
  commitCheckpoint(
    streamId: string,
    shardId: string,
    checkpoint: Checkpoint,
    lease?: LeaseToken,
  ): Promise<void>;
}

/** One lease: the right of one worker to read one shard. */
export interface Lease {
  readonly leaseKey: string;
  readonly streamId: string;
  readonly shardId: string;
  readonly leaseOwner: string | undefined;
  readonly leaseCounter: number;
  readonly checkpoint: Checkpoint | undefined;
  readonly ownerSwitchesSinceCheckpoint: number;
  readonly parentShardIds: readonly string[];
  readonly childShardIds: readonly string[];
  readonly hashKeyRange?: { readonly startingHashKey: string; readonly endingHashKey: string };
  /**
   * During a graceful handover, the previous owner that still has to checkpoint (KCL 3's
   * `checkpointOwner`): the new owner waits until it is cleared before reading the shard.
   */
  readonly checkpointOwner?: string | undefined;
}

/**
 * One worker's entry in the fleet's coordination item: its heartbeat counter (moved on every
 * renewal round, judged like a lease counter by the observer's monotonic clock) and how many
 * leases it holds (what balancing plans from, without scanning the lease table).
 */
export interface WorkerHeartbeat {
  readonly workerId: string;
  readonly heartbeat: number;
  readonly leaseCount: number;
}

/** What the coordination item holds: the fleet's workers and the lease-set version. */
export interface FleetState {
  readonly workers: readonly WorkerHeartbeat[];
  /** Moves whenever a worker creates leases or ends a shard: others list the leases again then. */
  readonly leaseSetVersion: number;
  /** The last checkpoint reset (`shardline checkpoints reset`), when one was made. */
  readonly checkpointResets?: CheckpointResets;
}

/**
 * The owner an operator's tool writes while it moves a checkpoint (`shardline checkpoints
 * reset`): taking the lease under this name fences the worker that held it.
 */
export const CHECKPOINT_RESET_OWNER = 'shardline-cli';

/**
 * The last checkpoint reset, as the coordination item records it: a worker that sees `version`
 * move drops its reader of each lease named (its position in memory is no longer the
 * checkpoint) and takes the lease again, reading from the new checkpoint.
 */
export interface CheckpointResets {
  /** Moves with every reset. */
  readonly version: number;
  /** The leases the last reset moved, by lease key, with the checkpoint each was moved to. */
  readonly leases: ReadonlyMap<string, Checkpoint>;
}

/** Lease storage. Every write is conditional on the lease counter the caller last saw. */
export interface LeaseStore extends CheckpointStore {
  /** Every lease of the application. */
  listLeases(): Promise<Lease[]>;
  /** Creates a lease if it does not exist; returns false when it already did. */
  createLeaseIfNotExists(
    lease: Omit<Lease, 'leaseCounter' | 'leaseOwner' | 'ownerSwitchesSinceCheckpoint'>,
  ): Promise<boolean>;
  /** Takes a lease seen with `expectedCounter`; returns the new lease, or `undefined` if it moved. */
  takeLease(leaseKey: string, owner: string, expectedCounter: number): Promise<Lease | undefined>;
  /** Renews an owned lease; throws `LeaseLostError` when the counter or owner moved. */
  renewLease(token: LeaseToken): Promise<LeaseToken>;
  /** Gives a lease up so any worker may take it at once. */
  releaseLease(token: LeaseToken): Promise<void>;
  /** Deletes a lease (a finished shard whose children are done). */
  deleteLease(leaseKey: string): Promise<void>;

  // The members below let a fleet coordinate without every worker scanning the whole table
  // every round (KCL 2's cost, which grows with fleet size × shards).

  /** The lease key of a shard of a stream (bare shard id, or KCL's multi-stream form). */
  leaseKeyFor(streamId: string, shardId: string): string;
  /** One lease, read strongly consistent; `undefined` when absent. */
  getLease(leaseKey: string): Promise<Lease | undefined>;
  /** The leases one worker owns (KCL 3's `LeaseOwnerToLeaseKeyIndex`). */
  listLeasesByOwner(owner: string): Promise<Lease[]>;
  /**
   * Takes a lease from a live owner gracefully: the new owner is set at once and the previous
   * one recorded as `checkpointOwner`, so it may still commit its last checkpoint, then calls
   * {@link LeaseStore.completeHandover}. Returns the new lease, or `undefined` if it moved.
   */
  handoverLease(
    leaseKey: string,
    from: string,
    to: string,
    expectedCounter: number,
  ): Promise<Lease | undefined>;
  /** Clears `checkpointOwner` once the previous owner committed (or gave up). */
  completeHandover(leaseKey: string, previousOwner: string): Promise<void>;
  /** Records the shards that followed an ended shard (KCL's `childShardIds`). */
  setChildShardIds(token: LeaseToken, childShardIds: readonly string[]): Promise<void>;
  /** Moves this worker's heartbeat and publishes its lease count (one small write). */
  heartbeat(workerId: string, leaseCount: number): Promise<void>;
  /** The coordination item: every worker entry and the lease-set version (one small read). */
  readFleet(): Promise<FleetState>;
  /** Bumps the lease-set version, telling the fleet to list the leases again (created, ended). */
  noteLeaseSetChanged(): Promise<void>;
  /**
   * Records a checkpoint reset made outside the fleet (the leases were taken, their checkpoints
   * written and the leases released): moves {@link CheckpointResets.version} and the lease-set
   * version, so every worker notices at its next take round.
   */
  noteCheckpointReset?(leases: ReadonlyMap<string, Checkpoint>): Promise<void>;
  /** Removes a worker entry: its own on shutdown, or a dead one (if its heartbeat is still `expectedHeartbeat`). */
  removeWorker(workerId: string, expectedHeartbeat?: number): Promise<void>;
}

// ─── Failure destinations ───────────────────────────────────────────────────────────────────

/**
 * A record that could not be applied, kept whole so it can be replayed. Unlike Lambda's own
 * on-failure destinations, which carry only batch metadata, this carries the record itself.
 */
export interface FailedRecord {
  /** The record as the source delivered it (`ChangeRecord.raw`, in its `toJSON` form if it has one): plain JSON data. */
  readonly record: unknown;
  readonly source: SourceKind;
  readonly streamId: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number | undefined;
  readonly orderingKey: string;
  readonly error: { readonly name: string; readonly message: string; readonly retriable: boolean };
  readonly attempts: number;
  /** When the record was parked, ISO 8601. */
  readonly failedAt: string;
}

/** Where records go when the retry policy gives up on them (SQS, SNS, S3, memory). */
export interface FailureDestination {
  readonly name: string;
  send(records: readonly FailedRecord[], signal?: AbortSignal): Promise<void>;
}

/** A failure destination that can be read back, for `shardline replay`. */
export interface ReplayableFailureDestination extends FailureDestination {
  /** Reads parked records; `acknowledge` removes them once replayed. */
  receive(options?: {
    maxRecords?: number;
    signal?: AbortSignal;
  }): Promise<{ readonly failed: FailedRecord; acknowledge(): Promise<void> }[]>;
}
