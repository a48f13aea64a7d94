/**
 * A worker process for the multi-process tests and benchmarks: reads a deterministic fake
 * stream (the same in every process), keeps leases in DynamoDB Local, and appends every record
 * it applies to an append-only file. Prints lease and checkpoint events as JSON lines.
 *
 * Env: ENDPOINT, LEASE_TABLE, WORKER_ID, STREAM_SPEC (JSON), OUT_FILE, LEASE_MS, RECORD_DELAY_MS.
 */
import { appendFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { localClientConfig } from '@shardline/testing';
import { createWorker } from '../../src/index.js';
import { FakeShardSource, type FakeStreamSpec } from './FakeShardSource.js';

const env = process.env;
const spec = JSON.parse(env.STREAM_SPEC!) as FakeStreamSpec;
const leaseMs = Number(env.LEASE_MS ?? 2000);
const delayMs = Number(env.RECORD_DELAY_MS ?? 0);
const client = new DynamoDBClient(localClientConfig(env.ENDPOINT!));
const print = (event: string, data: object) =>
  process.stdout.write(`${JSON.stringify({ event, at: Date.now(), ...data })}\n`);

const worker = createWorker({
  applicationName: 'test-app',
  workerId: env.WORKER_ID!,
  sources: new FakeShardSource(spec),
  leaseStore: new DynamoDBLeaseStore({
    client,
    tableName: env.LEASE_TABLE!,
    streamId: spec.streamId,
  }),
  leaseDurationMs: leaseMs,
  renewIntervalMs: Math.floor(leaseMs / 3),
  takeIntervalMs: 250,
  discoveryIntervalMs: 1000,
  commitIntervalMs: 100,
  minReadIntervalMs: 10,
  maxIdleDelayMs: 100,
  shutdownTimeoutMs: 10_000,
  handleSignals: true,
  logger: {
    debug() {},
    info() {},
    warn() {},
    error() {},
    child() {
      return this;
    },
  },
  handler: async (record) => {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    appendFileSync(env.OUT_FILE!, `${env.WORKER_ID} ${record.shardId} ${record.sequenceNumber}\n`);
    if (env.FIRST_RECORD_MARK === '1') print('record', { shardId: record.shardId });
  },
});
worker.events.on('lease.acquired', (e) => print('lease.acquired', e));
worker.events.on('lease.lost', (e) => print('lease.lost', e));
worker.events.on('lease.released', (e) => print('lease.released', e));
worker.events.on('checkpoint.committed', (e) => print('checkpoint.committed', e));
await worker.start();
print('started', { workerId: worker.workerId });
