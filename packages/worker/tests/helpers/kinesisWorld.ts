import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { sleep } from '@shardline/core';
import { KinesisSource } from '@shardline/kinesis';
import {
  type DynamoDBLocalServer,
  type KinesaliteServer,
  startDynamoDBLocal,
  startKinesalite,
} from '@shardline/testing';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Worker } from '../../src/index.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Worker settings that make a one-shard test quick: short leases, fast polling, silent logs. */
export const FAST = {
  leaseDurationMs: 2000,
  takeIntervalMs: 100,
  discoveryIntervalMs: 500,
  commitIntervalMs: 100,
  minReadIntervalMs: 20,
  maxIdleDelayMs: 50,
  logger: silent,
} as const;

/** Polls `condition` every 50 ms until it holds, or throws after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

/**
 * DynamoDB Local (lease tables) and kinesalite (streams) for one test file, started before its
 * tests and stopped after; workers pushed to `workers` are stopped after each test.
 */
export function kinesisWorld() {
  let dynamo: DynamoDBLocalServer;
  let kinesalite: KinesaliteServer;
  let streams = 0;
  const world = {
    ddb: undefined as unknown as DynamoDBClient,
    kinesis: undefined as unknown as KinesisClient,
    workers: [] as Worker[],
    /** A one-shard stream, ACTIVE, with a source for it. */
    async stream(prefix: string): Promise<{ name: string; source: KinesisSource }> {
      const name = `${prefix}-${++streams}`;
      await world.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      for (;;) {
        const out = await world.kinesis.send(
          new DescribeStreamSummaryCommand({ StreamName: name }),
        );
        if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
        await sleep(20);
      }
      return {
        name,
        source: await KinesisSource.create({ client: world.kinesis, streamName: name }),
      };
    },
    /** Puts each string as one record (partition key `k`); the sequence numbers, in order. */
    async put(name: string, ...data: string[]): Promise<string[]> {
      const seqs: string[] = [];
      for (const d of data) {
        const out = await world.kinesis.send(
          new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from(d) }),
        );
        seqs.push(out.SequenceNumber!);
      }
      return seqs;
    },
  };
  beforeAll(async () => {
    [dynamo, kinesalite] = await Promise.all([startDynamoDBLocal(), startKinesalite()]);
    world.ddb = new DynamoDBClient(dynamo.clientConfig);
    world.kinesis = new KinesisClient(kinesalite.clientConfig);
  }, 60_000);
  afterEach(async () => {
    await Promise.all(world.workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    world.ddb?.destroy();
    world.kinesis?.destroy();
    await kinesalite?.stop();
    await dynamo?.stop();
  });
  return world;
}
