/**
 * Reader throughput: the Shardline reader (source + ShardConsumer + BatchProcessor with a no-op
 * handler) against a bare AWS SDK GetRecords loop over the same stream in the same run (the I/O
 * ceiling). Prints records/s of both and the ratio (target ≥ 0.9).
 *
 * Run: npm run build && npx tsx test/bench/reader.ts   (tsx resolves workspace packages to dist)
 *
 * Settings: ShardConsumer minReadIntervalMs 0, idleDelayMs 0, maxIdleDelayMs 0, prefetch on,
 * so a drain is never paced; GetRecords page size 1000 (DynamoDB) and 10,000 (Kinesis) for both
 * readers. Each reader drains the whole stream from TRIM_HORIZON; runs alternate, best of N.
 */

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
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
import { BatchProcessor, ShardConsumer, type ShardSource } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import { freePort, localClientConfig, startDynamoDBLocal, waitForHttp } from '@shardline/testing';

/** `--records=N` and `--runs=N` override the defaults. */
function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.split('=')[1]) : fallback;
}
const RECORDS = flag('records', 20_000);
const RUNS = flag('runs', 7);

/**
 * kinesalite in its own process, as the real service is: in-process, its CPU would be charged
 * to whichever reader runs, and the comparison would measure kinesalite.
 */
async function startKinesaliteProcess() {
  const port = await freePort();
  const cli = createRequire(import.meta.url).resolve('kinesalite/cli.js');
  const child = spawn(
    process.execPath,
    [cli, '--port', String(port), '--createStreamMs', '0', '--shardLimit', '100'],
    { stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForHttp(endpoint, 10_000, () => undefined);
  return {
    clientConfig: localClientConfig(endpoint),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function timed(count: () => Promise<number>): Promise<number> {
  const started = performance.now();
  const records = await count();
  const seconds = (performance.now() - started) / 1000;
  if (records < RECORDS) throw new Error(`drained only ${records} of ${RECORDS} records`);
  return records / seconds;
}

/** Shardline: one ShardConsumer per shard, all concurrent, stopped once every record was handled. */
async function shardlineDrain(source: ShardSource): Promise<number> {
  const controller = new AbortController();
  let handled = 0;
  const processor = new BatchProcessor({
    handler: () => {
      if (++handled >= RECORDS) controller.abort();
    },
    concurrency: 10,
  });
  const shards = await source.listShards();
  await Promise.all(
    shards.map((shard) =>
      new ShardConsumer({
        source,
        shardId: shard.shardId,
        from: { type: 'TRIM_HORIZON' },
        processor,
        minReadIntervalMs: 0,
        idleDelayMs: 0,
        maxIdleDelayMs: 0,
        prefetch: true,
      }).run(controller.signal),
    ),
  );
  return handled;
}

async function benchDynamoDB(): Promise<Comparison> {
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

    const bare = async () => {
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
        count += page.Records?.length ?? 0;
        ShardIterator = page.NextShardIterator;
      }
      return count;
    };
    return await compare('DynamoDB Local, 1 shard', bare, () => shardlineDrain(source));
  } finally {
    ddb.destroy();
    streams.destroy();
    await server.stop();
  }
}

async function benchKinesis(): Promise<Comparison> {
  const server = await startKinesaliteProcess();
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
    for (let i = 0; i < RECORDS; i += 500) {
      await client.send(
        new PutRecordsCommand({
          StreamName,
          Records: Array.from({ length: Math.min(500, RECORDS - i) }, (_, j) => ({
            PartitionKey: `key-${i + j}`,
            Data: data,
          })),
        }),
      );
    }
    const source = await KinesisSource.create({ client, streamName: StreamName });
    const shards = await source.listShards();

    const bare = async () => {
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
            count += page.Records?.length ?? 0;
            ShardIterator = page.NextShardIterator;
            if (!ShardIterator || (page.Records?.length ?? 0) === 0) return count;
          }
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    };
    return await compare('kinesalite, 4 shards', bare, () => shardlineDrain(source));
  } finally {
    client.destroy();
    await server.stop();
  }
}

async function compare(
  label: string,
  bare: () => Promise<number>,
  shardline: () => Promise<number>,
): Promise<Comparison> {
  const bares: number[] = [];
  const shardlines: number[] = [];
  await timed(bare); // warm-up: JIT, connections, the server's caches
  await timed(shardline);
  for (let run = 0; run < RUNS; run++) {
    // Alternate who goes first, so a drifting server favours neither.
    if (run % 2 === 0) {
      bares.push(await timed(bare));
      shardlines.push(await timed(shardline));
    } else {
      shardlines.push(await timed(shardline));
      bares.push(await timed(bare));
    }
  }
  return { label, bares, shardlines };
}

interface Comparison {
  readonly label: string;
  readonly bares: number[];
  readonly shardlines: number[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

function report({ label, bares, shardlines }: Comparison): void {
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
    `  ratio Shardline / bare     best-to-best ${(Math.max(...shardlines) / Math.max(...bares)).toFixed(2)}  median of paired runs ${median(paired).toFixed(2)}  (target >= 0.9)\n`,
  );
}

console.log(`reader benchmark: ${RECORDS} records, best of ${RUNS} runs after a warm-up\n`);
report(await benchDynamoDB());
report(await benchKinesis());
