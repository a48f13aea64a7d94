import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type _Record as KinesisSdkRecord,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import {
  EventBus,
  InMemoryFailureDestination,
  InMemoryMetrics,
  type ShardlineEventMap,
  silentLogger,
} from '@shardline/core';
import { shardHashKeyRanges } from '@shardline/kinesis';
import { type KinesaliteServer, startKinesalite } from '@shardline/testing';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaHandler, replayFailures } from '../../src/index.js';
import { fakeContext, kplAggregate, loadFixture, permanentError } from '../helpers/lambda.js';

/**
 * A Kinesis GetRecords record in the exact shape Lambda delivers it: base64 `data`, arrival in
 * epoch seconds, `eventID` = shard id and sequence number.
 */
function toLambdaRecord(
  record: KinesisSdkRecord,
  shardId: string,
  streamArn: string,
): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey!,
      sequenceNumber: record.SequenceNumber!,
      data: Buffer.from(record.Data!).toString('base64'),
      approximateArrivalTimestamp: record.ApproximateArrivalTimestamp!.getTime() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${record.SequenceNumber!}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'us-east-1',
    eventSourceARN: streamArn,
  };
}

async function readStream(
  client: KinesisClient,
  name: string,
  puts: { partitionKey: string; data: Uint8Array }[],
): Promise<KinesisStreamEvent> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  let description = await client.send(new DescribeStreamCommand({ StreamName: name }));
  while (description.StreamDescription!.StreamStatus !== 'ACTIVE') {
    await new Promise((r) => setTimeout(r, 20));
    description = await client.send(new DescribeStreamCommand({ StreamName: name }));
  }
  for (const put of puts) {
    await client.send(
      new PutRecordCommand({ StreamName: name, PartitionKey: put.partitionKey, Data: put.data }),
    );
  }
  const shardId = description.StreamDescription!.Shards![0]!.ShardId!;
  const iterator = await client.send(
    new GetShardIteratorCommand({
      StreamName: name,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }));
  const arn = description.StreamDescription!.StreamARN!;
  return { Records: page.Records!.map((r) => toLambdaRecord(r, shardId, arn)) };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('events from real kinesalite stream records', () => {
  let server: KinesaliteServer;
  let client: KinesisClient;

  beforeAll(async () => {
    server = await startKinesalite();
    client = new KinesisClient(server.clientConfig);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  it('applies JSON records and KPL aggregates, parking one bad user record and replaying it', async () => {
    // arrange
    const aggregate = await kplAggregate([
      { partitionKey: 'a', data: JSON.stringify({ n: 2 }) },
      { partitionKey: 'b', data: '{not json' },
      { partitionKey: 'b', data: JSON.stringify({ n: 3 }) },
    ]);
    const event = await readStream(client, 'json-stream', [
      { partitionKey: 'a', data: json({ n: 1 }) },
      { partitionKey: aggregate.partitionKey, data: aggregate.data },
      { partitionKey: 'a', data: json({ n: 4 }) },
    ]);
    const destination = new InMemoryFailureDestination();
    const applied: string[] = [];
    const handler = createLambdaHandler({
      logger: silentLogger,
      payload: 'json',
      failureDestination: destination,
      handler: (r) => {
        applied.push(`${r.partitionKey}${String(r.newImage?.n)}`);
      },
    });
    // act
    const response = await handler(event, fakeContext(10_000));
    // assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(applied.filter((s) => s.startsWith('a'))).toEqual(['a1', 'a2', 'a4']);
    expect(applied.filter((s) => s.startsWith('b'))).toEqual(['b3']);
    expect(destination.records).toHaveLength(1);
    expect(destination.records[0]).toMatchObject({
      record: event.Records[1],
      subSequenceNumber: 1,
      error: { name: 'DecodeError' },
    });
    const replay = await replayFailures({
      destination,
      payload: 'json',
      logger: silentLogger,
      handler: () => {},
    });
    expect(replay).toEqual({ received: 1, acknowledged: 0, failed: 1 });
  });

  it('reads "Kinesis Data Streams for DynamoDB" payloads and reports the first failure', async () => {
    // arrange
    const sample = loadFixture<{ dynamodb: { Keys: object; NewImage: object } }>(
      'kds-dynamodb-payload.json',
    );
    const change = (id: string, data: string) => ({
      ...sample,
      eventID: `${id}-${data}`,
      dynamodb: {
        ...sample.dynamodb,
        Keys: { id: { S: id } },
        NewImage: { id: { S: id }, data: { S: data } },
      },
    });
    const event = await readStream(client, 'ddb-stream', [
      { partitionKey: 'h1', data: json(change('x', 'x1')) },
      { partitionKey: 'h2', data: json(change('y', 'y1')) },
      { partitionKey: 'h1', data: json(change('x', 'x2')) },
    ]);
    const seen: string[] = [];
    const handler = createLambdaHandler({
      logger: silentLogger,
      payload: 'dynamodb',
      retry: { maxAttempts: 1 },
      handler: (r) => {
        if (r.newImage?.data === 'y1') throw permanentError();
        seen.push(`${String(r.keys?.id)} ${String(r.newImage?.data)}`);
      },
    });
    // act
    const response = await handler(event, fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: event.Records[1]!.kinesis.sequenceNumber },
    ]);
    expect(seen).toEqual(['x x1', 'x x2']);
  });

  it('finds KPL user records hashing into another shard through ListShards; delivers them by default, skips them when told to', async () => {
    // arrange: a 2-shard stream; an aggregate on shard 0 whose middle user record hashes into
    // shard 1 (put with an outdated shard map by an aggregator that does not re-route)
    const name = 'kpl-out-of-range';
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
    let description = await client.send(new DescribeStreamCommand({ StreamName: name }));
    while (description.StreamDescription!.StreamStatus !== 'ACTIVE') {
      await new Promise((r) => setTimeout(r, 20));
      description = await client.send(new DescribeStreamCommand({ StreamName: name }));
    }
    const arn = description.StreamDescription!.StreamARN!;
    const [first, second] = (await client.send(new ListShardsCommand({ StreamName: name })))
      .Shards!;
    const mine = first!.HashKeyRange!.StartingHashKey!;
    const other = second!.HashKeyRange!.StartingHashKey!;
    const aggregate = await kplAggregate([
      { partitionKey: 'a', data: 'mine-1', explicitHashKey: mine },
      { partitionKey: 'b', data: 'other', explicitHashKey: other },
      { partitionKey: 'c', data: 'mine-2', explicitHashKey: mine },
    ]);
    await client.send(
      new PutRecordCommand({
        StreamName: name,
        PartitionKey: 'a',
        ExplicitHashKey: mine,
        Data: aggregate.data,
      }),
    );
    const iterator = await client.send(
      new GetShardIteratorCommand({
        StreamName: name,
        ShardId: first!.ShardId!,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const page = await client.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }),
    );
    const event = { Records: page.Records!.map((r) => toLambdaRecord(r, first!.ShardId!, arn)) };
    const hashKeyRanges = shardHashKeyRanges(client);
    const run = async (outOfRangeRecordPolicy: 'deliver' | 'skip' | undefined) => {
      const events = new EventBus();
      const metrics = new InMemoryMetrics();
      const reported: ShardlineEventMap['record.outOfRange'][] = [];
      events.on('record.outOfRange', (e) => reported.push(e));
      const applied: string[] = [];
      const handler = createLambdaHandler({
        logger: silentLogger,
        events,
        metrics,
        hashKeyRanges,
        ...(outOfRangeRecordPolicy ? { outOfRangeRecordPolicy } : {}),
        handler: (r) => void applied.push(Buffer.from(r.data!).toString()),
      });
      const response = await handler(event, fakeContext(10_000));
      return { response, applied, reported, metrics };
    };
    // act
    const byDefault = await run(undefined);
    const skipped = await run('skip');
    // assert
    expect(byDefault.response).toEqual({ batchItemFailures: [] });
    expect(byDefault.applied).toEqual(['mine-1', 'other', 'mine-2']);
    expect(byDefault.reported).toEqual([
      {
        streamId: arn,
        shardId: first!.ShardId!,
        sequenceNumber: event.Records[0]!.kinesis.sequenceNumber,
        subSequenceNumber: 1,
        partitionKey: 'b',
        explicitHashKey: other,
        hashKey: other,
        action: 'delivered',
      },
    ]);
    expect(
      byDefault.metrics.counter('kpl_user_records_out_of_range_total', {
        stream: arn,
        shard: first!.ShardId!,
        action: 'delivered',
      }),
    ).toBe(1);
    expect(skipped.response).toEqual({ batchItemFailures: [] });
    expect(skipped.applied).toEqual(['mine-1', 'mine-2']);
    expect(skipped.reported.map((e) => [e.subSequenceNumber, e.action])).toEqual([[1, 'skipped']]);
  });
});
