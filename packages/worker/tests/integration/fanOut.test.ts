import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { sleep } from '@shardline/core';
import { KinesisSource } from '@shardline/kinesis';
import {
  type DynamoDBLocalServer,
  type KinesaliteServer,
  type KinesisFanOutDouble,
  startDynamoDBLocal,
  startKinesalite,
  startKinesisFanOutDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type Worker } from '../../src/index.js';
import { FAST, until } from '../helpers/kinesisWorld.js';

// A worker (leases in DynamoDB Local) reading a kinesalite stream in enhanced fan-out mode
// through the HTTP/2 double, across a split.
let dynamo: DynamoDBLocalServer;
let kinesalite: KinesaliteServer;
let efo: KinesisFanOutDouble;
let ddb: DynamoDBClient;
let kinesis: KinesisClient;
const workers: Worker[] = [];

beforeAll(async () => {
  [dynamo, kinesalite] = await Promise.all([startDynamoDBLocal(), startKinesalite()]);
  efo = await startKinesisFanOutDouble({
    kinesisEndpoint: kinesalite.endpoint,
    consumerActivationDelayMs: 100,
  });
  ddb = new DynamoDBClient(dynamo.clientConfig);
  kinesis = new KinesisClient(efo.clientConfig);
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  ddb?.destroy();
  kinesis?.destroy();
  await efo?.stop();
  await kinesalite?.stop();
  await dynamo?.stop();
});

async function waitActive(name: string): Promise<void> {
  await until(async () => {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  });
}

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];

async function putRound(name: string, round: number): Promise<void> {
  for (const key of KEYS) {
    await kinesis.send(
      new PutRecordCommand({
        StreamName: name,
        PartitionKey: key,
        Data: Buffer.from(`${key}:${round}`),
      }),
    );
  }
}

describe('Worker: enhanced fan-out retrieval', () => {
  it('reads every record once and in order per key across a split', async () => {
    // arrange
    const name = 'efo-worker';
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await waitActive(name);
    const source = await KinesisSource.create({
      client: kinesis,
      streamName: name,
      retrieval: 'fan-out',
      consumerName: 'efo-worker-app',
    });
    const seen: string[] = [];
    const worker = createWorker({
      ...FAST,
      applicationName: 'efo-worker-app',
      sources: source,
      dynamoDBClient: ddb,
      handler: (r) => {
        seen.push(Buffer.from(r.data!).toString());
      },
    });
    workers.push(worker);
    await worker.start();
    // act: 5 rounds on the parent, a split while its subscription is open, 5 rounds on the children
    for (let round = 0; round < 5; round++) await putRound(name, round);
    await until(() => seen.length >= 12);
    await kinesis.send(
      new SplitShardCommand({
        StreamName: name,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitActive(name);
    for (let round = 5; round < 10; round++) await putRound(name, round);
    await until(() => seen.length >= KEYS.length * 10);
    await sleep(500); // anything read twice would show up now
    // assert
    expect(seen).toHaveLength(KEYS.length * 10);
    for (const key of KEYS) {
      expect(seen.filter((v) => v.startsWith(`${key}:`))).toEqual(
        Array.from({ length: 10 }, (_, round) => `${key}:${round}`),
      );
    }
    const subscribed = new Set(
      efo.subscribeCalls.filter((c) => c.outcome === 'ok').map((c) => c.shardId),
    );
    expect(subscribed).toEqual(
      new Set(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']),
    );
  }, 60_000);

  it('hands the shard to the next worker at once when one stops: its subscription is closed', async () => {
    // arrange: a subscription left open would hold the shard (ResourceInUse) for 5 minutes
    const name = 'efo-handover';
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await waitActive(name);
    const seen: string[] = [];
    const start = async () => {
      const worker = createWorker({
        ...FAST,
        applicationName: 'efo-handover-app',
        sources: await KinesisSource.create({
          client: kinesis,
          streamName: name,
          retrieval: 'fan-out',
          consumerName: 'efo-handover-app',
        }),
        dynamoDBClient: ddb,
        handler: (r) => {
          seen.push(Buffer.from(r.data!).toString());
        },
      });
      workers.push(worker);
      await worker.start();
      return worker;
    };
    const first = await start();
    for (let round = 0; round < 3; round++) await putRound(name, round);
    await until(() => seen.length >= KEYS.length * 3);
    // act
    await first.stop();
    const openAfterStop = efo
      .openSubscriptions()
      .filter((s) => s.shardId === 'shardId-000000000000');
    await start();
    for (let round = 3; round < 6; round++) await putRound(name, round);
    await until(() => new Set(seen).size >= KEYS.length * 6, 20_000);
    // assert: nothing lost; a record may repeat only past the last checkpoint (at least once)
    expect(openAfterStop).toEqual([]);
    for (const key of KEYS) {
      const values = [...new Set(seen.filter((v) => v.startsWith(`${key}:`)))];
      expect(values).toEqual(Array.from({ length: 6 }, (_, round) => `${key}:${round}`));
    }
  }, 60_000);
});
