/**
 * Soak: `--records` records (default 1,000,000) through one worker on an 8-shard Kinesis stream
 * (kinesalite in its own process: the faster local server for volume, and its memory is not
 * this process's). A producer in this process keeps at most `--backlog` records ahead of the
 * worker, so the run is a steady state rather than a drain of a preloaded stream.
 *
 * Prints this process's RSS (worker + producer; the producer holds at most four PutRecords
 * calls of 500 records) sampled every second after warm-up (the first `--warmup` fraction of the records),
 * its min/max, and the drift: the mean of the last fifth of samples against the first fifth
 * (target flat within ±10 %), next to the same figures for the V8 heap; and the same once the
 * dedup windows are full (core's default window, 100,000 event ids per shard, fills at 800,000
 * records on 8 shards: until then the heap grows by design, each id held).
 *
 * Run: npx tsx --conditions=source test/bench/soak.ts [--records=1000000] [--backlog=50000]
 *   [--warmup=0.2]
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { DEFAULT_MAX_EVENT_IDS, silentLogger, sleep } from '@shardline/core';
import { KinesisSource } from '@shardline/kinesis';
import { startKinesaliteProcess } from '@shardline/testing';
import { createWorker, InMemoryLeaseStore } from '@shardline/worker';
import { flag, table } from './harness.js';

const RECORDS = flag('records', 1_000_000);
const BACKLOG = flag('backlog', 50_000);
const WARMUP = flag('warmup', 0.2);
const SHARDS = 8;
/** Core's default dedup window, in event ids per shard (DEFAULT_MAX_EVENT_IDS). */
const DEDUP_WINDOW = DEFAULT_MAX_EVENT_IDS;
const BATCH = 500; // PutRecords' limit
const PRODUCERS = 4;
const STREAM = 'soak';
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const server = await startKinesaliteProcess();
const producer = new KinesisClient(server.clientConfig);
const reader = new KinesisClient(server.clientConfig);
let handled = 0;
let worker: ReturnType<typeof createWorker> | undefined;
try {
  await producer.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: SHARDS }));
  for (;;) {
    const s = await producer.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await sleep(20);
  }
  worker = createWorker({
    applicationName: 'soak',
    sources: await KinesisSource.create({ client: reader, streamName: STREAM }),
    leaseStore: new InMemoryLeaseStore(),
    handler: () => {
      handled++;
    },
    logger: silentLogger,
  });
  await worker.start();

  const samples: { at: number; handled: number; rss: number; heap: number }[] = [];
  const sample = () => {
    const m = process.memoryUsage();
    samples.push({ at: performance.now(), handled, rss: m.rss, heap: m.heapUsed });
  };
  const sampler = setInterval(sample, 1000);
  const started = performance.now();
  const body = 'x'.repeat(100);
  let written = 0;
  // Producer: PRODUCERS loops of PutRecords batches of 500 (a partition key per record spreads
  // them over the 8 shards), together at most BACKLOG records ahead of the worker.
  const produce = async () => {
    while (written < RECORDS) {
      if (written - handled >= BACKLOG) {
        await sleep(20);
        continue;
      }
      const count = Math.min(BATCH, RECORDS - written);
      const first = written;
      written += count;
      const result = await producer.send(
        new PutRecordsCommand({
          StreamName: STREAM,
          Records: Array.from({ length: count }, (_, j) => ({
            PartitionKey: `key-${(first + j) % 10_000}`,
            Data: Buffer.from(`{"n":${first + j},"body":"${body}"}`),
          })),
        }),
      );
      if (result.FailedRecordCount) throw new Error(`${result.FailedRecordCount} records refused`);
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, produce));
  while (handled < RECORDS) await sleep(50);
  sample();
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;

  type Sample = (typeof samples)[number];
  const mean = (list: readonly Sample[], pick: (s: Sample) => number) =>
    list.reduce((sum, s) => sum + pick(s), 0) / list.length;
  /** min, max, max/min and drift (mean of the last fifth against the first) of a window. */
  const figures = (window: readonly Sample[], pick: (s: Sample) => number) => {
    const fifth = Math.max(1, Math.floor(window.length / 5));
    const values = window.map(pick);
    const drift = (mean(window.slice(-fifth), pick) / mean(window.slice(0, fifth), pick) - 1) * 100;
    return [
      mb(Math.min(...values)),
      mb(Math.max(...values)),
      `+${((Math.max(...values) / Math.min(...values) - 1) * 100).toFixed(1)} %`,
      `${drift >= 0 ? '+' : ''}${drift.toFixed(1)} %`,
    ];
  };
  const afterWarmup = samples.filter((s) => s.handled >= RECORDS * WARMUP);
  const windowsFull = SHARDS * DEDUP_WINDOW;
  const afterFull = samples.filter((s) => s.handled >= windowsFull);
  console.log(
    `${RECORDS.toLocaleString('en-US')} records through one worker on ${SHARDS} kinesalite shards in ${seconds.toFixed(0)} s (${Math.round(RECORDS / seconds).toLocaleString('en-US')} rec/s); one sample a second`,
  );
  const rows = [['samples', 'n', 'min', 'max', 'max/min', 'drift (last fifth / first fifth)']];
  const windows: [string, Sample[]][] = [
    [`after warm-up (${Math.round(WARMUP * 100)} % of the records)`, afterWarmup],
    [
      `after the dedup windows are full (${windowsFull.toLocaleString('en-US')} records)`,
      afterFull,
    ],
  ];
  for (const [label, window] of windows) {
    if (window.length < 5) {
      rows.push([label, String(window.length), 'too few samples', '', '', '']);
      continue;
    }
    rows.push([`${label}: RSS`, String(window.length), ...figures(window, (s) => s.rss)]);
    rows.push([`${label}: V8 heap used`, '', ...figures(window, (s) => s.heap)]);
  }
  table(rows);
  console.log('  target: RSS after warm-up flat within ±10 %');
  const at = (fraction: number) => samples.find((s) => s.handled >= RECORDS * fraction);
  console.log(
    `RSS at ${[0.1, 0.25, 0.5, 0.75, 1]
      .map((f) => `${f * 100} %: ${mb(at(f)?.rss ?? Number.NaN)}`)
      .join(', ')}`,
  );
} finally {
  await worker?.stop();
  producer.destroy();
  reader.destroy();
  await server.stop();
}
