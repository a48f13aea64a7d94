import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  ConfigurationError,
  compareSequenceNumbers,
  DataTrimmedError,
  EventBus,
  InMemoryMetrics,
  type ShardlineEventMap,
} from '@shardline/core';
import {
  type DynamoDBLocalServer,
  type FaultProxy,
  startDynamoDBLocal,
  startFaultProxy,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBStreamsSource, type DynamoDBStreamsSourceOptions } from '../../src/index.js';
import { createStreamTable, drain, positionOf } from '../helpers/streams.js';

let server: DynamoDBLocalServer;
let proxy: FaultProxy;
let ddb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let proxied: DynamoDBStreamsClient;
let tableCount = 0;

beforeAll(async () => {
  server = await startDynamoDBLocal();
  proxy = await startFaultProxy({ target: server.endpoint, service: 'dynamodb-streams' });
  ddb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
  proxied = new DynamoDBStreamsClient(proxy.clientConfig);
});

afterAll(async () => {
  ddb?.destroy();
  streams?.destroy();
  proxied?.destroy();
  await proxy?.stop();
  await server?.stop();
});

/** A fresh table with `count` items written, and a source on it. */
async function tableWithItems(
  count: number,
  options: Partial<DynamoDBStreamsSourceOptions> = {},
): Promise<{ source: DynamoDBStreamsSource; shardId: string; tableName: string }> {
  const tableName = `items-${++tableCount}`;
  await createStreamTable(ddb, tableName);
  for (let i = 0; i < count; i++) await putItem(tableName, `k${i % 4}`, i);
  const source = await DynamoDBStreamsSource.fromTable({
    dynamodb: ddb,
    client: streams,
    tableName,
    ...options,
  });
  const [shard] = await source.listShards();
  return { source, shardId: shard!.shardId, tableName };
}

function putItem(tableName: string, id: string, n: number) {
  return ddb.send(
    new PutItemCommand({ TableName: tableName, Item: { id: { S: id }, n: { N: String(n) } } }),
  );
}

function collect<K extends keyof ShardlineEventMap>(events: EventBus, type: K) {
  const seen: ShardlineEventMap[K][] = [];
  events.on(type, (event) => seen.push(event));
  return seen;
}

const sequences = (records: readonly { sequenceNumber: string }[]) =>
  records.map((r) => r.sequenceNumber).sort(compareSequenceNumbers);

describe('DynamoDBStreamsSource on DynamoDB Local', () => {
  it('reads INSERT, MODIFY and REMOVE end to end through ShardConsumer and BatchProcessor', async () => {
    // arrange
    const tableName = 'votes-e2e';
    await createStreamTable(ddb, tableName);
    await putItem(tableName, 'a', 1);
    await ddb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { id: { S: 'a' } },
        UpdateExpression: 'SET n = :n, tags = :t',
        ExpressionAttributeValues: { ':n': { N: '2' }, ':t': { SS: ['x', 'y'] } },
      }),
    );
    await ddb.send(new DeleteItemCommand({ TableName: tableName, Key: { id: { S: 'a' } } }));
    await putItem(tableName, 'b', 7);
    const source = await DynamoDBStreamsSource.fromTable({
      dynamodb: ddb,
      client: streams,
      tableName,
    });
    const [shard] = await source.listShards();
    // act
    const run = await drain({
      source,
      shardId: shard!.shardId,
      from: { type: 'TRIM_HORIZON' },
      until: 4,
    });
    // assert
    expect(run.error).toBeUndefined();
    const byKey = run.records.filter((r) => r.keys?.id === 'a');
    expect(byKey.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    expect(byKey[1]!.oldImage).toEqual({ id: 'a', n: 1 });
    expect(byKey[1]!.newImage).toEqual({ id: 'a', n: 2, tags: new Set(['x', 'y']) });
    expect(byKey[2]!.newImage).toBeUndefined();
    expect(byKey[2]!.oldImage).toMatchObject({ id: 'a', n: 2 });
    expect(run.records.every((r) => r.streamId === source.streamId)).toBe(true);
    expect(run.records.every((r) => r.tableName === tableName)).toBe(true);
    const last = sequences(run.records).at(-1);
    expect(positionOf(run.checkpoints.at(-1))).toBe(last);
  });

  it('restarts from the committed checkpoint with no record lost and none replayed past it', async () => {
    // arrange
    const { source, shardId } = await tableWithItems(30, { maxRecordsPerRead: 4 });
    // act: the first run stops part way, as a crash or a lease handover would
    const first = await drain({
      source,
      shardId,
      from: { type: 'TRIM_HORIZON' },
      until: 30,
      stopAfter: 13,
    });
    const checkpoint = positionOf(first.checkpoints.at(-1));
    const second = await drain({
      source,
      shardId,
      from: { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: checkpoint! },
      until: 30 - first.records.length,
    });
    // assert
    expect(checkpoint).toBeDefined();
    const firstSeqs = sequences(first.records);
    expect(firstSeqs.at(-1)).toBe(checkpoint); // the whole page in hand was finished on stop
    const secondSeqs = sequences(second.records);
    expect(secondSeqs.every((s) => compareSequenceNumbers(s, checkpoint!) > 0)).toBe(true);
    const all = [...firstSeqs, ...secondSeqs];
    expect(new Set(all).size).toBe(30);
    expect(all).toEqual([...all].sort(compareSequenceNumbers));
  });

  it('re-acquires an expired iterator after the last sequence number returned', async () => {
    // arrange
    const { source: plain, shardId } = await tableWithItems(12);
    const events = new EventBus();
    const reacquired = collect(events, 'shard.iteratorReacquired');
    const source = new DynamoDBStreamsSource({
      client: proxied,
      streamArn: plain.streamId,
      maxRecordsPerRead: 4,
      events,
    });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'expiredIterator' }, skip: 1 });
    // act
    const run = await drain({ source, shardId, from: { type: 'TRIM_HORIZON' }, until: 12, events });
    // assert
    const seqs = sequences(run.records);
    expect(run.error).toBeUndefined();
    expect(new Set(seqs).size).toBe(12);
    expect(run.records).toHaveLength(12);
    expect(reacquired).toEqual([
      {
        streamId: plain.streamId,
        shardId,
        afterSequenceNumber: seqs[3],
        reason: 'ExpiredIteratorException',
      },
    ]);
  });

  it('backs off on throttling, 5xx and dropped connections, and loses nothing', async () => {
    // arrange
    const { source: plain, shardId } = await tableWithItems(10);
    const events = new EventBus();
    const throttled = collect(events, 'shard.throttled');
    const source = new DynamoDBStreamsSource({
      client: proxied,
      streamArn: plain.streamId,
      maxRecordsPerRead: 3,
      events,
    });
    proxy.inject({ operation: 'DescribeStream', fault: { type: 'throttle' } });
    const [shard] = await source.listShards();
    proxy.inject({ operation: 'GetRecords', fault: { type: 'throttle' }, times: 2 });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'serverError' } });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'drop' } });
    const before = proxy.faulted('GetRecords');
    // act
    const run = await drain({ source, shardId, from: { type: 'TRIM_HORIZON' }, until: 10, events });
    // assert
    expect(shard?.shardId).toBe(shardId);
    expect(run.error).toBeUndefined();
    expect(new Set(sequences(run.records)).size).toBe(10);
    expect(run.records).toHaveLength(10);
    expect(proxy.faulted('GetRecords') - before).toBe(4);
    expect(throttled.map((t) => t.operation).slice(0, 3)).toEqual([
      'LimitExceededException',
      'LimitExceededException',
      'InternalServerError',
    ]);
    expect(throttled).toHaveLength(4);
  });

  it('stops with DataTrimmedError under the stop policy, and says so', async () => {
    // arrange
    const { source: plain, shardId } = await tableWithItems(6);
    const events = new EventBus();
    const trimmed = collect(events, 'shard.dataTrimmed');
    const source = new DynamoDBStreamsSource({
      client: proxied,
      streamArn: plain.streamId,
      maxRecordsPerRead: 3,
      events,
    });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'trimmed' }, skip: 1 });
    // act
    const run = await drain({ source, shardId, from: { type: 'TRIM_HORIZON' }, until: 6, events });
    // assert
    expect(run.error).toBeInstanceOf(DataTrimmedError);
    expect((run.error as DataTrimmedError).retriable).toBe(false);
    expect(run.records).toHaveLength(3);
    expect(trimmed).toEqual([
      {
        streamId: plain.streamId,
        shardId,
        afterSequenceNumber: sequences(run.records).at(-1),
        resumedAtSequenceNumber: undefined,
        policy: 'stop',
      },
    ]);
  });

  it('re-takes the iterator at the start when it is trimmed before the first read (nothing to skip)', async () => {
    // arrange: the stop policy, and a trim answered to the very first GetRecords
    const { source: plain, shardId } = await tableWithItems(6);
    const events = new EventBus();
    const trimmed = collect(events, 'shard.dataTrimmed');
    const source = new DynamoDBStreamsSource({
      client: proxied,
      streamArn: plain.streamId,
      maxRecordsPerRead: 3,
      events,
    });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'trimmed' } });
    // act
    const run = await drain({ source, shardId, from: { type: 'TRIM_HORIZON' }, until: 6, events });
    // assert: no position was passed, so nothing was lost and no trim is reported
    expect(run.error).toBeUndefined();
    expect(new Set(sequences(run.records)).size).toBe(6);
    expect(trimmed).toEqual([]);
  });

  it('skips to TRIM_HORIZON under the skip policy with an event and a metric of the lost range', async () => {
    // arrange
    const { source: plain, shardId } = await tableWithItems(6);
    const events = new EventBus();
    const metrics = new InMemoryMetrics();
    const trimmed = collect(events, 'shard.dataTrimmed');
    const source = new DynamoDBStreamsSource({
      client: proxied,
      streamArn: plain.streamId,
      maxRecordsPerRead: 3,
      trimmedDataPolicy: 'skip-to-trim-horizon',
      events,
      metrics,
    });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'trimmed' }, skip: 1 });
    // act
    const run = await drain({ source, shardId, from: { type: 'TRIM_HORIZON' }, until: 6, events });
    // assert: DynamoDB Local trimmed nothing really, so TRIM_HORIZON is the first record again
    const seqs = sequences(run.records);
    expect(run.error).toBeUndefined();
    expect(new Set(seqs).size).toBe(6);
    expect(trimmed).toEqual([
      {
        streamId: plain.streamId,
        shardId,
        afterSequenceNumber: seqs[2],
        resumedAtSequenceNumber: seqs[0],
        policy: 'skip-to-trim-horizon',
      },
    ]);
    expect(
      metrics.counter('shard_data_trimmed_total', {
        stream: source.streamId,
        shard: shardId,
        policy: 'skip-to-trim-horizon',
      }),
    ).toBe(1);
  });

  it('starts at LATEST and reads only what is written after', async () => {
    // arrange
    const { source, shardId, tableName } = await tableWithItems(3);
    const iterator = await source.openShard(shardId, { type: 'LATEST' });
    await putItem(tableName, 'late', 99);
    // act
    const page = await iterator.next();
    // assert
    expect(page.records.map((r) => r.keys?.id)).toEqual(['late']);
    expect(page.shardEnded).toBe(false);
    expect(page.millisBehindLatest).toBeGreaterThanOrEqual(0);
  });

  it('reports lag 0 for an empty page of an open shard: the reader is at the tip', async () => {
    // arrange
    const { source, shardId } = await tableWithItems(1);
    const iterator = await source.openShard(shardId, { type: 'LATEST' });
    // act
    const page = await iterator.next();
    // assert
    expect(page.records).toEqual([]);
    expect(page.millisBehindLatest).toBe(0);
  });

  it('finds no children of an open shard, with ShardFilter and with the full-listing fallback', async () => {
    // arrange
    const { source, shardId } = await tableWithItems(1);
    const fallback = new DynamoDBStreamsSource({
      client: streams,
      streamArn: source.streamId,
      useShardFilter: false,
    });
    // act
    const viaFilter = await source.childShardIds(shardId);
    const viaListing = await fallback.childShardIds(shardId);
    // assert
    expect(viaFilter).toEqual([]);
    expect(viaListing).toEqual([]);
  });

  it('falls back to full listings when the endpoint rejects ShardFilter', async () => {
    // arrange
    const { source: plain, shardId } = await tableWithItems(1);
    const source = new DynamoDBStreamsSource({ client: proxied, streamArn: plain.streamId });
    proxy.inject({
      operation: 'DescribeStream',
      fault: {
        type: 'error',
        code: 'ValidationException',
        message: 'ShardFilter is not supported',
      },
    });
    // act
    const children = await source.childShardIds(shardId);
    // assert
    expect(children).toEqual([]);
    expect(source.usesShardFilter).toBe(false);
  });

  it('says clearly when the table has no stream', async () => {
    // arrange
    await ddb.send(
      new CreateTableCommand({
        TableName: 'no-stream',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    // act
    const attempt = DynamoDBStreamsSource.fromTable({
      dynamodb: ddb,
      client: streams,
      tableName: 'no-stream',
    });
    // assert
    await expect(attempt).rejects.toThrow(ConfigurationError);
    await expect(attempt).rejects.toThrow(/no-stream has no DynamoDB stream.*StreamEnabled=true/);
  });

  it('rejects AT_TIMESTAMP, which DynamoDB Streams does not offer', async () => {
    // arrange
    const { source, shardId } = await tableWithItems(1);
    // act
    const attempt = source.openShard(shardId, { type: 'AT_TIMESTAMP', timestamp: new Date() });
    // assert
    await expect(attempt).rejects.toThrow(/no AT_TIMESTAMP/);
  });
});
