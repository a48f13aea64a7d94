/**
 * Failover and handover times of real worker processes (DynamoDB Local lease table, a fake
 * 8-shard stream every process builds identically), at the default 10 s lease duration:
 *
 * - kill -9 of a worker → first record processed by the new owner of one of its shards
 *   (target ≤ lease duration + one renewal interval = 13.3 s; KCL 2: 10–30 s, ~27 s reported);
 * - SIGTERM → first record by the new owner (target ≤ 2 s; KCL waits for expiry).
 *
 * Run: npx tsx --conditions=source test/bench/worker-failover.ts [leaseDurationMs]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { startDynamoDBLocal } from '@shardline/testing';
import { fakeStream } from '../../packages/worker/tests/helpers/FakeShardSource.js';
import { spawnWorker, until, type WorkerChild } from '../../packages/worker/tests/helpers/fleet.js';

// Lease duration in ms from the first argument (default 10 000, the KCL's failoverTimeMillis).
const LEASE_MS = Number(process.argv[2] ?? 10_000);
const STREAM = 'arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024-01-01T00:00:00.000';
const server = await startDynamoDBLocal();
const client = new DynamoDBClient(server.clientConfig);
const children: WorkerChild[] = [];

async function scenario(name: string, stop: (c: WorkerChild) => void): Promise<number> {
  const table = `bench-${name}`;
  const store = new DynamoDBLeaseStore({ client, tableName: table, streamId: STREAM });
  await store.createTableIfNotExists();
  const env = {
    ENDPOINT: server.endpoint,
    LEASE_TABLE: table,
    STREAM_SPEC: JSON.stringify(fakeStream(STREAM, 8, 20_000)),
    OUT_FILE: join(mkdtempSync(join(tmpdir(), 'shardline-bench-')), 'applied.log'),
    LEASE_MS: String(LEASE_MS),
    RECORD_DELAY_MS: '20',
    FIRST_RECORD_MARK: '1',
  };
  const a = spawnWorker('a', env);
  const b = spawnWorker('b', env);
  children.push(a, b);
  await until(async () => {
    const owners = (await store.listLeases()).map((l) => l.leaseOwner);
    return (
      owners.length === 8 &&
      owners.filter((o) => o === 'a').length === 4 &&
      owners.filter((o) => o === 'b').length === 4
    );
  }, 120_000);
  // Let any handover from the balancing settle: the old owner drains a handed-over shard until
  // its next renewal, and its records there must not count as the new owner's.
  await until(
    async () => (await store.listLeases()).every((l) => l.checkpointOwner === undefined),
    60_000,
  );
  await new Promise((r) => setTimeout(r, LEASE_MS / 3 + 1000));
  const shardsOfA = new Set(
    (await store.listLeases()).filter((l) => l.leaseOwner === 'a').map((l) => l.shardId),
  );
  const t0 = Date.now();
  stop(a);
  await until(
    () =>
      b.events.some((e) => e.event === 'record' && e.at >= t0 && shardsOfA.has(String(e.shardId))),
    120_000,
  );
  const first = b.events.find(
    (e) => e.event === 'record' && e.at >= t0 && shardsOfA.has(String(e.shardId)),
  )!;
  b.process.kill('SIGKILL');
  await Promise.all([a.exited, b.exited]);
  return first.at - t0;
}

try {
  const renewMs = Math.floor(LEASE_MS / 3);
  const failover = await scenario('kill', (c) => c.process.kill('SIGKILL'));
  console.log(
    `kill -9 → first record by new owner: ${(failover / 1000).toFixed(2)} s (lease ${LEASE_MS / 1000} s + renewal ${(renewMs / 1000).toFixed(1)} s = target ${((LEASE_MS + renewMs) / 1000).toFixed(1)} s; ratio to target ${(failover / (LEASE_MS + renewMs)).toFixed(2)}; KCL 2 inferred 10–30 s, ~27 s observed → ${(27_000 / failover).toFixed(1)}× faster than the observed KCL figure)`,
  );
  const handover = await scenario('term', (c) => c.process.kill('SIGTERM'));
  console.log(
    `SIGTERM → first record by new owner: ${(handover / 1000).toFixed(2)} s (target 2 s; ratio ${(handover / 2000).toFixed(2)}; KCL without eviction waits for expiry: ≥ ${LEASE_MS / 1000} s → ${(LEASE_MS / handover).toFixed(1)}× faster)`,
  );
} finally {
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
  client.destroy();
  await server.stop();
}
