import { CHECKPOINT_RESET_OWNER, type Lease, LeaseLostError } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import { InMemoryLeaseStore, LeaseCoordinator, type LeaseListener } from '../../src/index.js';

const STREAM = 'arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024-01-01T00:00:00.000';

function makeFleet(workerIds: string[], store: InMemoryLeaseStore, clock: { now: number }) {
  const log: Record<string, string[]> = {};
  const coordinators = workerIds.map((workerId) => {
    log[workerId] = [];
    const listener: LeaseListener = {
      acquired: (l) => log[workerId]!.push(`acquired ${l.shardId}`),
      lost: (k) => log[workerId]!.push(`lost ${k}`),
      handoverRequested: (k) => {
        log[workerId]!.push(`handover ${k}`);
        void c.finishHandover(k);
      },
    };
    const c = new LeaseCoordinator({
      store,
      workerId,
      listener,
      leaseDurationMs: 1000,
      stealCooldownMs: 0,
      clock: () => clock.now,
    });
    return c;
  });
  return { coordinators, log };
}

async function seed(
  store: InMemoryLeaseStore,
  shards: number,
  parents: Record<string, string[]> = {},
) {
  for (let i = 0; i < shards; i++) {
    const shardId = `shard-${i}`;
    await store.createLeaseIfNotExists({
      leaseKey: store.leaseKeyFor(STREAM, shardId),
      streamId: STREAM,
      shardId,
      checkpoint: 'TRIM_HORIZON',
      parentShardIds: parents[shardId] ?? [],
      childShardIds: [],
    });
  }
}

async function rounds(
  coordinators: LeaseCoordinator[],
  clock: { now: number },
  n: number,
  stepMs = 200,
) {
  for (let r = 0; r < n; r++) {
    for (const c of coordinators) await c.renewRound();
    for (const c of coordinators) await c.takeRound();
    clock.now += stepMs;
  }
}

describe('LeaseCoordinator', () => {
  it('shares leases so every lease has exactly one owner and the spread is within one', async () => {
    // arrange
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 10);
    const { coordinators } = makeFleet(['a', 'b', 'c'], store, clock);
    // act
    await rounds(coordinators, clock, 8);
    // assert
    const leases = await store.listLeases();
    expect(leases.every((l) => l.leaseOwner !== undefined)).toBe(true);
    const counts = coordinators.map((c) => c.leaseCount).sort();
    expect(counts).toEqual([3, 3, 4]);
    const owned = coordinators.flatMap((c) => c.activeLeaseKeys());
    expect(new Set(owned).size).toBe(10);
  });

  it('takes the leases of a worker whose heartbeat stopped, only after the lease duration', async () => {
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 6);
    const { coordinators } = makeFleet(['a', 'b'], store, clock);
    await rounds(coordinators, clock, 6);
    const [a, b] = coordinators as [LeaseCoordinator, LeaseCoordinator];
    expect(a.leaseCount).toBe(3);
    // act: b stops renewing (killed); a keeps running
    let takenAt: number | undefined;
    const lastHeartbeatOfB = clock.now - 200;
    for (let r = 0; r < 20 && a.leaseCount < 6; r++) {
      await a.renewRound();
      await a.takeRound();
      if (a.leaseCount === 6) takenAt = clock.now;
      clock.now += 200;
    }
    // assert
    expect(a.leaseCount).toBe(6);
    expect(takenAt! - lastHeartbeatOfB).toBeGreaterThan(1000);
    await expect(b.renewRound()).resolves.toBeUndefined();
    expect(b.leaseCount).toBe(0);
  });

  it('fences a stale owner: its checkpoint write is refused with LeaseLostError', async () => {
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 1);
    const { coordinators } = makeFleet(['a', 'b'], store, clock);
    const [a, b] = coordinators as [LeaseCoordinator, LeaseCoordinator];
    await a.renewRound();
    await a.takeRound();
    const key = store.leaseKeyFor(STREAM, 'shard-0');
    expect(a.holds(key)).toBe(true);
    // act: a pauses; b sees the lease expire and takes it
    for (let r = 0; r < 10; r++) {
      await b.renewRound();
      await b.takeRound();
      clock.now += 300;
    }
    // assert
    expect(b.holds(key)).toBe(true);
    const error = await a.commit(key, { sequenceNumber: '42' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseLostError);
    expect((error as Error).message).toMatch(/owner is now b/);
    expect(await store.getCheckpoint(STREAM, 'shard-0')).toBe('TRIM_HORIZON');
  });

  it('hands a stolen lease over gracefully: the old owner commits first', async () => {
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 4);
    const { coordinators, log } = makeFleet(['a', 'b'], store, clock);
    const [a, b] = coordinators as [LeaseCoordinator, LeaseCoordinator];
    await a.renewRound();
    await a.takeRound();
    expect(a.leaseCount).toBe(4);
    // act: b joins and steals two
    await b.renewRound();
    await b.takeRound();
    await b.takeRound();
    expect(b.leaseCount).toBe(2);
    expect(log.b).toEqual([]); // waiting for the handover
    await a.renewRound(); // a notices and finishes (commits) each handed-over lease
    await new Promise((r) => setTimeout(r, 0));
    await b.renewRound();
    // assert
    expect(log.a!.filter((l) => l.startsWith('handover'))).toHaveLength(2);
    expect(log.b!.filter((l) => l.startsWith('acquired'))).toHaveLength(2);
    const leases = await store.listLeases();
    expect(leases.filter((l: Lease) => l.checkpointOwner !== undefined)).toEqual([]);
    expect(a.leaseCount + b.leaseCount).toBe(4);
  });

  it('waits for a live previous owner to finish the handover, past the lease duration', async () => {
    // arrange: a holds 4 leases; its records in hand take long (it finishes when told)
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 4);
    const requested: string[] = [];
    const acquiredByB: string[] = [];
    const options = { store, leaseDurationMs: 1000, stealCooldownMs: 0, clock: () => clock.now };
    const a = new LeaseCoordinator({
      ...options,
      workerId: 'a',
      listener: { acquired() {}, lost() {}, handoverRequested: (k) => requested.push(k) },
    });
    const b = new LeaseCoordinator({
      ...options,
      workerId: 'b',
      listener: {
        acquired: (l) => acquiredByB.push(l.leaseKey),
        lost() {},
        handoverRequested() {},
      },
    });
    await rounds([a], clock, 2);
    expect(a.leaseCount).toBe(4);
    // act: b steals two; a notices, keeps renewing its heartbeat, and is slow to finish
    await rounds([a, b], clock, 20, 200); // 4 s: four lease durations
    const acquiredWhileFinishing = [...acquiredByB];
    for (const key of requested) await a.commit(key, { sequenceNumber: '42' });
    for (const key of requested) await a.finishHandover(key);
    await rounds([a, b], clock, 2);
    // assert
    expect(requested).toHaveLength(2);
    expect(acquiredWhileFinishing).toEqual([]);
    expect(acquiredByB.sort()).toEqual([...requested].sort());
    for (const key of requested) {
      expect((await store.getLease(key))?.checkpoint).toEqual({ sequenceNumber: '42' });
    }
  });

  it('takes a handed-over lease after a lease duration when the previous owner died', async () => {
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 4);
    const { coordinators, log } = makeFleet(['a', 'b'], store, clock);
    const [a, b] = coordinators as [LeaseCoordinator, LeaseCoordinator];
    await rounds([a], clock, 2);
    await rounds([b], clock, 2); // b steals; a is dead from here on (no renewals, no heartbeat)
    expect(log.b).toEqual([]);
    // act
    await rounds([b], clock, 15, 200); // 3 s
    // assert
    expect(log.b!.filter((l) => l.startsWith('acquired')).length).toBeGreaterThanOrEqual(2);
  });

  it('a commit refused by a steal while a renewal notices the handover still commits as the final one', async () => {
    // arrange: b's steal lands; a's commit goes out as the owner's, and a's renewal sees the
    // handover before the commit's refusal comes back
    class GatedStore extends InMemoryLeaseStore {
      gate: Promise<void> | undefined;
      override async commitCheckpoint(
        ...args: Parameters<InMemoryLeaseStore['commitCheckpoint']>
      ): Promise<void> {
        if (this.gate && !args[3]?.handover) await this.gate;
        return super.commitCheckpoint(...args);
      }
    }
    const store = new GatedStore();
    const clock = { now: 0 };
    await seed(store, 1);
    const requested: string[] = [];
    const a = new LeaseCoordinator({
      store,
      workerId: 'a',
      leaseDurationMs: 1000,
      clock: () => clock.now,
      listener: { acquired() {}, lost() {}, handoverRequested: (k) => requested.push(k) },
    });
    await rounds([a], clock, 2);
    const key = store.leaseKeyFor(STREAM, 'shard-0');
    const lease = (await store.getLease(key))!;
    let open!: () => void;
    store.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    await store.handoverLease(key, 'a', 'b', lease.leaseCounter);
    // act: the renewal takes the lease's lock first and is refused; the commit goes out next
    const renewal = a.renewRound();
    const commit = a.commit(key, { sequenceNumber: '77' });
    await renewal; // noticed: handing over
    open(); // the commit's refusal comes back only now
    const outcome = await commit.then(
      () => 'committed',
      (error: Error) => error.name,
    );
    // assert
    expect(requested).toEqual([key]);
    expect(outcome).toBe('committed');
    expect((await store.getLease(key))?.checkpoint).toEqual({ sequenceNumber: '77' });
  });

  it('takes a child only after every parent reached SHARD_END', async () => {
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 3, { 'shard-1': ['shard-0'], 'shard-2': ['shard-0'] });
    const { coordinators } = makeFleet(['a'], store, clock);
    const [a] = coordinators as [LeaseCoordinator];
    await rounds(coordinators, clock, 2);
    expect(a.activeLeaseKeys()).toEqual([store.leaseKeyFor(STREAM, 'shard-0')]);
    // act
    const parent = store.leaseKeyFor(STREAM, 'shard-0');
    await a.commit(parent, 'SHARD_END');
    await a.shardEnded(parent, ['shard-1', 'shard-2']);
    await rounds(coordinators, clock, 2);
    // assert
    expect(a.activeLeaseKeys().sort()).toEqual([
      store.leaseKeyFor(STREAM, 'shard-1'),
      store.leaseKeyFor(STREAM, 'shard-2'),
    ]);
    expect((await store.getLease(parent))?.childShardIds).toEqual(['shard-1', 'shard-2']);
  });

  it('when one worker ends a parent, the others hear of it at once and every child is taken', async () => {
    // arrange: 10 shards on two workers; shard-0 is split into shard-10 and shard-11, whose
    // leases both workers already know (with the parent still open)
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 12, { 'shard-10': ['shard-0'], 'shard-11': ['shard-0'] });
    const { coordinators } = makeFleet(['a', 'b'], store, clock);
    await rounds(coordinators, clock, 10);
    const parent = store.leaseKeyFor(STREAM, 'shard-0');
    const owner = coordinators.find((c) => c.holds(parent))!;
    expect(coordinators.map((c) => c.leaseCount)).toEqual([5, 5]);
    // act: the owner ends the parent (nothing else tells the fleet)
    await owner.commit(parent, 'SHARD_END');
    await owner.shardEnded(parent, ['shard-10', 'shard-11']);
    await rounds(coordinators, clock, 5);
    // assert: both children are read, well before the next safety-net listing (60 s)
    const children = ['shard-10', 'shard-11'].map((s) => store.leaseKeyFor(STREAM, s));
    const owned = coordinators.flatMap((c) => c.activeLeaseKeys());
    expect(owned).toEqual(expect.arrayContaining(children));
    expect(coordinators.map((c) => c.leaseCount).sort()).toEqual([5, 6]);
  });

  it('does not take a child after losing the take race for its parent (the parent stays known)', async () => {
    // arrange: the parent's owner died; another worker wins the race to take the parent
    class RacedStore extends InMemoryLeaseStore {
      armed = false;
      raced = false;
      override async takeLease(leaseKey: string, owner: string, expectedCounter: number) {
        if (this.armed && !this.raced && leaseKey.endsWith('shard-0')) {
          this.raced = true;
          await super.takeLease(leaseKey, 'racer', expectedCounter);
          return undefined;
        }
        return super.takeLease(leaseKey, owner, expectedCounter);
      }
    }
    const store = new RacedStore();
    const clock = { now: 0 };
    await seed(store, 2, { 'shard-1': ['shard-0'] });
    const parent = store.leaseKeyFor(STREAM, 'shard-0');
    const dead = makeFleet(['dead'], store, clock).coordinators;
    await rounds(dead, clock, 2);
    expect(dead[0]!.activeLeaseKeys()).toEqual([parent]);
    clock.now += 5000; // the dead worker's lease expires
    store.armed = true;
    const { coordinators } = makeFleet(['a'], store, clock);
    const [a] = coordinators as [LeaseCoordinator];
    // act
    await rounds(coordinators, clock, 12);
    // assert: the parent is the racer's and not at SHARD_END, so the child is not offered
    expect(store.raced).toBe(true);
    expect((await store.getLease(parent))?.leaseOwner).toBe('racer');
    expect(a.activeLeaseKeys()).not.toContain(store.leaseKeyFor(STREAM, 'shard-1'));
  });

  it('a worker restarted with the same worker id takes back the leases that name it', async () => {
    // arrange: worker "a" holds every lease, then its process dies
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 3);
    const before = makeFleet(['a'], store, clock).coordinators;
    await rounds(before, clock, 3);
    expect(before[0]!.leaseCount).toBe(3);
    // act: a new process starts with the same worker id
    const after = makeFleet(['a'], store, clock).coordinators;
    await rounds(after, clock, 12);
    // assert
    expect(after[0]!.leaseCount).toBe(3);
  });

  it('a commit refused because a steal for balance landed finishes the handover (not a loss)', async () => {
    // arrange: a holds all four; b joins and steals two before a renews again
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 4);
    const { coordinators, log } = makeFleet(['a', 'b'], store, clock);
    const [a, b] = coordinators as [LeaseCoordinator, LeaseCoordinator];
    await a.renewRound();
    await a.takeRound();
    await b.renewRound();
    await b.takeRound();
    await b.takeRound();
    expect(b.leaseCount).toBe(2);
    const stolen = (await store.listLeasesByOwner('b')).map((l) => l.leaseKey);
    // act: a commits on a stolen lease before its next renewal notices the steal
    await a.commit(stolen[0]!, { sequenceNumber: '7' });
    await new Promise((r) => setTimeout(r, 0));
    await a.renewRound();
    await new Promise((r) => setTimeout(r, 0));
    await b.renewRound();
    // assert: the commit landed, a handed the lease over, b reads it at once from 7
    expect(log.a!.filter((l) => l.startsWith('lost'))).toEqual([]);
    expect(log.a).toContain(`handover ${stolen[0]}`);
    expect(log.b!.filter((l) => l.startsWith('acquired'))).toHaveLength(2);
    const lease = await store.getLease(stolen[0]!);
    expect(lease?.checkpoint).toEqual({ sequenceNumber: '7' });
    expect(lease?.leaseOwner).toBe('b');
    expect(lease?.checkpointOwner).toBeUndefined();
  });

  it("after a lost take race the lease is known as the winner's, and the fleet still balances", async () => {
    // arrange: six free leases; a loses the race for its first take to b
    class RacedStore extends InMemoryLeaseStore {
      armed = false;
      raced = false;
      override async takeLease(leaseKey: string, owner: string, expectedCounter: number) {
        if (this.armed && !this.raced && owner === 'a') {
          this.raced = true;
          await super.takeLease(leaseKey, 'b', expectedCounter);
          return undefined;
        }
        return super.takeLease(leaseKey, owner, expectedCounter);
      }
    }
    const store = new RacedStore();
    const clock = { now: 0 };
    await seed(store, 6);
    store.armed = true;
    const { coordinators } = makeFleet(['a', 'b'], store, clock);
    const [a, b] = coordinators as [LeaseCoordinator, LeaseCoordinator];
    // act
    await rounds(coordinators, clock, 30);
    // assert
    expect(store.raced).toBe(true);
    expect([a.leaseCount, b.leaseCount].sort()).toEqual([3, 3]);
  });

  it('after a checkpoint reset, drops and retakes the lease even when it took it back before the signal', async () => {
    // arrange: a holds shard-0
    const store = new InMemoryLeaseStore();
    const clock = { now: 0 };
    await seed(store, 1);
    const { coordinators, log } = makeFleet(['a'], store, clock);
    const [a] = coordinators as [LeaseCoordinator];
    await rounds(coordinators, clock, 2);
    const key = store.leaseKeyFor(STREAM, 'shard-0');
    // act: the CLI takes the lease, writes the checkpoint and releases it...
    const held = (await store.getLease(key))!;
    const taken = (await store.takeLease(key, CHECKPOINT_RESET_OWNER, held.leaseCounter))!;
    const token = {
      leaseKey: key,
      owner: CHECKPOINT_RESET_OWNER,
      leaseCounter: taken.leaseCounter,
    };
    const target = { sequenceNumber: '000000000000000000042' };
    await store.commitCheckpoint(STREAM, 'shard-0', target, token);
    await store.releaseLease(token);
    // ...a notices the loss on renewal and takes the lease back (a listing for another reason)
    await a.renewRound();
    await store.noteLeaseSetChanged();
    await a.takeRound();
    // ...and only then the CLI's signal lands
    await store.noteCheckpointReset(new Map([[key, target]]));
    await a.renewRound();
    await a.takeRound();
    // assert: the reader restarted once more, and a holds the lease in the table again
    expect(log.a).toEqual([
      'acquired shard-0',
      `lost ${key}`,
      'acquired shard-0',
      `lost ${key}`,
      'acquired shard-0',
    ]);
    expect((await store.getLease(key))?.leaseOwner).toBe('a');
    expect((await store.getLease(key))?.checkpoint).toEqual(target);
  });
});
