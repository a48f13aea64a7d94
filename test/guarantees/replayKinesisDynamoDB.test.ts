/**
 * Guarantee: a "Kinesis Data Streams for DynamoDB" change parked in a failure destination can be
 * replayed. The parked record must be the whole source record (the Lambda Kinesis record with its
 * base64 data, or the GetRecords record the worker read), so that `replayFailures` decodes it back
 * into the same change; the inner DynamoDB JSON alone is not a Kinesis record.
 */
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchProcessor,
  type ChangeRecord,
  InMemoryFailureDestination,
  ShardlineError,
  silentLogger,
} from '@shardline/core';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { decodeKinesisSdkRecord } from '@shardline/kinesis';
import { createKinesisHandler, replayFailures } from '@shardline/lambda';
import {
  localClientConfig,
  makeKinesisDynamoDBRecord,
  makeKinesisEvent,
  type SqsDouble,
  startSqsDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let sqs: SqsDouble;
let client: SQSClient;
let queues = 0;

beforeAll(async () => {
  sqs = await startSqsDouble();
  client = new SQSClient(localClientConfig(sqs.endpoint, { maxAttempts: 1 }));
});

afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

async function queue(): Promise<SqsFailureDestination> {
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: `replay-kds-${++queues}` }),
  );
  return new SqsFailureDestination({ client, queueUrl: QueueUrl! });
}

const rejectAll = () => {
  throw new ShardlineError('downstream rejected it', { retriable: false });
};

/** What a change is, for comparing the replayed one with the one first delivered. */
const view = (r: ChangeRecord) => ({
  source: r.source,
  eventName: r.eventName,
  tableName: r.tableName,
  keys: r.keys,
  newImage: r.newImage,
  oldImage: r.oldImage,
  sequenceNumber: r.sequenceNumber,
  shardId: r.shardId,
  version: r.version,
});

describe('replaying a parked "Kinesis Data Streams for DynamoDB" change', () => {
  it('from a Lambda handler, through SQS: the replay applies the same change', async () => {
    // arrange: the handler rejects the change, so it is parked in the queue
    const lambdaRecord = makeKinesisDynamoDBRecord({
      keys: { id: 'v1' },
      oldImage: { id: 'v1', n: 1 },
      newImage: { id: 'v1', n: 2 },
      approximateCreationDateTime: 1_764_000_000_123,
    });
    const destination = await queue();
    const delivered: ChangeRecord[] = [];
    const park = createKinesisHandler({
      logger: silentLogger,
      payload: 'dynamodb',
      failureDestination: destination,
      retry: { maxAttempts: 1 },
      handler: (r) => {
        delivered.push(r);
        rejectAll();
      },
    });
    expect(await park(makeKinesisEvent([lambdaRecord]))).toEqual({ batchItemFailures: [] });
    const replayed: ChangeRecord[] = [];
    // act
    const result = await replayFailures({
      destination,
      logger: silentLogger,
      handler: (r) => void replayed.push(r),
    });
    // assert
    expect(result).toEqual({ received: 1, acknowledged: 1, failed: 0 });
    expect(replayed.map(view)).toEqual(delivered.map(view));
    expect(replayed[0]!.newImage).toEqual({ id: 'v1', n: 2 });
    expect(await destination.receive({ maxRecords: 10 })).toHaveLength(0);
  });

  it('from the worker (a GetRecords record), through SQS: the replay applies the same change', async () => {
    // arrange: a record as the Kinesis source decodes it, parked by the pipeline
    const lambdaRecord = makeKinesisDynamoDBRecord({
      keys: { id: 'v2' },
      newImage: { id: 'v2', n: 1 },
      approximateCreationDateTime: 1_764_000_000_456,
    });
    const [change] = decodeKinesisSdkRecord(
      {
        SequenceNumber: lambdaRecord.kinesis.sequenceNumber,
        PartitionKey: lambdaRecord.kinesis.partitionKey,
        Data: Buffer.from(lambdaRecord.kinesis.data, 'base64'),
        ApproximateArrivalTimestamp: new Date(1_764_000_000_500),
      },
      {
        streamId: 'arn:aws:kinesis:us-east-1:123456789012:stream/votes',
        shardId: 'shardId-000000000003',
        payload: 'dynamodb',
      },
    );
    const destination = await queue();
    await new BatchProcessor({
      failureDestination: destination,
      retry: { maxAttempts: 1 },
      handler: rejectAll,
    }).process([change!]);
    const replayed: ChangeRecord[] = [];
    // act
    const result = await replayFailures({
      destination,
      logger: silentLogger,
      handler: (r) => void replayed.push(r),
    });
    // assert
    expect(result).toEqual({ received: 1, acknowledged: 1, failed: 0 });
    expect(replayed.map(view)).toEqual([view(change!)]);
  });

  it('keeps the whole Lambda Kinesis record as the parked record', async () => {
    // arrange
    const lambdaRecord = makeKinesisDynamoDBRecord({
      keys: { id: 'v3' },
      newImage: { id: 'v3', n: 1 },
      approximateCreationDateTime: 1_764_000_000_789,
    });
    const destination = new InMemoryFailureDestination();
    // act
    await createKinesisHandler({
      logger: silentLogger,
      payload: 'dynamodb',
      failureDestination: destination,
      retry: { maxAttempts: 1 },
      handler: rejectAll,
    })(makeKinesisEvent([lambdaRecord]));
    // assert
    expect(destination.records).toHaveLength(1);
    expect(destination.records[0]).toMatchObject({
      record: lambdaRecord,
      source: 'kinesis-dynamodb',
      sequenceNumber: lambdaRecord.kinesis.sequenceNumber,
    });
  });
});
