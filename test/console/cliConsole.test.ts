/**
 * `shardline console` against a real lease table: a Worker reads DynamoDB Local's stream spread
 * over two shards (the multi-shard server), and the CLI, in this process with the standard
 * `AWS_ENDPOINT_URL_*` variables, serves the same console from the lease table and the stream.
 */
import { ExitCode, runCli } from '@shardline/cli';
import type { ConsoleState, Worker } from '@shardline/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleWorld, SECRET, startConsoleWorld, until } from './helpers/consoleWorld.js';

const APP = 'cli-console';
let world: ConsoleWorld;
let worker: Worker;

beforeAll(async () => {
  world = await startConsoleWorld(2);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: world.dynamoEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: world.streams.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  worker = await world.startWorker('cli-console-worker', undefined, APP);
  await world.put(0, 20);
  await until(() => world.applied.length >= 20);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe('shardline console', () => {
  it('serves the lease table: the worker, its leases, throughput, then the records behind once it stops', async () => {
    // arrange: the CLI serves the console on a free loopback port, sampling every 250 ms
    let stdout = '';
    const stop = new AbortController();
    const exit = runCli(
      ['console', '--app', APP, '--port', '0', '--sample-interval', '250'],
      {
        stdout: { write: (t: string) => (stdout += t), isTTY: false },
        stderr: { write: () => true, isTTY: false },
        env: process.env,
      },
      stop.signal,
    );
    const url = await until(() => /(http:\/\/127\.0\.0\.1:\d+\/console\/)/.exec(stdout)?.[1]);
    const state = async () => (await (await fetch(`${url}api/state`)).json()) as ConsoleState;
    const shardIds = world.streams
      .shards()
      .map((s) => s.shardId)
      .sort();
    try {
      // act 1: the worker holds both leases; orders flow while the CLI samples
      await until(async () => {
        const s = await state();
        return s.history.series.length === 2 && s.history.series.every((x) => x.points.length >= 2);
      });
      await world.put(20, 60);
      await until(() => world.applied.length >= 60);
      const live = await until(async () => {
        const s = await state();
        const moved = s.history.series.some((x) => x.points.some((p) => (p[2] ?? 0) > 0));
        return moved && s;
      });
      // assert 1: the fleet, the leases, lineage and throughput as the lease table says
      expect(live.servedBy).toEqual({ kind: 'cli' });
      const entry = live.workers.find((w) => w.workerId === 'cli-console-worker');
      expect(entry?.shardIds).toEqual(shardIds);
      expect(live.shards.map((s) => s.shardId).sort()).toEqual(shardIds);
      for (const shard of live.shards) {
        expect(shard).toMatchObject({ owner: 'cli-console-worker', status: 'active', depth: 0 });
        expect(shard.checkpoint).toMatch(/^\d+$/);
      }
      expect(JSON.stringify(live)).not.toContain(SECRET);
      // act 2: the worker stops (its checkpoints stay) and ten more orders arrive
      await worker.stop();
      await world.put(60, 70);
      const stopped = await until(async () => {
        const s = await state();
        const behind = s.shards.reduce((n, x) => n + (x.recordsBehind ?? 0), 0);
        return s.shards.every((x) => x.owner === null) && behind === 10 && s;
      });
      // assert 2: exactly the ten unread orders are behind, with their age as the lag
      for (const shard of stopped.shards) {
        if (shard.recordsBehind) expect(shard.lagMs).toBeGreaterThanOrEqual(0);
        else expect(shard.lagMs).toBe(0);
      }
      expect(JSON.stringify(stopped)).not.toContain(SECRET);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      const root = await fetch(url.replace('/console/', '/'), { redirect: 'manual' });
      expect(root.headers.get('location')).toBe('/console/');
      const post = await fetch(`${url}api/state`, { method: 'POST' });
      expect(post.status).toBe(405);
    } finally {
      stop.abort();
    }
    expect(await exit).toBe(ExitCode.Ok);
  });
});
