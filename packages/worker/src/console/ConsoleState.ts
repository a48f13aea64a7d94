/**
 * What the console page shows, as served at `/console/api/state`: one JSON document, built by
 * {@link buildConsoleState} in the worker and in `shardline console` alike. Read-only and
 * redacted: it names keys, shards, sequence numbers and errors, never record images (unless the
 * server was started with `showRecordImages`) and never credentials or settings.
 */
export interface ConsoleState {
  /** When the state was built, ISO 8601. */
  readonly generatedAt: string;
  readonly application: string;
  /** Who serves the page: a worker (in-process figures) or `shardline console` (the lease table). */
  readonly servedBy:
    | { readonly kind: 'worker'; readonly workerId: string }
    | { readonly kind: 'cli' };
  /** The fleet, from the lease table's coordination item and lease owners. */
  readonly workers: readonly ConsoleWorker[];
  /** Every shard with a lease or listed by the stream, parents before children. */
  readonly shards: readonly ConsoleShard[];
  /** Lag and throughput per shard over the last minutes. */
  readonly history: ConsoleHistoryState;
  /** The most recent parked records, newest first. */
  readonly parked: readonly ConsoleParkedRecord[];
  /** The most recent errors and warnings (failed records, lost leases, trimmed data), newest first. */
  readonly errors: readonly ConsoleErrorEntry[];
  /** Caveats about the figures (e.g. DynamoDB Local's minute-rounded record times). */
  readonly notes: readonly string[];
}

/** A worker of the fleet. */
export interface ConsoleWorker {
  readonly workerId: string;
  /** Shard ids whose lease this worker owns, per the lease table. */
  readonly shardIds: readonly string[];
  /** The lease count the worker published with its heartbeat, when it has one. */
  readonly publishedLeaseCount: number | null;
  /**
   * Time since this server saw the worker's heartbeat counter move, in ms (`null`: not seen to
   * move yet, or the worker has no heartbeat entry).
   */
  readonly heartbeatAgeMs: number | null;
  /** Whether this is the worker serving the page. */
  readonly self: boolean;
}

/** A shard, placed in its stream's lineage tree. */
export interface ConsoleShard {
  readonly streamId: string;
  readonly shardId: string;
  readonly parentShardIds: readonly string[];
  /** 0 for a shard whose parents are not known (trimmed, or none). */
  readonly depth: number;
  /** `closed`: no record will be written to it (it has an ending sequence number or children). */
  readonly status: 'active' | 'closed';
  /** Whether its lease is checkpointed at SHARD_END (every record of it is done). */
  readonly finished: boolean;
  readonly leaseKey: string | null;
  readonly owner: string | null;
  /** The lease checkpoint as text: a sequence number or a sentinel; `null` without a lease. */
  readonly checkpoint: string | null;
  /** The latest lag figure, in ms (see {@link ConsoleHistoryState.lagMeaning}). */
  readonly lagMs: number | null;
  /** Records after the checkpoint (`shardline console` only; a lower bound when capped). */
  readonly recordsBehind: number | null;
  /** Records processed per second over the latest sample interval. */
  readonly recordsPerSecond: number | null;
}

/** One point of a shard's history: `[epoch ms, lag ms, records per second]`. */
export type ConsoleSample = readonly [number, number | null, number | null];

/** Samples kept per shard. */
export interface ConsoleSeries {
  readonly shardId: string;
  readonly points: readonly ConsoleSample[];
}

/** The history the chart draws. */
export interface ConsoleHistoryState {
  readonly sampleIntervalMs: number;
  /** What "lag" means for this server's figures. */
  readonly lagMeaning: string;
  readonly series: readonly ConsoleSeries[];
}

/** A parked record: its key, shard, position and error (its images only when enabled). */
export interface ConsoleParkedRecord {
  /** When it was parked, ISO 8601. */
  readonly at: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** The record's ordering key (the item key, or the Kinesis partition key). */
  readonly key: string;
  readonly attempts: number;
  readonly error: string;
  /** The record as delivered, only with `showRecordImages`. */
  readonly record?: unknown;
}

/** An error or warning worth seeing. */
export interface ConsoleErrorEntry {
  readonly at: string;
  /** What happened: `record.failed`, `lease.lost`, `shard.dataTrimmed`, `lease.moved`, … */
  readonly kind: string;
  readonly shardId: string | null;
  readonly message: string;
}
