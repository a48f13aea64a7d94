/**
 * Simulated fleet (in-memory lease store, fake monotonic clock): 1000 shards and 20 workers,
 * then a 21st joins. Reports rounds to converge, the final spread, and the lease table's reads
 * and writes per shard per minute at steady state — next to KCL 2's scan-every-taker-run
 * pattern computed for the same fleet.
 *
 * Then the memory of one real worker (createWorker: a ShardConsumer, BatchProcessor and dedup
 * window per shard) that owns all 1000 shards of a generated stream, each shard with
 * `--records-per-shard` records (default 1000) and polled while idle: its RSS against 1 GB.
 *
 * Run: npx tsx --conditions=source test/bench/lease-fleet-simulation.ts [--records-per-shard=1000]
 */
import {
  type ChangeRecord,
  decodeDynamoDBRecord,
  type ShardIterator,
  type ShardSource,
  silentLogger,
  sleep,
} from '@shardline/core';
import { createWorker, InMemoryLeaseStore, LeaseCoordinator } from '@shardline/worker';
import { flag } from './harness.js';

const SHARDS = 1000;
const WORKERS = 20;
const LEASE_MS = 10_000;
const RENEW_MS = Math.floor(LEASE_MS / 3);
const TAKE_MS = 1000;
const LEASE_ITEM_BYTES = 250; // a KCL lease item with a 56-digit checkpoint and hash keys
const STREAM = 'stream';

const clock = { now: 0 };
const store = new InMemoryLeaseStore({ multiStream: false });
for (let i = 0; i < SHARDS; i++) {
  await store.createLeaseIfNotExists({
    leaseKey: `shardId-${String(i).padStart(12, '0')}`,
    streamId: STREAM,
    shardId: `shardId-${String(i).padStart(12, '0')}`,
    checkpoint: 'TRIM_HORIZON',
    parentShardIds: [],
    childShardIds: [],
  });
}

function makeWorker(id: string): LeaseCoordinator {
  const c: LeaseCoordinator = new LeaseCoordinator({
    store,
    workerId: id,
    leaseDurationMs: LEASE_MS,
    clock: () => clock.now,
    listener: {
      acquired() {},
      lost() {},
      // The old owner commits and finishes at once (its reader stops within the round).
      handoverRequested: (k) => void c.finishHandover(k),
    },
  });
  return c;
}

const fleet = Array.from({ length: WORKERS }, (_, i) =>
  makeWorker(`w${String(i).padStart(2, '0')}`),
);
let lastRenew = Number.NEGATIVE_INFINITY;

/** One take interval of fleet time: renewals when due, then every worker's take round. */
async function tick(workers: LeaseCoordinator[]): Promise<void> {
  if (clock.now - lastRenew >= RENEW_MS) {
    lastRenew = clock.now;
    for (const w of workers) await w.renewRound();
  }
  for (const w of workers) await w.takeRound();
  clock.now += TAKE_MS;
}

const counts = (workers: LeaseCoordinator[]) => workers.map((w) => w.leaseCount);
const spread = (workers: LeaseCoordinator[]) =>
  Math.max(...counts(workers)) - Math.min(...counts(workers));
const total = (workers: LeaseCoordinator[]) => counts(workers).reduce((a, b) => a + b, 0);

async function converge(workers: LeaseCoordinator[], label: string): Promise<number> {
  for (let round = 1; round <= 500; round++) {
    await tick(workers);
    if (total(workers) === SHARDS && spread(workers) <= 1) {
      console.log(
        `${label}: converged in ${round} take rounds (${(round * TAKE_MS) / 1000} s of fleet time); spread ${spread(workers)}; min ${Math.min(...counts(workers))}, max ${Math.max(...counts(workers))}`,
      );
      return round;
    }
  }
  console.log(`${label}: did not converge in 500 rounds; spread ${spread(workers)}`);
  return -1;
}

await converge(fleet, `${WORKERS} workers start on ${SHARDS} unowned shards`);
fleet.push(makeWorker('w20-new'));
const joinRounds = await converge(fleet, '21st worker joins');
const newCount = fleet.at(-1)!.leaseCount;
console.log(
  `new worker holds ${newCount} leases (share ${Math.floor(SHARDS / 21)}–${Math.ceil(SHARDS / 21)})`,
);

// KCL 2 for comparison: maxLeasesToStealAtOneTime = 1 per taker run (every 20 s) → a new
// worker needs ~share runs to fill up.
const kclRuns = Math.floor(SHARDS / 21);
console.log(
  `KCL 2 (1 steal per 20 s taker run): ${kclRuns} runs ≈ ${((kclRuns * 20) / 60).toFixed(1)} min to fill the new worker; Shardline: ${joinRounds} rounds ≈ ${joinRounds} s → ${((kclRuns * 20) / Math.max(1, joinRounds)).toFixed(0)}× faster`,
);

// Steady state: one minute of fleet time, counting store calls.
for (let i = 0; i < 5; i++) await tick(fleet);
const before = { ...store.calls };
const ticks = 60_000 / TAKE_MS;
for (let i = 0; i < ticks; i++) await tick(fleet);
const reads = store.calls.reads - before.reads;
const scanned = store.calls.itemsScanned - before.itemsScanned;
const writes = store.calls.writes - before.writes;
const W = fleet.length;
// RCUs: GetItem of the coordination item (~60 B per worker, eventually consistent: 0.5 RCU per 4 KB);
// a Scan reads items at 4 KB per RCU, eventually consistent (half).
const fleetItemRcu = Math.ceil((W * 60) / 4096) / 2;
const shardlineRcu = (reads - 0) * fleetItemRcu + (scanned * LEASE_ITEM_BYTES) / 4096 / 2;
const kclScansPerMin = W * (60 / 20.05);
const kclRcu = (kclScansPerMin * SHARDS * LEASE_ITEM_BYTES) / 4096 / 2;
const kclWrites = (SHARDS * 60_000) / 3308;
console.log('steady state, per minute, whole fleet of', W, 'workers and', SHARDS, 'shards:');
console.log(
  `  Shardline: ${reads} reads (${scanned} lease items scanned) ≈ ${shardlineRcu.toFixed(1)} RCU; ${writes} writes → per shard: ${(shardlineRcu / SHARDS).toFixed(3)} RCU, ${(writes / SHARDS).toFixed(1)} writes`,
);
console.log(
  `  KCL 2 (every worker scans the table every 20 s, renews every 3.3 s): ${kclScansPerMin.toFixed(0)} scans ≈ ${kclRcu.toFixed(1)} RCU; ${kclWrites.toFixed(0)} writes → per shard: ${(kclRcu / SHARDS).toFixed(3)} RCU, ${(kclWrites / SHARDS).toFixed(1)} writes`,
);
console.log(
  `  read cost ratio KCL 2 / Shardline: ${(kclRcu / Math.max(shardlineRcu, 1e-9)).toFixed(1)}×`,
);
for (const w of [20, 100]) {
  const perWorkerShards = SHARDS / WORKERS;
  const n = w * perWorkerShards;
  const kcl = (w * 3 * n * LEASE_ITEM_BYTES) / 4096 / 2;
  const ours = (w * 60 * Math.ceil((w * 60) / 4096)) / 2 + (n * LEASE_ITEM_BYTES) / 4096 / 2;
  console.log(
    `  model at ${w} workers × ${perWorkerShards} shards: KCL 2 ${kcl.toFixed(0)} RCU/min (∝ W²), Shardline ${ours.toFixed(0)} RCU/min (∝ W, + one scan per fleet change)`,
  );
}

// ─── one worker owning every shard: memory ─────────────────────────────────────────────────

const RECORDS_PER_SHARD = flag('records-per-shard', 1000);
const PAGE = 100;

/**
 * Open shards whose records are made as they are read (nothing held by the source, so the RSS
 * is the worker's): `records` per shard, then empty pages.
 */
function generatedStream(shards: number, records: number): ShardSource {
  const streamId =
    'arn:aws:dynamodb:us-east-1:123456789012:table/Mem/stream/2026-01-01T00:00:00.000';
  const ids = Array.from({ length: shards }, (_, i) => `shardId-${String(i).padStart(12, '0')}`);
  const make = (shardId: string, i: number): ChangeRecord =>
    decodeDynamoDBRecord(
      {
        eventID: `${shardId}-${i}`,
        eventName: 'MODIFY',
        dynamodb: {
          Keys: { pk: { S: `${shardId}/k${i % 50}` } },
          NewImage: {
            pk: { S: `${shardId}/k${i % 50}` },
            n: { N: String(i) },
            note: { S: 'x'.repeat(200) },
          },
          SequenceNumber: String(100_000_000_000_000_000_000n + BigInt(i)),
          SizeBytes: 260,
          StreamViewType: 'NEW_IMAGE',
        },
      },
      { streamId, shardId },
    );
  return {
    kind: 'dynamodb-streams',
    streamId,
    listShards: async () =>
      ids.map((shardId) => ({
        shardId,
        parentShardIds: [],
        startingSequenceNumber: undefined,
        endingSequenceNumber: undefined,
      })),
    openShard: async (shardId): Promise<ShardIterator> => {
      let next = 0;
      return {
        next: async () => {
          const count = Math.min(PAGE, records - next);
          const page = Array.from({ length: count }, (_, j) => make(shardId, next + j));
          next += count;
          return { records: page, millisBehindLatest: 0, shardEnded: false };
        },
      };
    },
  };
}

const rssBefore = process.memoryUsage().rss;
let handled = 0;
const memoryWorker = createWorker({
  applicationName: 'memory',
  sources: generatedStream(SHARDS, RECORDS_PER_SHARD),
  leaseStore: new InMemoryLeaseStore(),
  handler: () => {
    handled++;
  },
  logger: silentLogger,
});
await memoryWorker.start();
const startedAt = performance.now();
let rssMax = 0;
while (handled < SHARDS * RECORDS_PER_SHARD) {
  rssMax = Math.max(rssMax, process.memoryUsage().rss);
  if (performance.now() - startedAt > 600_000)
    throw new Error(`only ${handled} records handled in 10 min`);
  await sleep(200);
}
const owned = memoryWorker.ownedLeaseKeys().length;
const rssBusy = rssMax;
// Ten seconds of idle polling on every shard (4 reads/s each) after the records are done.
let rssIdle = 0;
for (let i = 0; i < 20; i++) {
  await sleep(500);
  rssIdle = Math.max(rssIdle, process.memoryUsage().rss);
}
rssMax = Math.max(rssBusy, rssIdle);
await memoryWorker.stop();
console.log(
  `one worker owning ${owned} of ${SHARDS} shards, ${handled.toLocaleString('en-US')} records handled (${RECORDS_PER_SHARD} per shard, so ${RECORDS_PER_SHARD} ids in each dedup window), then 10 s idle: RSS max ${(rssMax / 1024 / 1024).toFixed(0)} MB (${(rssBusy / 1024 / 1024).toFixed(0)} MB while reading, ${(rssIdle / 1024 / 1024).toFixed(0)} MB idle; ${((rssMax / 1024 ** 3) * 100).toFixed(0)} % of the 1 GB target, ${((rssMax - rssBefore) / SHARDS / 1024).toFixed(0)} KB per shard above the ${(rssBefore / 1024 / 1024).toFixed(0)} MB before the worker)`,
);
