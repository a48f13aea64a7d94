import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { KinesisSource } from '@shardline/kinesis';
import type { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import {
  type DynamoDBLocalServer,
  type KinesaliteServer,
  startDynamoDBLocal,
  startKinesalite,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type Worker } from '../../src/index.js';

// Two workers share a 10-shard kinesalite stream through a DynamoDB Local lease table, while
// the stream is resharded (SplitShard) under them.
const STREAM = 'orders';
let dynamo: DynamoDBLocalServer;
let kinesalite: KinesaliteServer;
let ddb: DynamoDBClient;
let kinesis: KinesisClient;

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

async function waitActive() {
  for (;;) {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function write(from: number, count: number) {
  const entries = Array.from({ length: count }, (_, i) => ({
    PartitionKey: `key-${(from + i) % 40}`,
    Data: Buffer.from(String(from + i)),
  }));
  for (let i = 0; i < entries.length; i += 100) {
    await kinesis.send(
      new PutRecordsCommand({ StreamName: STREAM, Records: entries.slice(i, i + 100) }),
    );
  }
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 40_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  [dynamo, kinesalite] = await Promise.all([startDynamoDBLocal(), startKinesalite()]);
  ddb = new DynamoDBClient(dynamo.clientConfig);
  kinesis = new KinesisClient(kinesalite.clientConfig);
  await kinesis.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 10 }));
  await waitActive();
});

afterAll(async () => {
  ddb?.destroy();
  kinesis?.destroy();
  await Promise.all([dynamo?.stop(), kinesalite?.stop()]);
});

describe('workers over kinesalite', () => {
  it('share 10 shards one owner each, and read split children only after their parent ended', async () => {
    // arrange
    const handled: { shardId: string; value: number; at: number }[] = [];
    let tick = 0;
    const workers: Worker[] = [];
    for (const workerId of ['w1', 'w2']) {
      const source = await KinesisSource.create({ client: kinesis, streamName: STREAM });
      workers.push(
        createWorker({
          applicationName: 'kinesis-app',
          workerId,
          sources: source,
          dynamoDBClient: ddb,
          leaseDurationMs: 1500,
          takeIntervalMs: 100,
          discoveryIntervalMs: 300,
          commitIntervalMs: 100,
          minReadIntervalMs: 20,
          maxIdleDelayMs: 100,
          logger: silent,
          handler: (record) => {
            handled.push({
              shardId: record.shardId,
              value: Number(Buffer.from(record.data!).toString()),
              at: tick++,
            });
          },
        }),
      );
    }
    const store = workers[0]!.leaseStore as DynamoDBLeaseStore;
    await write(0, 300);
    // act
    await Promise.all(workers.map((w) => w.start()));
    await until(() => handled.length >= 300);
    await until(async () => {
      const owners = (await store.listLeases()).map((l) => l.leaseOwner);
      const n1 = owners.filter((o) => o === 'w1').length;
      const n2 = owners.filter((o) => o === 'w2').length;
      return n1 + n2 === 10 && Math.abs(n1 - n2) <= 1;
    });
    const ownersBefore = (await store.listLeases()).map((l) => l.leaseOwner);
    const [first] = (await kinesis.send(new ListShardsCommand({ StreamName: STREAM }))).Shards!;
    const low = BigInt(first!.HashKeyRange!.StartingHashKey!);
    const high = BigInt(first!.HashKeyRange!.EndingHashKey!);
    await kinesis.send(
      new SplitShardCommand({
        StreamName: STREAM,
        ShardToSplit: first!.ShardId!,
        NewStartingHashKey: ((low + high) / 2n).toString(),
      }),
    );
    await waitActive();
    await write(300, 300);
    // Wait for every value, not for 600 handlings: a lease moved between the workers may
    // repeat records past its last checkpoint, and counting those ended the wait early.
    await until(() => new Set(handled.map((h) => h.value)).size >= 600, 60_000);
    await Promise.all(workers.map((w) => w.stop()));
    // assert
    expect(new Set(ownersBefore).size).toBe(2);
    expect(new Set(handled.map((h) => h.value)).size).toBe(600);
    const parent = first!.ShardId!;
    const lastOfParent = Math.max(...handled.filter((h) => h.shardId === parent).map((h) => h.at));
    const children = handled.filter(
      (h) => h.shardId === 'shardId-000000000010' || h.shardId === 'shardId-000000000011',
    );
    expect(children.length).toBeGreaterThan(0);
    expect(Math.min(...children.map((h) => h.at))).toBeGreaterThan(lastOfParent);
    const leases = await store.listLeases();
    expect(leases.find((l) => l.shardId === parent)).toMatchObject({
      checkpoint: 'SHARD_END',
      childShardIds: expect.arrayContaining(['shardId-000000000010', 'shardId-000000000011']),
    });
    expect(leases.find((l) => l.shardId === 'shardId-000000000010')?.parentShardIds).toEqual([
      parent,
    ]);
  });
});
