import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ConfigurationError, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { describe, expect, it } from 'vitest';
import { createWorker } from '../../src/index.js';
import { FAST, kinesisWorld, until } from '../helpers/kinesisWorld.js';

// A worker on a kinesalite stream with an AT_TIMESTAMP initial position, leases in a DynamoDB
// Local table written in the KCL's format.
const world = kinesisWorld();
const { put: putAll } = world;
const put = (stream: string, data: string) => putAll(stream, data);

/** A one-shard stream with `before` records, then (after a second) a time, then `after`. */
async function streamAroundTime(before: string[], after: string[]) {
  const { name: stream, source } = await world.stream('at-ts');
  for (const data of before) await put(stream, data);
  await sleep(1100); // kinesalite's arrival times are exact; keep the two sets a second apart
  const timestamp = new Date();
  await sleep(50);
  for (const data of after) await put(stream, data);
  return { stream, source, timestamp };
}

function start(source: KinesisSource, table: string, timestamp: Date | undefined, seen: string[]) {
  const worker = createWorker({
    ...FAST,
    applicationName: table,
    sources: source,
    dynamoDBClient: world.ddb,
    ...(timestamp ? { initialPosition: { type: 'AT_TIMESTAMP' as const, timestamp } } : {}),
    handler: (r) => {
      seen.push(Buffer.from(r.data!).toString());
    },
  });
  world.workers.push(worker);
  return worker.start();
}

describe('Worker: AT_TIMESTAMP initial position', () => {
  it('reads only the records at or after the time', async () => {
    // arrange
    const { source, timestamp, stream } = await streamAroundTime(['old-1', 'old-2'], ['new-1']);
    const table = `app-${stream}`;
    const seen: string[] = [];
    // act
    await start(source, table, timestamp, seen);
    await until(() => seen.length >= 1);
    await put(stream, 'new-2');
    await until(() => seen.length >= 2);
    // assert
    expect(seen).toEqual(['new-1', 'new-2']);
  });

  it('reads a KCL lease whose checkpoint is AT_TIMESTAMP from the configured time, then checkpoints past it', async () => {
    // arrange: a KCL single-stream lease table, the lease created AT_TIMESTAMP and never read.
    // (kinesalite answers GetShardIterator AT_TIMESTAMP only once a record at or after the time
    // exists, so the record after the time is written first.)
    const { source, timestamp, stream } = await streamAroundTime(['old'], ['new']);
    const table = `kcl-${stream}`;
    const store = new DynamoDBLeaseStore({ client: world.ddb, tableName: table, streamId: stream });
    await store.createTableIfNotExists();
    await world.ddb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          leaseKey: { S: 'shardId-000000000000' },
          leaseCounter: { N: '7' },
          checkpoint: { S: 'AT_TIMESTAMP' },
          checkpointSubSequenceNumber: { N: '0' },
          ownerSwitchesSinceCheckpoint: { N: '0' },
        },
      }),
    );
    const leased = (await store.listLeases())[0];
    // act
    const seen: string[] = [];
    await start(source, table, timestamp, seen);
    await until(() => seen.length >= 1);
    await until(async () => {
      const item = await world.ddb.send(
        new GetItemCommand({ TableName: table, Key: { leaseKey: { S: 'shardId-000000000000' } } }),
      );
      return item.Item?.checkpoint?.S !== 'AT_TIMESTAMP';
    });
    // assert
    expect(leased?.checkpoint).toBe('AT_TIMESTAMP');
    expect(seen).toEqual(['new']);
  });

  it('writes the AT_TIMESTAMP sentinel in each new lease, as the KCL does, until a record is done', async () => {
    // arrange
    const { source, timestamp, stream } = await streamAroundTime(['old'], ['new']);
    const table = `new-${stream}`;
    const seen: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const checkpointOf = async () =>
      (
        await world.ddb.send(
          new GetItemCommand({
            TableName: table,
            Key: { leaseKey: { S: 'shardId-000000000000' } },
          }),
        )
      ).Item?.checkpoint?.S;
    const worker = createWorker({
      ...FAST,
      applicationName: table,
      sources: source,
      dynamoDBClient: world.ddb,
      initialPosition: { type: 'AT_TIMESTAMP', timestamp },
      handler: async (r) => {
        await gate; // held: nothing is done, so nothing is committed
        seen.push(Buffer.from(r.data!).toString());
      },
    });
    world.workers.push(worker);
    // act
    await worker.start();
    const store = new DynamoDBLeaseStore({ client: world.ddb, tableName: table, streamId: stream });
    await until(async () => (await store.listLeases()).length === 1);
    const whileHeld = await checkpointOf();
    release();
    await until(async () => (await checkpointOf()) !== 'AT_TIMESTAMP');
    // assert
    expect(whileHeld).toBe('AT_TIMESTAMP');
    expect(seen).toEqual(['new']);
  });

  it('refuses AT_TIMESTAMP for a DynamoDB Streams source, and a timestamp that is not a Date', () => {
    const streamsSource = new DynamoDBStreamsSource({
      client: {} as never,
      streamArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000',
    });
    const kinesisSource = new KinesisSource({ client: world.kinesis, streamName: 'x' });
    const make = (sources: DynamoDBStreamsSource | KinesisSource, timestamp: unknown) => () =>
      createWorker({
        applicationName: 'app',
        sources,
        dynamoDBClient: world.ddb,
        initialPosition: { type: 'AT_TIMESTAMP', timestamp: timestamp as Date },
        handler: () => {},
      });
    expect(make(streamsSource, new Date())).toThrow(ConfigurationError);
    expect(make(streamsSource, new Date())).toThrow(/DynamoDB Streams has none/);
    expect(make(kinesisSource, '2026-12-01')).toThrow(/needs a valid Date as timestamp/);
  });
});
