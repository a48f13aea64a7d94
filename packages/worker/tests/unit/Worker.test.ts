import type { ChangeRecord, Sink } from '@shardline/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createWorker,
  InMemoryLeaseStore,
  type Worker,
  type WorkerOptions,
} from '../../src/index.js';
import { FakeShardSource, fakeSequenceNumber, fakeStream } from '../helpers/FakeShardSource.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

const FAST = {
  leaseDurationMs: 600,
  renewIntervalMs: 150,
  takeIntervalMs: 50,
  discoveryIntervalMs: 200,
  commitIntervalMs: 50,
  minReadIntervalMs: 5,
  maxIdleDelayMs: 20,
  stealCooldownMs: 0,
  logger: silent,
} as const;

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until every store's (single) lease is checkpointed at `sequenceNumber`. */
async function untilCheckpointed(stores: readonly InMemoryLeaseStore[], sequenceNumber: string) {
  await until(async () => {
    for (const store of stores) {
      const [lease] = await store.listLeases();
      if (
        typeof lease?.checkpoint !== 'object' ||
        lease.checkpoint.sequenceNumber !== sequenceNumber
      )
        return false;
    }
    return true;
  });
}

describe('Worker', () => {
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });

  it('applies every record of every shard once, in order per key, across two workers', async () => {
    // arrange
    const spec = fakeStream('stream-a', 6, 60);
    const store = new InMemoryLeaseStore();
    const applied: ChangeRecord[] = [];
    const make = (workerId: string) =>
      createWorker({
        ...FAST,
        applicationName: 'app',
        workerId,
        sources: new FakeShardSource(spec),
        leaseStore: store,
        handler: (r) => {
          applied.push(r);
        },
      });
    workers.push(make('w1'), make('w2'));
    // act
    await Promise.all(workers.map((w) => w.start()));
    await until(() => applied.length >= 360);
    await until(async () =>
      (await store.listLeases()).every(
        (l) => typeof l.checkpoint === 'object' && l.checkpoint.sequenceNumber.endsWith('059'),
      ),
    );
    // assert
    expect(new Set(applied.map((r) => r.eventId)).size).toBe(360);
    const byKey = new Map<string, number[]>();
    for (const r of applied)
      byKey.set(r.orderingKey, [...(byKey.get(r.orderingKey) ?? []), Number(r.newImage?.n)]);
    for (const seq of byKey.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b));
    await until(() => workers.every((w) => w.ownedLeaseKeys().length === 3));
  });

  it('never skips a failing record: it is retried until it succeeds', async () => {
    const store = new InMemoryLeaseStore();
    let failures = 0;
    const applied: string[] = [];
    const worker = createWorker({
      ...FAST,
      applicationName: 'app',
      sources: new FakeShardSource(fakeStream('s', 1, 10)),
      leaseStore: store,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      handler: (r) => {
        if (r.eventId.endsWith('-3') && failures < 5) {
          failures++;
          throw new Error('downstream unavailable');
        }
        applied.push(r.eventId);
      },
    });
    workers.push(worker);
    await worker.start();
    await until(() => applied.length === 10);
    expect(failures).toBe(5);
    expect(applied).toContain('shardId-000000000000-3');
  });

  it('reads children only after their parent ended, and marks the parent SHARD_END', async () => {
    const source = new FakeShardSource({
      streamId: 's',
      shards: [
        { shardId: 'parent', records: 30, closed: true },
        { shardId: 'child-a', parentShardIds: ['parent'], records: 10 },
        { shardId: 'child-b', parentShardIds: ['parent'], records: 10 },
      ],
    });
    const store = new InMemoryLeaseStore();
    const order: string[] = [];
    const worker = createWorker({
      ...FAST,
      applicationName: 'app',
      sources: source,
      leaseStore: store,
      handler: async (r) => {
        order.push(r.shardId);
        await new Promise((res) => setTimeout(res, 1));
      },
    });
    workers.push(worker);
    await worker.start();
    await until(() => order.length === 50);
    const lastParent = order.lastIndexOf('parent');
    const firstChild = Math.min(order.indexOf('child-a'), order.indexOf('child-b'));
    expect(lastParent).toBeLessThan(firstChild);
    const parent = await store.getLease(store.leaseKeyFor('s', 'parent'));
    expect(parent?.checkpoint).toBe('SHARD_END');
    expect([...(parent?.childShardIds ?? [])].sort()).toEqual(['child-a', 'child-b']);
  });

  it('stops gracefully: commits, releases every lease and leaves the fleet (idempotent)', async () => {
    const store = new InMemoryLeaseStore();
    const applied: string[] = [];
    const worker = createWorker({
      ...FAST,
      commitIntervalMs: 60_000,
      applicationName: 'app',
      sources: new FakeShardSource(fakeStream('s', 3, 20)),
      leaseStore: store,
      handler: (r) => {
        applied.push(r.eventId);
      },
    });
    await worker.start();
    await until(() => applied.length === 60);
    // act
    const [first, second] = await Promise.all([worker.stop(), worker.stop()]);
    // assert
    expect(first).toBe(true);
    expect(second).toBe(true);
    const leases = await store.listLeases();
    expect(leases.map((l) => l.leaseOwner)).toEqual([undefined, undefined, undefined]);
    expect(
      leases.map((l) => (l.checkpoint as { sequenceNumber: string }).sequenceNumber.slice(-2)),
    ).toEqual(['19', '19', '19']);
    expect((await store.readFleet()).workers).toEqual([]);
  });

  it('flushes a buffering sink before each checkpoint; after a failed flush it re-reads, losing nothing', async () => {
    // arrange: a sink that buffers, and loses its buffer when the second flush fails
    const store = new InMemoryLeaseStore();
    const durable = new Set<string>();
    let buffer: string[] = [];
    let flushes = 0;
    let checkpointsAheadOfDurable = 0;
    const worker = createWorker({
      ...FAST,
      commitEveryRecords: 5,
      applicationName: 'app',
      sources: new FakeShardSource(fakeStream('s', 1, 40)),
      leaseStore: store,
      sink: {
        name: 'buffering',
        write: async (batch) => {
          buffer.push(...batch.map((r) => r.sequenceNumber));
          return batch.map(() => ({ status: 'ok' as const }));
        },
        flush: async () => {
          flushes++;
          const lost = buffer;
          buffer = [];
          if (flushes === 2) throw new Error('bucket unreachable');
          for (const seq of lost) durable.add(seq);
        },
      },
    });
    workers.push(worker);
    const commit = store.commitCheckpoint.bind(store);
    store.commitCheckpoint = async (streamId, shardId, checkpoint, token) => {
      if (typeof checkpoint === 'object') {
        const upTo = BigInt(checkpoint.sequenceNumber);
        for (let n = BigInt(fakeSequenceNumber(0)); n <= upTo; n++) {
          if (!durable.has(String(n))) checkpointsAheadOfDurable++;
        }
      }
      return commit(streamId, shardId, checkpoint, token);
    };
    // act
    await worker.start();
    await until(async () =>
      (await store.listLeases()).every(
        (l) =>
          typeof l.checkpoint === 'object' &&
          l.checkpoint.sequenceNumber === fakeSequenceNumber(39),
      ),
    );
    // assert: every record durable, and no checkpoint ever passed a record still in a buffer
    expect(flushes).toBeGreaterThan(2);
    expect(durable.size).toBe(40);
    expect(checkpointsAheadOfDurable).toBe(0);
  });

  it('stops when its AbortSignal aborts', async () => {
    const controller = new AbortController();
    const store = new InMemoryLeaseStore();
    const worker = createWorker({
      ...FAST,
      applicationName: 'app',
      sources: new FakeShardSource(fakeStream('s', 2, 5)),
      leaseStore: store,
      handler: () => {},
      signal: controller.signal,
    });
    await worker.start();
    await until(() => worker.ownedLeaseKeys().length === 2);
    controller.abort();
    await until(async () => (await store.listLeases()).every((l) => l.leaseOwner === undefined));
    expect(worker.isReady()).toBe(false);
  });

  it('reads several streams in one worker, with leases keyed by stream and shard', async () => {
    const store = new InMemoryLeaseStore();
    const seen = new Set<string>();
    const worker = createWorker({
      ...FAST,
      applicationName: 'app',
      sources: [
        new FakeShardSource(fakeStream('orders', 2, 5)),
        new FakeShardSource(fakeStream('users', 2, 5)),
      ],
      leaseStore: store,
      handler: (r) => {
        seen.add(`${r.streamId}/${r.eventId}`);
      },
    });
    workers.push(worker);
    await worker.start();
    await until(() => seen.size === 20);
    expect(worker.ownedLeaseKeys().sort()).toEqual([
      'orders:shardId-000000000000',
      'orders:shardId-000000000001',
      'users:shardId-000000000000',
      'users:shardId-000000000001',
    ]);
  });

  it('gives every change of a source that reorders to a handler or delta sink; only a last-writer-wins one drops the stale', async () => {
    // arrange: one item's three changes, newest first (Kinesis Data Streams for DynamoDB)
    const spec = {
      streamId: 'kds',
      shards: [
        { shardId: 'shardId-000000000000', records: 3, keys: 1, creationTimesMicros: [3, 1, 2] },
      ],
    };
    const every: number[] = [];
    const latest: number[] = [];
    const totals: number[] = [];
    const deltaSink: Sink = {
      name: 'delta-count',
      effect: 'delta',
      write: async (records) =>
        records.map((r) => {
          totals.push(Number(r.newImage?.n) - Number(r.oldImage?.n));
          return { status: 'ok' } as const;
        }),
    };
    const stores = [new InMemoryLeaseStore(), new InMemoryLeaseStore(), new InMemoryLeaseStore()];
    const run = (store: InMemoryLeaseStore, mode: Partial<WorkerOptions>) =>
      createWorker({
        ...FAST,
        applicationName: 'app',
        sources: new FakeShardSource(spec),
        leaseStore: store,
        ...mode,
      } as WorkerOptions);
    workers.push(
      run(stores[0]!, { handler: (r) => void every.push(Number(r.newImage?.n)) }),
      run(stores[1]!, {
        effect: 'last-writer-wins',
        handler: (r) => void latest.push(Number(r.newImage?.n)),
      }),
      run(stores[2]!, { sink: deltaSink }),
    );
    // act: run until every worker checkpointed the shard's last record
    await Promise.all(workers.map((w) => w.start()));
    const last = fakeSequenceNumber(2);
    await untilCheckpointed(stores, last);
    // assert: records carry n = 1, 2, 3 in stream order; the first is the newest change
    expect(every).toEqual([1, 2, 3]);
    expect(latest).toEqual([1]);
    expect(totals).toEqual([1, 1, 1]);
  });

  it('drops a change its source repeats (Kinesis Data Streams for DynamoDB) in handler and sink mode, remembering changes as the consumer passes them', async () => {
    // arrange: records 3 and 5 repeat the changes of records 1 and 0, each at its own sequence
    // number, pages of 2 (every repeat comes in a later batch), and one change retried
    const spec = {
      streamId: 'kds-repeats',
      shards: [
        {
          shardId: 'shardId-000000000000',
          records: 6,
          keys: 3,
          creationTimesMicros: [1, 2, 3, 4, 5, 6],
          copies: { 3: 1, 5: 0 },
        },
      ],
      pageSize: 2,
    };
    const handled: number[] = [];
    let failOnce = true;
    const totals: number[] = [];
    const deltaSink: Sink = {
      name: 'delta-count',
      effect: 'delta',
      write: async (records) =>
        records.map((r) => {
          totals.push(Number(r.newImage?.n));
          return { status: 'ok' } as const;
        }),
    };
    const stores = [new InMemoryLeaseStore(), new InMemoryLeaseStore()];
    const run = (store: InMemoryLeaseStore, mode: Partial<WorkerOptions>) =>
      createWorker({
        ...FAST,
        applicationName: 'app',
        sources: new FakeShardSource(spec),
        leaseStore: store,
        retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
        ...mode,
      } as WorkerOptions);
    workers.push(
      run(stores[0]!, {
        handler: (r) => {
          const n = Number(r.newImage?.n);
          if (n === 3 && failOnce) {
            failOnce = false;
            throw new Error('downstream hiccup');
          }
          handled.push(n);
        },
      }),
      run(stores[1]!, { sink: deltaSink }),
    );
    // act: run until both workers checkpointed the shard's last record
    await Promise.all(workers.map((w) => w.start()));
    const last = fakeSequenceNumber(5);
    await untilCheckpointed(stores, last);
    // assert: each change applied once; the repeats (n = 2 and 1 again) were dropped
    expect(handled).toEqual([1, 2, 3, 5]);
    expect(totals).toEqual([1, 2, 3, 5]);
  });

  it('rejects a configuration without exactly one processing mode', () => {
    expect(() =>
      createWorker({
        applicationName: 'app',
        sources: new FakeShardSource(fakeStream('s', 1, 1)),
        leaseStore: new InMemoryLeaseStore(),
      }),
    ).toThrow(/exactly one of handler, keyBatchHandler or sink/);
  });
});
