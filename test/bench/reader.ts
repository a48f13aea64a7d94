/**
 * Reader throughput: the Shardline reader (source + ShardConsumer + BatchProcessor) against a
 * bare AWS SDK GetRecords loop over the same stream in the same run, with two handlers:
 *
 * - no-op: the bare loop only counts records (the I/O ceiling); target ≥ 0.95.
 * - 1 ms (`setTimeout(1)`, I/O-like): the bare loop reads a page, runs the handler over it 10
 *   records at a time, then reads the next page; Shardline runs it 10 keys at a time (every
 *   record has its own key here) and reads the next page while one is processed. Target ≥ 1.0.
 *
 * Run: npm run build && npx tsx test/bench/reader.ts   (tsx resolves workspace packages to dist)
 *
 * Shardline's processor is built as the worker builds it (`remember: 'redelivered'`: a
 * ShardConsumer passes each record once, so its event id window stays empty; with
 * `every-record`, packing and hashing each Kinesis id cost about 1 µs a record, see the core
 * README, "What the dedup window catches").
 *
 * Settings: ShardConsumer minReadIntervalMs 0 (a shard with records is read again at once) and
 * the production idle poll (idlePollIntervalMs 250, `--idle-poll=N` to change it): a shard that
 * is drained while others still are is polled as a running reader polls it, where the bare loop
 * stops at its first empty page (with 0, drained shards polled kinesalite in a busy loop and took
 * CPU from the shards still draining). Prefetch on; GetRecords page size 1000 (DynamoDB) and
 * 10,000 (Kinesis) for both readers. Each reader drains the whole stream from TRIM_HORIZON; runs
 * alternate, best of N.
 *
 * Kinesis runs twice: 20,000 records (5,000 a shard, one page each: nothing to read while a page
 * is processed, so the rows show the per-record cost alone) and 80,000 (a backlog of two pages
 * a shard, what a reader that fell behind or starts from TRIM_HORIZON drains).
 */

import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  GetRecordsCommand as KinesisGetRecords,
  GetShardIteratorCommand as KinesisGetShardIterator,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import {
  BatchProcessor,
  EventBus,
  ShardConsumer,
  type ShardInfo,
  type ShardSource,
} from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import { startDynamoDBLocal, startKinesaliteProcess } from '@shardline/testing';
import { flag } from './harness.js';

// `--records=N` and `--runs=N` override the defaults.
const RECORDS = flag('records', 20_000);
/** Records of the second Kinesis stream, a backlog of several pages a shard. */
const BACKLOG_RECORDS = flag('backlog-records', 80_000);
const RUNS = flag('runs', 7);
/** Runs of the 1 ms rows (each drain takes 2 s or more). */
const SLOW_RUNS = flag('slow-runs', 3);
/** Records handled at once, by both readers. */
const CONCURRENCY = 10;
/** Shardline's idle poll interval (`--idle-poll=N`, ms). */
const IDLE_POLL_MS = flag('idle-poll', 250);

/** A record handler of both readers. `undefined` is the no-op one (the bare loop only counts). */
type Handler = (() => Promise<void>) | undefined;
const sleep1: Handler = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

/** The bare loop's processing of one page: `handler` over `count` records, CONCURRENCY at a time. */
async function handlePage(count: number, handler: Handler): Promise<void> {
  if (!handler || count === 0) return;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await handler();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
}

async function timed(count: () => Promise<number>, expected: number): Promise<number> {
  const started = performance.now();
  const records = await count();
  const seconds = (performance.now() - started) / 1000;
  if (records < expected) throw new Error(`drained only ${records} of ${expected} records`);
  return records / seconds;
}

/**
 * Shardline: one ShardConsumer per shard, all concurrent, stopped once every record was handled.
 * The shards are listed before the timing, as for the bare loop. Records are counted per batch (`batch.processed`), as the bare loop counts per page: a count per
 * record would be a promise per record that the bare loop does not pay.
 */
async function shardlineDrain(
  source: ShardSource,
  shards: readonly ShardInfo[],
  handler: Handler,
  records: number,
): Promise<number> {
  const controller = new AbortController();
  let handled = 0;
  const events = new EventBus();
  events.on('batch.processed', ({ succeeded }) => {
    handled += succeeded;
    if (handled >= records) controller.abort();
  });
  // Built as the worker builds it: `redelivered`, since a ShardConsumer passes each record once.
  const processor = new BatchProcessor({
    handler: handler ?? (() => {}),
    concurrency: CONCURRENCY,
    remember: 'redelivered',
    events,
  });
  await Promise.all(
    shards.map((shard) =>
      new ShardConsumer({
        source,
        shardId: shard.shardId,
        from: { type: 'TRIM_HORIZON' },
        processor,
        minReadIntervalMs: 0,
        idlePollIntervalMs: IDLE_POLL_MS,
        prefetch: true,
      }).run(controller.signal),
    ),
  );
  return handled;
}

async function benchDynamoDB(): Promise<Comparison[]> {
  const server = await startDynamoDBLocal();
  const ddb = new DynamoDBClient(server.clientConfig);
  const streams = new DynamoDBStreamsClient(server.clientConfig);
  try {
    const created = await ddb.send(
      new CreateTableCommand({
        TableName: 'bench',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const streamArn = created.TableDescription!.LatestStreamArn!;
    const batches: Promise<unknown>[] = [];
    for (let i = 0; i < RECORDS; i += 25) {
      const items = Array.from({ length: Math.min(25, RECORDS - i) }, (_, j) => ({
        PutRequest: {
          Item: {
            id: { S: `item-${i + j}` },
            n: { N: String(i + j) },
            body: { S: 'x'.repeat(100) },
          },
        },
      }));
      batches.push(ddb.send(new BatchWriteItemCommand({ RequestItems: { bench: items } })));
      if (batches.length >= 8) await Promise.all(batches.splice(0));
    }
    await Promise.all(batches);
    const source = new DynamoDBStreamsSource({
      client: streams,
      streamArn,
      maxRecordsPerRead: 1000,
    });
    const [shard] = await source.listShards();

    const bare = async (handler: Handler) => {
      let { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard!.shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      let count = 0;
      while (ShardIterator && count < RECORDS) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
        await handlePage(page.Records?.length ?? 0, handler);
        count += page.Records?.length ?? 0;
        ShardIterator = page.NextShardIterator;
      }
      return count;
    };
    return await compareBoth(
      `DynamoDB Local, 1 shard, ${RECORDS} records`,
      RECORDS,
      bare,
      (handler) => shardlineDrain(source, [shard!], handler, RECORDS),
    );
  } finally {
    ddb.destroy();
    streams.destroy();
    await server.stop();
  }
}

async function benchKinesis(records: number): Promise<Comparison[]> {
  // Its own process, as the real service is: in-process its CPU would be charged to the reader.
  const server = await startKinesaliteProcess({ shardLimit: 100 });
  const client = new KinesisClient(server.clientConfig);
  try {
    const StreamName = 'bench';
    await client.send(new CreateStreamCommand({ StreamName, ShardCount: 4 }));
    for (;;) {
      const s = await client.send(new DescribeStreamSummaryCommand({ StreamName }));
      if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const data = Buffer.from('x'.repeat(100));
    for (let i = 0; i < records; i += 500) {
      await client.send(
        new PutRecordsCommand({
          StreamName,
          Records: Array.from({ length: Math.min(500, records - i) }, (_, j) => ({
            PartitionKey: `key-${i + j}`,
            Data: data,
          })),
        }),
      );
    }
    const source = await KinesisSource.create({ client, streamName: StreamName });
    const shards = await source.listShards();

    const bare = async (handler: Handler) => {
      const counts = await Promise.all(
        shards.map(async (shard) => {
          let { ShardIterator } = await client.send(
            new KinesisGetShardIterator({
              StreamName,
              ShardId: shard.shardId,
              ShardIteratorType: 'TRIM_HORIZON',
            }),
          );
          let count = 0;
          for (;;) {
            const page = await client.send(new KinesisGetRecords({ ShardIterator, Limit: 10_000 }));
            await handlePage(page.Records?.length ?? 0, handler);
            count += page.Records?.length ?? 0;
            ShardIterator = page.NextShardIterator;
            if (!ShardIterator || (page.Records?.length ?? 0) === 0) return count;
          }
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    };
    const pages = Math.ceil(records / 4 / 10_000);
    return await compareBoth(
      `kinesalite, 4 shards, ${records} records (${pages} page${pages > 1 ? 's' : ''} a shard)`,
      records,
      bare,
      (handler) => shardlineDrain(source, shards, handler, records),
    );
  } finally {
    client.destroy();
    await server.stop();
  }
}

/** Both handlers on one source: the no-op rows, then the 1 ms rows. */
async function compareBoth(
  label: string,
  records: number,
  bare: (handler: Handler) => Promise<number>,
  shardline: (handler: Handler) => Promise<number>,
): Promise<Comparison[]> {
  return [
    await compare(`${label}, no-op handler`, 0.95, RUNS, records, bare, shardline, undefined),
    await compare(
      `${label}, 1 ms handler, c=${CONCURRENCY}`,
      1.0,
      SLOW_RUNS,
      records,
      bare,
      shardline,
      sleep1,
    ),
  ];
}

async function compare(
  label: string,
  target: number,
  runs: number,
  records: number,
  bareWith: (handler: Handler) => Promise<number>,
  shardlineWith: (handler: Handler) => Promise<number>,
  handler: Handler,
): Promise<Comparison> {
  const bare = () => timed(() => bareWith(handler), records);
  const shardline = () => timed(() => shardlineWith(handler), records);
  const bares: number[] = [];
  const shardlines: number[] = [];
  await bare(); // warm-up: JIT, connections, the server's caches
  await shardline();
  for (let run = 0; run < runs; run++) {
    // Alternate who goes first, so a drifting server favours neither.
    if (run % 2 === 0) {
      bares.push(await bare());
      shardlines.push(await shardline());
    } else {
      shardlines.push(await shardline());
      bares.push(await bare());
    }
  }
  return { label, target, bares, shardlines };
}

interface Comparison {
  readonly label: string;
  readonly target: number;
  readonly bares: number[];
  readonly shardlines: number[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

function report({ label, target, bares, shardlines }: Comparison): void {
  const rate = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
  console.log(label);
  console.log(
    `  bare SDK GetRecords loop   best ${rate(Math.max(...bares))}  median ${rate(median(bares))} records/s`,
  );
  console.log(
    `  Shardline reader           best ${rate(Math.max(...shardlines))}  median ${rate(median(shardlines))} records/s`,
  );
  const paired = bares.map((b, i) => shardlines[i]! / b);
  console.log(
    `  ratio Shardline / bare     best-to-best ${(Math.max(...shardlines) / Math.max(...bares)).toFixed(2)}  median of paired runs ${median(paired).toFixed(2)}  (target >= ${target.toFixed(2)})\n`,
  );
}

console.log(
  `reader benchmark: best of ${RUNS} runs (no-op) and ${SLOW_RUNS} runs (1 ms) after a warm-up; Shardline idle poll ${IDLE_POLL_MS} ms\n`,
);
// `--source=dynamodb` or `--source=kinesis` runs one source only.
const only = process.argv.find((a) => a.startsWith('--source='))?.split('=')[1];
if (only !== 'kinesis') for (const comparison of await benchDynamoDB()) report(comparison);
if (only !== 'dynamodb') {
  for (const comparison of await benchKinesis(RECORDS)) report(comparison);
  for (const comparison of await benchKinesis(BACKLOG_RECORDS)) report(comparison);
}
