/**
 * The console's state endpoint on a real Worker: DynamoDB Local's stream spread over three
 * shards by the multi-shard server, leases in a DynamoDB Local lease table. What the page draws
 * comes from `/console/api/state`, so these tests pin what it says: the fleet and the leases
 * each worker holds, the lineage after a rollover, lag and throughput sampled per shard, the
 * parked records (keys, positions, errors) and that record images never appear unless enabled.
 */
import type { ConsoleShard, ConsoleState, Worker } from '@shardline/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleWorld, SECRET, startConsoleWorld, until } from './helpers/consoleWorld.js';

let world: ConsoleWorld;
const workers = new Map<string, Worker>();

async function start(
  id: string,
  ...rest: Parameters<ConsoleWorld['startWorker']> extends [string, ...infer R] ? R : never
) {
  const worker = await world.startWorker(id, ...rest);
  workers.set(id, worker);
  return worker;
}

const portOf = (id: string) => workers.get(id)!.httpPort;

beforeAll(async () => {
  world = await startConsoleWorld(3);
});

afterAll(async () => {
  await world?.stop();
});

async function stateOf(port: number | undefined): Promise<ConsoleState> {
  const response = await fetch(`http://127.0.0.1:${port}/console/api/state`);
  expect(response.status).toBe(200);
  return (await response.json()) as ConsoleState;
}

const shardIds = () => world.streams.shards().map((s) => s.shardId);

describe('console state of a running worker', () => {
  it('shows the worker, the leases it holds, lag and throughput per shard and the parked records, without record images', async () => {
    // arrange: the worker owns every shard and has sampled them twice before any record exists
    const worker = await start('worker-a');
    const port = worker.httpPort;
    await until(async () => {
      const state = await stateOf(port);
      return (
        state.shards.filter((s) => s.owner === 'worker-a').length === 3 &&
        state.history.series.length === 3 &&
        state.history.series.every((s) => s.points.length >= 2)
      );
    });
    // act: 30 orders, three of them refused by the handler and parked
    const poison = (n: number) => n % 10 === 3;
    await world.put(0, 30, poison);
    await until(() => world.parked.records.length === 3 && world.applied.length === 27);
    const state = await until(async () => {
      const s = await stateOf(port);
      const withTraffic = s.history.series.filter((x) => x.points.some((p) => (p[2] ?? 0) > 0));
      return s.parked.length === 3 && withTraffic.length > 0 && s;
    });
    // assert: the fleet and the leases it holds
    expect(state.servedBy).toEqual({ kind: 'worker', workerId: 'worker-a' });
    expect(state.application).toBe('orders-console');
    const self = state.workers.find((w) => w.workerId === 'worker-a');
    expect(self).toMatchObject({ self: true, shardIds: [...shardIds()].sort() });
    // every shard of the stream, open, owned, checkpointed at a sequence number
    expect(state.shards.map((s) => s.shardId).sort()).toEqual([...shardIds()].sort());
    for (const shard of state.shards) {
      expect(shard).toMatchObject({
        status: 'active',
        finished: false,
        owner: 'worker-a',
        depth: 0,
      });
    }
    // lag: each shard that got records has an iterator age, measured, not made up
    const read = new Set(world.parked.records.map((r) => r.shardId));
    for (const shard of state.shards.filter((s) => read.has(s.shardId))) {
      expect(typeof shard.lagMs).toBe('number');
      expect(shard.lagMs).toBeGreaterThanOrEqual(0);
    }
    // throughput: the records processed per second add up to the records applied
    const processed = state.history.series
      .flatMap((s) => s.points.map((p) => (p[2] ?? 0) * (state.history.sampleIntervalMs / 1000)))
      .reduce((a, b) => a + b, 0);
    expect(processed).toBeGreaterThan(0);
    // parked records: key, shard, sequence number and error, exactly the destination's
    const expected = world.parked.records.map((r) => ({
      shardId: r.shardId,
      sequenceNumber: r.sequenceNumber,
      key: r.orderingKey,
    }));
    expect(
      state.parked.map((p) => ({
        shardId: p.shardId,
        sequenceNumber: p.sequenceNumber,
        key: p.key,
      })),
    ).toEqual(expect.arrayContaining(expected));
    for (const p of state.parked) {
      expect(p.error).toMatch(/order o\d*3 refused/);
      expect(p.attempts).toBe(2);
      expect(p).not.toHaveProperty('record');
    }
    // no record image: not the secret the items hold, not the images' attribute names
    const text = JSON.stringify(state);
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/NewImage|OldImage|newImage|oldImage/);
  });

  it('shows a second worker joining and the leases each one holds', async () => {
    // arrange: worker-a from the previous test holds every lease
    const b = await start('worker-b');
    // act: worker-b takes its share
    const state = await until(async () => {
      const s = await stateOf(b.httpPort);
      const held = s.workers.find((w) => w.workerId === 'worker-b')?.shardIds.length ?? 0;
      return held >= 1 && s.workers.some((w) => w.workerId === 'worker-a') && s;
    });
    // assert: both workers listed, every lease held by one of them, as the shards table says
    expect(state.servedBy).toEqual({ kind: 'worker', workerId: 'worker-b' });
    const a = state.workers.find((w) => w.workerId === 'worker-a')!;
    const bEntry = state.workers.find((w) => w.workerId === 'worker-b')!;
    expect(bEntry.self).toBe(true);
    expect(a.self).toBe(false);
    for (const w of [a, bEntry]) {
      for (const shardId of w.shardIds) {
        expect(state.shards.find((s) => s.shardId === shardId)?.owner).toBe(w.workerId);
      }
    }
    expect(a.publishedLeaseCount).not.toBeNull();
  });

  it('draws the lineage after a rollover: the closed parent first, its child under it', async () => {
    // arrange
    const before = await stateOf((await start('worker-c')).httpPort);
    const parent = before.shards[0]!.shardId;
    // act: the parent closes and a child opens; records go on to the child
    const [child] = world.streams.rollover(parent);
    await world.put(100, 110);
    const state = await until(async () => {
      const s = await stateOf(portOf('worker-c'));
      const p = s.shards.find((x) => x.shardId === parent);
      const c = s.shards.find((x) => x.shardId === child);
      return p?.finished === true && c?.leaseKey != null && s;
    });
    // assert: parent before child, child one level deeper, parent closed and finished
    const index = (id: string) => state.shards.findIndex((s) => s.shardId === id);
    expect(index(parent)).toBeLessThan(index(child!));
    const p = state.shards[index(parent)] as ConsoleShard;
    const c = state.shards[index(child!)] as ConsoleShard;
    expect(p).toMatchObject({ status: 'closed', finished: true, checkpoint: 'SHARD_END' });
    expect(c).toMatchObject({ status: 'active', depth: p.depth + 1, parentShardIds: [parent] });
    expect(index(child!)).toBe(index(parent) + 1);
  });

  it('is read-only: every method but GET and HEAD is refused', async () => {
    // arrange
    const port = portOf('worker-a');
    // act
    const post = await fetch(`http://127.0.0.1:${port}/console/api/state`, { method: 'POST' });
    const del = await fetch(`http://127.0.0.1:${port}/console/`, { method: 'DELETE' });
    const page = await fetch(`http://127.0.0.1:${port}/console/`);
    // assert
    expect(post.status).toBe(405);
    expect(del.status).toBe(405);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script src="app.js"');
  });

  it('shows parked records whole only when showRecordImages is set', async () => {
    // arrange: a worker of another application (its own leases) with images enabled
    const worker = await start('worker-images', { showRecordImages: true }, 'orders-images');
    const parkedBefore = world.parked.records.length;
    // act
    await world.put(200, 202, (n) => n === 201);
    await until(() => world.parked.records.length > parkedBefore);
    const state = await until(async () => {
      const s = await stateOf(worker.httpPort);
      return s.parked.length > 0 && s;
    });
    // assert: with the setting, parked records carry their image (the secret included); this
    // application read the stream from the start, so it parked the earlier refused orders too
    const latest = await until(async () => {
      const s = await stateOf(worker.httpPort);
      return s.parked.some((p) => p.key.includes('o201')) && s;
    });
    expect(state.parked.length).toBeGreaterThan(0);
    for (const p of latest.parked) expect(JSON.stringify(p.record)).toContain(SECRET);
  });
});
