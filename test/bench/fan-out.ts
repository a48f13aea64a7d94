/**
 * Enhanced fan-out (push) against polling, on the fan-out double over kinesalite, in the same run:
 *
 * - latency: a writer puts one record every 20 ms (its write time inside); a polling source and a
 *   fan-out source read the same stream at once, each through a ShardConsumer; the handler
 *   takes write → handler time. Polling runs the ShardConsumer defaults (minReadIntervalMs 200,
 *   the 5 GetRecords/s per shard; idle 250…2000 ms); fan-out runs minReadIntervalMs 0 and
 *   idleDelayMs 0, as the Kinesis README advises for push.
 * - throughput: each source drains a stream of `--records` records from TRIM_HORIZON
 *   (ShardConsumer unpaced), runs alternating; records/s, median of `--runs`.
 *
 * Prints fan-out/polling ratios. What it measures is the double: its subscriptions read
 * kinesalite every 20 ms with GetRecords (up to 1000 records per event), so the figures compare
 * Shardline's two retrieval paths on the same local data, not AWS's service latencies.
 *
 * Run: npm run build && npx tsx test/bench/fan-out.ts [--records=N] [--runs=N] [--latency=N]
 */

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { BatchProcessor, ShardConsumer, type ShardSource, sleep } from '@shardline/core';
import { KinesisSource } from '@shardline/kinesis';
import { startKinesalite, startKinesisFanOutDouble } from '@shardline/testing';
import { flag } from './harness.js';

const RECORDS = flag('records', 20_000);
const RUNS = flag('runs', 3);
const LATENCY_RECORDS = flag('latency', 250);
const SHARD = 'shardId-000000000000';

const kinesalite = await startKinesalite();
const efo = await startKinesisFanOutDouble({ kinesisEndpoint: kinesalite.endpoint });
const polling = new KinesisClient(kinesalite.clientConfig);
const pushing = new KinesisClient(efo.clientConfig);
let streams = 0;
let consumers = 0;

async function createStream(): Promise<string> {
  const name = `bench-${++streams}`;
  await polling.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  for (;;) {
    const out = await polling.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
    await sleep(20);
  }
}

function sources(name: string) {
  return Promise.all([
    KinesisSource.create({ client: polling, streamName: name }),
    KinesisSource.create({
      client: pushing,
      streamName: name,
      retrieval: 'fan-out',
      consumerName: `bench-${++consumers}`,
    }),
  ]);
}

function consume(
  source: ShardSource,
  pacing: { minReadIntervalMs: number; idleDelayMs?: number; maxIdleDelayMs?: number },
  onRecord: (data: Uint8Array) => void,
  signal: AbortSignal,
) {
  const consumer = new ShardConsumer({
    source,
    shardId: SHARD,
    from: { type: 'TRIM_HORIZON' },
    processor: new BatchProcessor({
      handler: (r) => onRecord(r.data!),
      deduper: false,
      concurrency: 8,
    }),
    ...pacing,
  });
  return consumer.run(signal);
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const median = (values: number[]) => quantile(values, 0.5);

async function latency() {
  const name = await createStream();
  const [poll, push] = await sources(name);
  const seen = { polling: [] as number[], 'fan-out': [] as number[] };
  const stop = new AbortController();
  const record = (into: number[]) => (data: Uint8Array) =>
    into.push(Date.now() - Number(Buffer.from(data).toString()));
  const runs = [
    consume(poll, { minReadIntervalMs: 200 }, record(seen.polling), stop.signal),
    consume(
      push,
      { minReadIntervalMs: 0, idleDelayMs: 0, maxIdleDelayMs: 0 },
      record(seen['fan-out']),
      stop.signal,
    ),
  ];
  await sleep(2000); // both subscribed / polling
  for (let i = 0; i < LATENCY_RECORDS; i++) {
    await polling.send(
      new PutRecordCommand({
        StreamName: name,
        PartitionKey: `k${i % 8}`,
        Data: Buffer.from(String(Date.now())),
      }),
    );
    await sleep(20);
  }
  const deadline = Date.now() + 10_000;
  while (
    (seen.polling.length < LATENCY_RECORDS || seen['fan-out'].length < LATENCY_RECORDS) &&
    Date.now() < deadline
  ) {
    await sleep(50);
  }
  stop.abort();
  await Promise.all(runs);
  return seen;
}

async function drain(source: ShardSource, count: number): Promise<number> {
  let seen = 0;
  const stop = new AbortController();
  const started = performance.now();
  let finished = 0;
  const run = consume(
    source,
    { minReadIntervalMs: 0, idleDelayMs: 0, maxIdleDelayMs: 0 },
    () => {
      if (++seen === count) {
        finished = performance.now();
        stop.abort();
      }
    },
    stop.signal,
  );
  await run;
  if (seen < count) throw new Error(`read ${seen} of ${count} records`);
  return count / ((finished - started) / 1000);
}

async function throughput() {
  const name = await createStream();
  for (let i = 0; i < RECORDS; i += 500) {
    await polling.send(
      new PutRecordsCommand({
        StreamName: name,
        Records: Array.from({ length: Math.min(500, RECORDS - i) }, (_, j) => ({
          PartitionKey: `k${(i + j) % 64}`,
          Data: Buffer.from(`record-${i + j}-${'x'.repeat(100)}`),
        })),
      }),
    );
  }
  const rates = { polling: [] as number[], 'fan-out': [] as number[] };
  for (let run = 0; run < RUNS; run++) {
    const [poll, push] = await sources(name);
    rates.polling.push(await drain(poll, RECORDS));
    rates['fan-out'].push(await drain(push, RECORDS));
  }
  return rates;
}

const lat = await latency();
const rates = await throughput();
const fmt = (n: number) => n.toFixed(0);
console.log(`latency, write → handler, ${LATENCY_RECORDS} records at one per 20 ms:`);
for (const [name, values] of Object.entries(lat)) {
  console.log(
    `  ${name.padEnd(8)} median ${fmt(median(values))} ms, p95 ${fmt(quantile(values, 0.95))} ms (${values.length} records)`,
  );
}
console.log(
  `  fan-out/polling median latency: ${(median(lat['fan-out']) / median(lat.polling)).toFixed(2)}`,
);
console.log(`throughput, draining ${RECORDS} records, median of ${RUNS}:`);
for (const [name, values] of Object.entries(rates)) {
  console.log(
    `  ${name.padEnd(8)} ${fmt(median(values))} records/s (runs: ${values.map(fmt).join(', ')})`,
  );
}
console.log(
  `  fan-out/polling records/s: ${(median(rates['fan-out']) / median(rates.polling)).toFixed(2)}`,
);
polling.destroy();
pushing.destroy();
await efo.stop();
await kinesalite.stop();
