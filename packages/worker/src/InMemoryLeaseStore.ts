import {
  type Checkpoint,
  type CheckpointResets,
  type FleetState,
  type Lease,
  LeaseLostError,
  type LeaseStore,
  type LeaseToken,
  type WorkerHeartbeat,
} from '@shardline/core';

/** Calls made to an {@link InMemoryLeaseStore}, by kind: what a DynamoDB table would bill. */
export interface LeaseStoreCallCounts {
  reads: number;
  /** Leases (items) returned by full listings: what a Scan of the table would read. */
  itemsScanned: number;
  writes: number;
}

/** Options of an {@link InMemoryLeaseStore}. */
export interface InMemoryLeaseStoreOptions {
  /**
   * Key leases by stream and shard (`<streamId>:<shardId>`) instead of by shard id alone, so
   * one store serves several streams. @default true
   */
  readonly multiStream?: boolean;
}

type MutableLease = { -readonly [K in keyof Lease]: Lease[K] };

/**
 * A {@link LeaseStore} in memory, with the same conditional semantics as the DynamoDB store:
 * for tests, for single-process use, and for the fleet simulation benchmark. Every write checks
 * owner and lease counter as DynamoDB's condition expressions do.
 */
export class InMemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, MutableLease>();
  readonly #workers = new Map<string, WorkerHeartbeat>();
  readonly #multiStream: boolean;
  #leaseSetVersion = 0;
  #resets: CheckpointResets | undefined;
  /** Calls so far, by kind. */
  readonly calls: LeaseStoreCallCounts = { reads: 0, itemsScanned: 0, writes: 0 };

  constructor(options: InMemoryLeaseStoreOptions = {}) {
    this.#multiStream = options.multiStream ?? true;
  }

  leaseKeyFor(streamId: string, shardId: string): string {
    return this.#multiStream ? `${streamId}:${shardId}` : shardId;
  }

  async listLeases(): Promise<Lease[]> {
    this.calls.reads++;
    this.calls.itemsScanned += this.#leases.size;
    return [...this.#leases.values()].map((l) => ({ ...l }));
  }

  async getLease(leaseKey: string): Promise<Lease | undefined> {
    this.calls.reads++;
    const lease = this.#leases.get(leaseKey);
    return lease ? { ...lease } : undefined;
  }

  async listLeasesByOwner(owner: string): Promise<Lease[]> {
    this.calls.reads++;
    return [...this.#leases.values()].filter((l) => l.leaseOwner === owner).map((l) => ({ ...l }));
  }

  async createLeaseIfNotExists(
    lease: Omit<Lease, 'leaseCounter' | 'leaseOwner' | 'ownerSwitchesSinceCheckpoint'>,
  ): Promise<boolean> {
    this.calls.writes++;
    if (this.#leases.has(lease.leaseKey)) return false;
    this.#leases.set(lease.leaseKey, {
      ...lease,
      leaseOwner: undefined,
      leaseCounter: 0,
      ownerSwitchesSinceCheckpoint: 0,
    });
    return true;
  }

  async takeLease(
    leaseKey: string,
    owner: string,
    expectedCounter: number,
  ): Promise<Lease | undefined> {
    this.calls.writes++;
    const lease = this.#leases.get(leaseKey);
    if (!lease || lease.leaseCounter !== expectedCounter) return undefined;
    lease.ownerSwitchesSinceCheckpoint++;
    lease.leaseOwner = owner;
    lease.leaseCounter++;
    lease.checkpointOwner = undefined;
    return { ...lease };
  }

  async handoverLease(
    leaseKey: string,
    from: string,
    to: string,
    expectedCounter: number,
  ): Promise<Lease | undefined> {
    this.calls.writes++;
    const lease = this.#leases.get(leaseKey);
    if (!lease || lease.leaseCounter !== expectedCounter || lease.leaseOwner !== from) {
      return undefined;
    }
    lease.leaseOwner = to;
    lease.checkpointOwner = from;
    lease.leaseCounter++;
    lease.ownerSwitchesSinceCheckpoint++;
    return { ...lease };
  }

  async completeHandover(leaseKey: string, previousOwner: string): Promise<void> {
    this.calls.writes++;
    const lease = this.#leases.get(leaseKey);
    if (lease?.checkpointOwner === previousOwner) lease.checkpointOwner = undefined;
  }

  async renewLease(token: LeaseToken): Promise<LeaseToken> {
    this.calls.writes++;
    const lease = this.#fenced(token, 'renewal');
    lease.leaseCounter++;
    return { leaseKey: token.leaseKey, owner: token.owner, leaseCounter: lease.leaseCounter };
  }

  async releaseLease(token: LeaseToken): Promise<void> {
    this.calls.writes++;
    const lease = this.#fenced(token, 'release');
    lease.leaseOwner = undefined;
    lease.leaseCounter++;
  }

  async deleteLease(leaseKey: string): Promise<void> {
    this.calls.writes++;
    this.#leases.delete(leaseKey);
  }

  async setChildShardIds(token: LeaseToken, childShardIds: readonly string[]): Promise<void> {
    this.calls.writes++;
    const lease = this.#fenced(token, 'childShardIds update');
    lease.childShardIds = [...new Set([...lease.childShardIds, ...childShardIds])];
  }

  async getCheckpoint(streamId: string, shardId: string): Promise<Checkpoint | undefined> {
    this.calls.reads++;
    return this.#leases.get(this.leaseKeyFor(streamId, shardId))?.checkpoint;
  }

  async commitCheckpoint(
    streamId: string,
    shardId: string,
    checkpoint: Checkpoint,
    token?: LeaseToken,
  ): Promise<void> {
    this.calls.writes++;
    const leaseKey = this.leaseKeyFor(streamId, shardId);
    let lease = this.#leases.get(leaseKey);
    if (token?.handover) {
      if (!lease || lease.checkpointOwner !== token.owner) {
        throw new LeaseLostError(leaseKey, 'the handover to the new owner already completed');
      }
    } else if (token) {
      lease = this.#fenced(token, 'checkpoint');
    }
    if (!lease) {
      lease = {
        leaseKey,
        streamId,
        shardId,
        leaseOwner: undefined,
        leaseCounter: 0,
        checkpoint,
        ownerSwitchesSinceCheckpoint: 0,
        parentShardIds: [],
        childShardIds: [],
      };
      this.#leases.set(leaseKey, lease);
    }
    lease.checkpoint = checkpoint;
    lease.ownerSwitchesSinceCheckpoint = 0;
  }

  async heartbeat(workerId: string, leaseCount: number): Promise<void> {
    this.calls.writes++;
    const previous = this.#workers.get(workerId);
    this.#workers.set(workerId, {
      workerId,
      heartbeat: (previous?.heartbeat ?? 0) + 1,
      leaseCount,
    });
  }

  async readFleet(): Promise<FleetState> {
    this.calls.reads++;
    return {
      workers: [...this.#workers.values()],
      leaseSetVersion: this.#leaseSetVersion,
      ...(this.#resets ? { checkpointResets: this.#resets } : {}),
    };
  }

  async noteCheckpointReset(leases: ReadonlyMap<string, Checkpoint>): Promise<void> {
    this.calls.writes++;
    this.#resets = { version: (this.#resets?.version ?? 0) + 1, leases: new Map(leases) };
    this.#leaseSetVersion++;
  }

  async noteLeaseSetChanged(): Promise<void> {
    this.calls.writes++;
    this.#leaseSetVersion++;
  }

  async removeWorker(workerId: string, expectedHeartbeat?: number): Promise<void> {
    this.calls.writes++;
    const entry = this.#workers.get(workerId);
    if (!entry) return;
    if (expectedHeartbeat !== undefined && entry.heartbeat !== expectedHeartbeat) return;
    this.#workers.delete(workerId);
  }

  #fenced(token: LeaseToken, what: string): MutableLease {
    const lease = this.#leases.get(token.leaseKey);
    if (!lease) throw new LeaseLostError(token.leaseKey, `${what} refused: the lease was deleted`);
    if (lease.leaseOwner !== token.owner) {
      throw new LeaseLostError(
        token.leaseKey,
        `${what} refused: owner is now ${lease.leaseOwner ?? 'nobody'}, not ${token.owner}`,
      );
    }
    if (lease.leaseCounter !== token.leaseCounter) {
      throw new LeaseLostError(
        token.leaseKey,
        `${what} refused: lease counter is ${lease.leaseCounter}, expected ${token.leaseCounter}`,
      );
    }
    return lease;
  }
}
