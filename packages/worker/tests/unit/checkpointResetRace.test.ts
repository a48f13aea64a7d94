import {
  CHECKPOINT_RESET_OWNER,
  type Checkpoint,
  LeaseLostError,
  type ShardIterator,
  type StartPosition,
} from '@shardline/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createWorker,
  InMemoryLeaseStore,
  LeaseCoordinator,
  type LeaseListener,
  type Worker,
} from '../../src/index.js';
import { FakeShardSource, fakeSequenceNumber, fakeStream } from '../helpers/FakeShardSource.js';

const STREAM = 'arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024-01-01T00:00:00.000';
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** What `shardline checkpoints reset` does to one lease: take, write, release (no signal yet). */
async function resetCheckpoint(
  store: InMemoryLeaseStore,
  leaseKey: string,
  target: Checkpoint,
): Promise<void> {
  const held = (await store.getLease(leaseKey))!;
  const taken = (await store.takeLease(leaseKey, CHECKPOINT_RESET_OWNER, held.leaseCounter))!;
  const token = { leaseKey, owner: CHECKPOINT_RESET_OWNER, leaseCounter: taken.leaseCounter };
  await store.commitCheckpoint(held.streamId, held.shardId, target, token);
  await store.releaseLease(token);
}

/** One coordinator `a` holding the lease of shard-0; `generations` lists its acquisitions. */
async function holding(options: { fullScanIntervalMs?: number } = {}) {
  const store = new InMemoryLeaseStore();
  const clock = { now: 0 };
  const key = store.leaseKeyFor(STREAM, 'shard-0');
  await store.createLeaseIfNotExists({
    leaseKey: key,
    streamId: STREAM,
    shardId: 'shard-0',
    checkpoint: 'TRIM_HORIZON',
    parentShardIds: [],
    childShardIds: [],
  });
  const generations: number[] = [];
  const listener: LeaseListener = {
    acquired: (_lease, generation) => generations.push(generation),
    lost: () => {},
    handoverRequested: () => {},
  };
  const a = new LeaseCoordinator({
    store,
    workerId: 'a',
    listener,
    leaseDurationMs: 1000,
    stealCooldownMs: 0,
    clock: () => clock.now,
    ...options,
  });
  for (let i = 0; i < 2; i++) {
    await a.renewRound();
    await a.takeRound();
    clock.now += 200;
  }
  expect(generations).toHaveLength(1);
  return { store, clock, key, a, generations };
}

const seq = (n: number): Checkpoint => ({ sequenceNumber: String(n).padStart(21, '0') });

describe('checkpoint reset racing the old reader', () => {
  it("refuses the old reader's last commit when the worker took the lease back before the reset's signal", async () => {
    // arrange: the old reader R1 has committed up to 900; the CLI resets to 42
    const { store, key, a, generations } = await holding();
    const r1 = generations[0]!;
    await a.commit(key, seq(900), r1);
    await resetCheckpoint(store, key, seq(42));
    // act: a renewal notices the loss (R1 is told to stop) and a take round takes it back;
    // R1, still stopping (a sink flush), commits its position in memory
    await a.renewRound();
    await store.noteLeaseSetChanged();
    await a.takeRound();
    expect(generations).toHaveLength(2);
    const stale = await a.commit(key, seq(950), r1).catch((e: unknown) => e);
    // ...then the signal lands and the new reader is restarted once more
    await store.noteCheckpointReset(new Map([[key, seq(42)]]));
    await a.renewRound();
    await a.takeRound();
    // assert
    expect(stale).toBeInstanceOf(LeaseLostError);
    expect((await store.getLease(key))?.checkpoint).toEqual(seq(42));
  });

  it("refuses the old reader's last commit after the signal's drop and retake in one round", async () => {
    // arrange
    const { store, key, a, generations } = await holding();
    await resetCheckpoint(store, key, seq(42));
    await store.noteCheckpointReset(new Map([[key, seq(42)]]));
    // act: one round drops the lease (R1 told to stop) and takes it again; R1 commits late
    await a.takeRound();
    expect(generations).toHaveLength(2);
    const stale = await a.commit(key, seq(950), generations[0]).catch((e: unknown) => e);
    // assert: refused; the new reader commits as usual
    expect(stale).toBeInstanceOf(LeaseLostError);
    expect((await store.getLease(key))?.checkpoint).toEqual(seq(42));
    await a.commit(key, seq(43), generations[1]);
    expect((await store.getLease(key))?.checkpoint).toEqual(seq(43));
  });

  it('the old reader failing after the retake (markLost) does not drop the new ownership', async () => {
    // arrange
    const { store, clock, key, a, generations } = await holding({ fullScanIntervalMs: 1000 });
    await resetCheckpoint(store, key, seq(42));
    await store.noteCheckpointReset(new Map([[key, seq(42)]]));
    await a.takeRound(); // drops R1's lease and takes it again
    expect(a.holds(key, generations[1])).toBe(true);
    // act: R1 (aborted) throws an AbortError from a sink retry backoff; the worker marks its
    // acquisition lost
    a.markLost(key, 'AbortError', generations[0]);
    for (let i = 0; i < 50; i++) {
      await a.renewRound();
      await a.takeRound();
      clock.now += 200;
    }
    // assert: still held by the new acquisition (a lease naming this worker is never retaken)
    expect(a.holds(key, generations[1])).toBe(true);
    expect(generations).toHaveLength(2);
  });

  describe('Worker', () => {
    const FAST = {
      leaseDurationMs: 600,
      renewIntervalMs: 150,
      takeIntervalMs: 50,
      discoveryIntervalMs: 200,
      minReadIntervalMs: 5,
      maxIdleDelayMs: 20,
      logger: silent,
      applicationName: 'app',
    } as const;
    const workers: Worker[] = [];
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
    });

    it('a reader stopped by a reset and slow to flush does not commit over the reset checkpoint', async () => {
      // arrange: one worker, one shard of 40 records; it commits only when a reader stops, and
      // its sink's flush can be held (a slow bucket)
      const store = new InMemoryLeaseStore();
      const source = new FakeShardSource(fakeStream('s', 1, 40));
      const applied: string[] = [];
      let hold: Promise<void> | undefined;
      let flushHeld = false;
      const stopped: string[] = [];
      const worker = createWorker({
        ...FAST,
        commitIntervalMs: 600_000,
        commitEveryRecords: 1_000_000,
        sources: source,
        leaseStore: store,
        sink: {
          name: 'buffering',
          write: async (batch) => {
            applied.push(...batch.map((r) => r.sequenceNumber));
            return batch.map(() => ({ status: 'ok' as const }));
          },
          flush: async () => {
            if (!hold) return;
            flushHeld = true;
            await hold;
          },
        },
      });
      workers.push(worker);
      worker.events.on('shard.stopped', (e) => stopped.push(e.reason));
      await worker.start();
      await until(() => applied.length === 40);
      const key = (await store.listLeases())[0]!.leaseKey;
      const before = (await store.getLease(key))!;
      let release!: () => void;
      hold = new Promise<void>((r) => {
        release = r;
      });
      // act: the CLI resets the shard to record 9; R1 stops and its final commit waits on the
      // flush until the worker holds the lease again
      await resetCheckpoint(store, key, { sequenceNumber: fakeSequenceNumber(9) });
      await store.noteCheckpointReset(new Map([[key, { sequenceNumber: fakeSequenceNumber(9) }]]));
      await until(() => flushHeld);
      await until(async () => {
        const now = await store.getLease(key);
        return now?.leaseOwner === worker.workerId && now.leaseCounter > before.leaseCounter + 2;
      });
      hold = undefined;
      release();
      await until(() => stopped.includes('lost'));
      // assert: the reset checkpoint stands; the new reader reads the shard again from it
      expect((await store.getLease(key))?.checkpoint).toEqual({
        sequenceNumber: fakeSequenceNumber(9),
      });
      await until(() => applied.length === 40 + 30);
      expect(applied.slice(40)).toEqual(
        Array.from({ length: 30 }, (_, i) => fakeSequenceNumber(10 + i)),
      );
      await worker.stop();
      expect(await store.getLease(key)).toMatchObject({
        checkpoint: { sequenceNumber: fakeSequenceNumber(39) },
      });
    });

    it('a reader stopped by a reset in its sink retry backoff does not orphan the shard', async () => {
      // arrange: one worker, one shard; the sink fails every write, so the reader waits in the
      // retry backoff between attempts
      const store = new InMemoryLeaseStore();
      const applied: string[] = [];
      let failing = true;
      let attempts = 0;
      const worker = createWorker({
        ...FAST,
        commitIntervalMs: 50,
        sources: new FakeShardSource(fakeStream('s', 1, 40)),
        leaseStore: store,
        retry: { maxAttempts: 1_000_000, baseDelayMs: 50, maxDelayMs: 200 },
        sink: {
          name: 'unreachable',
          write: async (batch) => {
            attempts++;
            if (failing) throw new Error('bucket unreachable');
            applied.push(...batch.map((r) => r.sequenceNumber));
            return batch.map(() => ({ status: 'ok' as const }));
          },
        },
      });
      workers.push(worker);
      await worker.start();
      await until(() => attempts >= 3);
      const key = (await store.listLeases())[0]!.leaseKey;
      const before = (await store.getLease(key))!;
      // act: the CLI resets the shard to record 9; once the worker holds it again, the sink heals
      await resetCheckpoint(store, key, { sequenceNumber: fakeSequenceNumber(9) });
      await store.noteCheckpointReset(new Map([[key, { sequenceNumber: fakeSequenceNumber(9) }]]));
      await until(async () => {
        const now = await store.getLease(key);
        return now?.leaseOwner === worker.workerId && now.leaseCounter > before.leaseCounter + 2;
      });
      failing = false;
      // assert: the shard is read again from the reset checkpoint, by this (only) worker
      await until(() => applied.includes(fakeSequenceNumber(39)));
      expect(applied[0]).toBe(fakeSequenceNumber(10));
      expect(worker.ownedLeaseKeys()).toEqual([key]);
    });

    it('finishes a handover that arrives while a failed reader waits to restart', async () => {
      // arrange: w1 reads two shards from a source that fails every open, so its readers spend
      // their time in the restart backoff; the handover timeout is far beyond the test's wait
      class FailingSource extends FakeShardSource {
        override async openShard(shardId: string, from: StartPosition): Promise<ShardIterator> {
          void from;
          throw new Error(`stream unreachable (shard ${shardId})`);
        }
      }
      const store = new InMemoryLeaseStore();
      const spec = fakeStream('s', 2, 10);
      const options = {
        ...FAST,
        stealCooldownMs: 0,
        handoverTimeoutMs: 600_000,
        leaseStore: store,
        handler: () => {},
      };
      const w1 = createWorker({ ...options, workerId: 'w1', sources: new FailingSource(spec) });
      workers.push(w1);
      await w1.start();
      await until(() => w1.ownedLeaseKeys().length === 2);
      // act: w2 joins and takes one lease over for balance
      const w2 = createWorker({ ...options, workerId: 'w2', sources: new FakeShardSource(spec) });
      workers.push(w2);
      await w2.start();
      // assert: w1 hands it over from its backoff; w2 reads it without waiting for the timeout
      await until(() => w2.ownedLeaseKeys().length === 1);
      expect(w1.ownedLeaseKeys()).toHaveLength(1);
    });
  });
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
