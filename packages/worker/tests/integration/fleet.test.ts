import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { comparePositions, type Lease, type StreamPosition } from '@shardline/core';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeSequenceNumber, fakeStream } from '../helpers/FakeShardSource.js';
import { readApplied, spawnWorker, until, type WorkerChild } from '../helpers/fleet.js';

// Multi-process fleet tests: real worker processes, DynamoDB Local as the lease table, and a
// deterministic in-memory stream that every process builds identically (8 shards).
const STREAM = 'arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024-01-01T00:00:00.000';
const SHARDS = 8;
let server: DynamoDBLocalServer;
let client: DynamoDBClient;
let run = 0;
const children: WorkerChild[] = [];

async function setup(records: number, extra: Record<string, string> = {}) {
  run++;
  const dir = mkdtempSync(join(tmpdir(), 'shardline-fleet-'));
  const table = `fleet-${run}`;
  const env = {
    ENDPOINT: server.endpoint,
    LEASE_TABLE: table,
    STREAM_SPEC: JSON.stringify(fakeStream(STREAM, SHARDS, records)),
    OUT_FILE: join(dir, 'applied.log'),
    LEASE_MS: '1500',
    ...extra,
  };
  const store = new DynamoDBLeaseStore({ client, tableName: table, streamId: STREAM });
  await store.createTableIfNotExists();
  const start = (id: string, more: Record<string, string> = {}) => {
    const child = spawnWorker(id, { ...env, ...more });
    children.push(child);
    return child;
  };
  return { env, store, start };
}

const lastSeq = (records: number) => fakeSequenceNumber(records - 1);
const allAt = (leases: Lease[], records: number) =>
  leases.length === SHARDS &&
  leases.every(
    (l) => typeof l.checkpoint === 'object' && l.checkpoint.sequenceNumber === lastSeq(records),
  );

beforeAll(async () => {
  server = await startDynamoDBLocal();
  client = new DynamoDBClient(server.clientConfig);
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await c.exited;
  }
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('a fleet of worker processes', () => {
  it('shares 8 shards among three workers: one owner per shard, spread within one', async () => {
    // arrange
    const { store, start } = await setup(20);
    // act
    start('w1');
    start('w2');
    start('w3');
    // assert
    await until(async () => {
      const owners = (await store.listLeases()).map((l) => l.leaseOwner);
      if (owners.length !== SHARDS || owners.some((o) => o === undefined)) return false;
      const counts = ['w1', 'w2', 'w3'].map((w) => owners.filter((o) => o === w).length);
      return Math.max(...counts) - Math.min(...counts) <= 1;
    }, 40_000);
    const leases = await store.listLeases();
    expect(new Set(leases.map((l) => l.leaseKey)).size).toBe(SHARDS);
    expect(leases.every((l) => l.checkpointOwner === undefined || l.leaseOwner !== undefined)).toBe(
      true,
    );
  });

  it('after kill -9 mid-batch, another worker takes over: nothing lost, duplicates only past the checkpoint', async () => {
    // arrange
    const records = 150;
    const { env, store, start } = await setup(records, { RECORD_DELAY_MS: '4' });
    const victim = start('victim');
    await until(
      async () =>
        (await store.listLeases()).filter((l) => l.leaseOwner === 'victim').length === SHARDS,
    );
    await until(() => readApplied(env.OUT_FILE).length > 300);
    // act
    victim.process.kill('SIGKILL');
    await victim.exited;
    const atDeath = new Map((await store.listLeases()).map((l) => [l.shardId, l.checkpoint]));
    start('survivor');
    await until(async () => allAt(await store.listLeases(), records), 60_000);
    // assert
    const applied = readApplied(env.OUT_FILE);
    const seen = new Map<string, number>();
    for (const a of applied)
      seen.set(`${a.shardId} ${a.seq}`, (seen.get(`${a.shardId} ${a.seq}`) ?? 0) + 1);
    expect(seen.size).toBe(SHARDS * records); // every record applied
    for (const [key, count] of seen) {
      if (count === 1) continue;
      const [shardId, seq] = key.split(' ') as [string, string];
      const checkpoint = atDeath.get(shardId);
      if (typeof checkpoint === 'object') {
        expect(
          comparePositions({ sequenceNumber: seq }, checkpoint as StreamPosition),
        ).toBeGreaterThan(0);
      }
    }
    expect(applied.some((a) => a.worker === 'survivor')).toBe(true);
  });

  it('fences a paused worker (SIGSTOP): after its lease was taken it cannot commit', async () => {
    // arrange
    const records = 400;
    const { env, store, start } = await setup(records, { RECORD_DELAY_MS: '5' });
    const paused = start('paused');
    await until(
      async () =>
        (await store.listLeases()).filter((l) => l.leaseOwner === 'paused').length === SHARDS,
    );
    await until(() => readApplied(env.OUT_FILE).length > 200);
    // act
    paused.process.kill('SIGSTOP');
    start('thief');
    // Taken means owned by the thief with no handover pending: a lease the thief took by
    // balancing (a graceful handover) still accepts the paused worker's final checkpoint until
    // the thief stops waiting for it, one lease duration later; the thief reads the shard only
    // after that.
    await until(
      async () =>
        (await store.listLeases()).every(
          (l) => l.leaseOwner === 'thief' && l.checkpointOwner === undefined,
        ),
      30_000,
    );
    const stolenAt = Date.now();
    paused.process.kill('SIGCONT');
    await until(
      () => paused.events.some((e) => e.event === 'lease.lost' && e.at >= stolenAt),
      15_000,
    );
    await until(async () => allAt(await store.listLeases(), records), 60_000);
    // assert: the paused worker committed nothing after it resumed
    const lateCommits = paused.events.filter(
      (e) => e.event === 'checkpoint.committed' && e.at >= stolenAt,
    );
    expect(lateCommits).toEqual([]);
    const lost = paused.events.filter((e) => e.event === 'lease.lost');
    expect(lost.length).toBeGreaterThan(0);
    expect(String(lost[0]!.reason)).toMatch(/owner is now thief|no longer holds/);
    expect(new Set(readApplied(env.OUT_FILE).map((a) => `${a.shardId} ${a.seq}`)).size).toBe(
      SHARDS * records,
    );
  });

  it('on SIGTERM finishes in-flight work, commits, releases its leases and exits 0', async () => {
    // arrange
    const records = 2000;
    const { env, store, start } = await setup(records, { RECORD_DELAY_MS: '3' });
    const worker = start('leaving');
    await until(
      async () =>
        (await store.listLeases()).filter((l) => l.leaseOwner === 'leaving').length === SHARDS,
    );
    await until(() => readApplied(env.OUT_FILE).length > 100);
    // act
    worker.process.kill('SIGTERM');
    const exit = await worker.exited;
    // assert
    expect(exit).toEqual({ code: 0, signal: null });
    const leases = await store.listLeases();
    expect(leases.every((l) => l.leaseOwner === undefined)).toBe(true);
    const applied = readApplied(env.OUT_FILE);
    for (const lease of leases) {
      const done = applied.filter((a) => a.shardId === lease.shardId).map((a) => BigInt(a.seq));
      const highest = done.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).at(-1) ?? 0n;
      // every record it applied is covered by the committed checkpoint
      expect(
        typeof lease.checkpoint === 'object' ? BigInt(lease.checkpoint.sequenceNumber) : -1n,
      ).toBe(highest);
    }
    expect((await store.readFleet()).workers).toEqual([]);
  });
});
