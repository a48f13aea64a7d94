import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { silentLogger } from '@shardline/core';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import { fakeContext, permanentError, VersionedMemorySink } from '../helpers/lambda.js';

/**
 * A DynamoDB Streams GetRecords record in the exact shape Lambda delivers it: the same fields,
 * the stream ARN as `eventSourceARN`, and `ApproximateCreationDateTime` in epoch seconds.
 */
function toLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    eventID: record.eventID!,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion!,
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion!,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(record.dynamodb as DynamoDBRecord['dynamodb']),
      ApproximateCreationDateTime: created ? Math.floor(created.getTime() / 1000) : undefined,
    },
  } as DynamoDBRecord;
}

describe('events from real DynamoDB Local stream records', () => {
  let server: DynamoDBLocalServer;
  let event: DynamoDBStreamEvent;

  beforeAll(async () => {
    server = await startDynamoDBLocal();
    const client = new DynamoDBClient(server.clientConfig);
    const streams = new DynamoDBStreamsClient(server.clientConfig);
    const created = await client.send(
      new CreateTableCommand({
        TableName: 'Votes',
        AttributeDefinitions: [{ AttributeName: 'UserID', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'UserID', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const streamArn = created.TableDescription!.LatestStreamArn!;
    for (const user of ['u1', 'u2', 'u3']) {
      await client.send(
        new PutItemCommand({
          TableName: 'Votes',
          Item: { UserID: { S: user }, candidate: { S: 'A' }, n: { N: '1' } },
        }),
      );
    }
    await client.send(
      new UpdateItemCommand({
        TableName: 'Votes',
        Key: { UserID: { S: 'u1' } },
        UpdateExpression: 'SET candidate = :c, n = :n',
        ExpressionAttributeValues: { ':c': { S: 'B' }, ':n': { N: '2' } },
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: 'Votes', Key: { UserID: { S: 'u2' } } }));
    const stream = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const shardId = stream.StreamDescription!.Shards![0]!.ShardId!;
    const iterator = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const page = await streams.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }),
    );
    event = { Records: page.Records!.map((r) => toLambdaRecord(r, streamArn)) };
    client.destroy();
    streams.destroy();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('applies the real stream in order with decoded images and epoch-second times', async () => {
    // arrange
    const seen: unknown[] = [];
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      handler: (r) => {
        seen.push([r.eventName, r.keys?.UserID, r.newImage?.candidate, r.oldImage?.candidate]);
      },
    });
    // act
    const response = await handler(event, fakeContext(10_000));
    // assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(event.Records).toHaveLength(5);
    expect(seen).toEqual(
      expect.arrayContaining([
        ['INSERT', 'u1', 'A', undefined],
        ['MODIFY', 'u1', 'B', 'A'],
        ['REMOVE', 'u2', undefined, 'A'],
      ]),
    );
    const u1 = seen.filter((s) => (s as unknown[])[1] === 'u1');
    expect(u1.map((s) => (s as unknown[])[0])).toEqual(['INSERT', 'MODIFY']);
    expect(typeof event.Records[0]!.dynamodb!.ApproximateCreationDateTime).toBe('number');
  });

  it('reports the real sequence number of the failure and converges on redelivery', async () => {
    // arrange
    const sink = new VersionedMemorySink();
    const once = new VersionedMemorySink();
    let failing = true;
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      retry: { maxAttempts: 1 },
      keyBatchHandler: async (records) => {
        if (failing && records[0]!.keys?.UserID === 'u2') throw permanentError();
        await sink.write(records);
      },
    });
    await createDynamoDBHandler({ logger: silentLogger, sink: once })(event);
    // act
    const first = await handler(event, fakeContext(10_000));
    failing = false;
    const from = event.Records.findIndex(
      (r) => r.dynamodb!.SequenceNumber === first.batchItemFailures[0]?.itemIdentifier,
    );
    const second = await handler({ Records: event.Records.slice(from) }, fakeContext(10_000));
    // assert
    expect(event.Records[from]!.dynamodb!.Keys!.UserID!.S).toBe('u2');
    expect(second.batchItemFailures).toEqual([]);
    expect(sink.snapshot()).toEqual(once.snapshot());
  });
});
