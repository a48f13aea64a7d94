import type { Lease, LeaseStore, ShardInfo, ShardSource } from '@shardline/core';
import { toError } from '@shardline/core';
import { type MonotonicClock, monotonicNow } from '../clock.js';

/** Options of {@link LeaseTableView}. */
export interface LeaseTableViewOptions {
  readonly store: LeaseStore;
  /** The streams whose shard lineage is listed (DescribeStream / ListShards). */
  readonly sources: readonly ShardSource[];
  /** Least time between two reads of the lease table, in ms. @default 2000 */
  readonly leaseRefreshMs?: number;
  /** Least time between two shard listings of a stream, in ms. @default 30_000 */
  readonly listingRefreshMs?: number;
  readonly clock?: MonotonicClock;
}

/** A worker entry of the coordination item, with how long ago its heartbeat moved. */
export interface ObservedWorker {
  readonly workerId: string;
  readonly leaseCount: number;
  /** ms since this view saw the heartbeat counter move; `null` until it has seen it move. */
  readonly heartbeatAgeMs: number | null;
}

/** What the lease table and the streams said, at most a refresh interval ago. */
export interface LeaseTableSnapshot {
  readonly leases: readonly Lease[];
  readonly workers: readonly ObservedWorker[];
  /** Listed shards per stream id (a stream whose listing failed is absent). */
  readonly shards: ReadonlyMap<string, readonly ShardInfo[]>;
  /** Problems met while reading (a failed listing), for the console's error list. */
  readonly problems: readonly string[];
}

/**
 * The console's cached view of an application's lease table and its streams' lineage. However
 * many pages poll, the table is read at most once per `leaseRefreshMs` and each stream listed at
 * most once per `listingRefreshMs`, so an open console costs a bounded number of calls.
 * Heartbeats are counters, so liveness is judged as the fleet judges it: by when this observer
 * saw the counter move, on its own monotonic clock.
 */
export class LeaseTableView {
  readonly #options: LeaseTableViewOptions;
  readonly #clock: MonotonicClock;
  readonly #heartbeats = new Map<string, { heartbeat: number; movedAt: number | null }>();
  readonly #listings = new Map<string, { at: number; shards: readonly ShardInfo[] }>();
  #snapshot: { at: number; value: Promise<LeaseTableSnapshot> } | undefined;

  constructor(options: LeaseTableViewOptions) {
    this.#options = options;
    this.#clock = options.clock ?? monotonicNow;
  }

  /** The latest snapshot, read again when older than the refresh interval. */
  read(): Promise<LeaseTableSnapshot> {
    const now = this.#clock();
    const refreshMs = this.#options.leaseRefreshMs ?? 2000;
    if (!this.#snapshot || now - this.#snapshot.at >= refreshMs) {
      const value = this.#read();
      this.#snapshot = { at: now, value };
      // A failed read is not cached: the next request tries again.
      value.catch(() => {
        if (this.#snapshot?.value === value) this.#snapshot = undefined;
      });
    }
    return this.#snapshot.value;
  }

  async #read(): Promise<LeaseTableSnapshot> {
    const { store } = this.#options;
    const [leases, fleet] = await Promise.all([store.listLeases(), store.readFleet()]);
    const now = this.#clock();
    const workers = fleet.workers.map((w) => {
      const seen = this.#heartbeats.get(w.workerId);
      if (!seen) this.#heartbeats.set(w.workerId, { heartbeat: w.heartbeat, movedAt: null });
      else if (seen.heartbeat !== w.heartbeat) {
        seen.heartbeat = w.heartbeat;
        seen.movedAt = now;
      }
      const movedAt = this.#heartbeats.get(w.workerId)!.movedAt;
      return {
        workerId: w.workerId,
        leaseCount: w.leaseCount,
        heartbeatAgeMs: movedAt === null ? null : now - movedAt,
      };
    });
    const problems: string[] = [];
    const shards = new Map<string, readonly ShardInfo[]>();
    for (const source of this.#options.sources) {
      try {
        shards.set(source.streamId, await this.#list(source, now));
      } catch (error) {
        problems.push(`listing the shards of ${source.streamId} failed: ${toError(error).message}`);
      }
    }
    return { leases, workers, shards, problems };
  }

  async #list(source: ShardSource, now: number): Promise<readonly ShardInfo[]> {
    const cached = this.#listings.get(source.streamId);
    if (cached && now - cached.at < (this.#options.listingRefreshMs ?? 30_000)) {
      return cached.shards;
    }
    const shards = await source.listShards();
    this.#listings.set(source.streamId, { at: now, shards });
    return shards;
  }
}
