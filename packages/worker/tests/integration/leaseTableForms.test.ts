import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { sleep } from '@shardline/core';
import type { KinesisSource } from '@shardline/kinesis';
import { DynamoDBLeaseStore, kclStreamIdentifier } from '@shardline/store-dynamodb';
import { describe, expect, it } from 'vitest';
import { createWorker } from '../../src/index.js';
import { FAST, kinesisWorld, until } from '../helpers/kinesisWorld.js';

// Workers on kinesalite streams with a DynamoDB Local lease table whose keys change form: a
// second stream added to a single-stream table, and a table the KCL wrote in its multi-stream form.
const world = kinesisWorld();
const { stream, put } = world;
const SHARD = 'shardId-000000000000';
let n = 0;

async function run(table: string, sources: KinesisSource[], seen: string[]) {
  const worker = createWorker({
    ...FAST,
    applicationName: table,
    sources,
    dynamoDBClient: world.ddb,
    handler: (r) => {
      seen.push(Buffer.from(r.data!).toString());
    },
  });
  world.workers.push(worker);
  await worker.start();
  return worker;
}

describe('Worker: lease keys that change form', () => {
  it('keeps the first stream’s checkpoints when a second stream is added to the worker', async () => {
    // arrange: a worker reads `orders` alone and checkpoints all of it
    const orders = await stream('orders');
    const payments = await stream('payments');
    const table = `two-streams-${++n}`;
    await put(orders.name, 'o1', 'o2', 'o3');
    const first: string[] = [];
    const alone = await run(table, [orders.source], first);
    await until(() => first.length === 3);
    await alone.stop();
    await put(orders.name, 'o4');
    await put(payments.name, 'p1', 'p2');
    // act: the same application now reads both streams
    const seen: string[] = [];
    await run(table, [orders.source, payments.source], seen);
    await until(() => seen.length >= 3);
    await sleep(500); // anything read twice would arrive by now
    // assert: no record of `orders` read again, none skipped
    expect(first).toEqual(['o1', 'o2', 'o3']);
    expect([...seen].sort()).toEqual(['o4', 'p1', 'p2']);
  });

  it('takes over a table the KCL wrote in its multi-stream form, from its checkpoints', async () => {
    // arrange: the KCL read orders up to o2 (lease key <account>:<stream>:<epoch>:<shard>)
    const orders = await stream('orders');
    const payments = await stream('payments');
    const table = `kcl-multi-${++n}`;
    const [, o2] = await put(orders.name, 'o1', 'o2', 'o3');
    await put(payments.name, 'p1');
    await new DynamoDBLeaseStore({
      client: world.ddb,
      tableName: table,
      multiStream: true,
    }).createTableIfNotExists();
    const summary = await world.kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: orders.name }),
    );
    const identifier = kclStreamIdentifier(
      orders.source.streamId,
      summary.StreamDescriptionSummary!.StreamCreationTimestamp!,
    );
    await world.ddb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          leaseKey: { S: `${identifier}:${SHARD}` },
          leaseCounter: { N: '12' },
          checkpoint: { S: o2! },
          checkpointSubSequenceNumber: { N: '0' },
          ownerSwitchesSinceCheckpoint: { N: '0' },
          streamName: { S: identifier },
          shardId: { S: SHARD },
          startingHashKey: { S: '0' },
          endingHashKey: { S: '340282366920938463463374607431768211455' },
        },
      }),
    );
    // act
    const seen: string[] = [];
    await run(table, [orders.source, payments.source], seen);
    await until(() => seen.length >= 2);
    await sleep(500);
    // assert: orders resumes after o2; payments starts at TRIM_HORIZON
    expect([...seen].sort()).toEqual(['o3', 'p1']);
  });
});
