import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchProcessor,
  type ChangeRecord,
  ConfigurationError,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
  type FailedRecord,
  type Logger,
  type Sink,
  silentLogger,
} from '@shardline/core';
import {
  localClientConfig,
  makeDynamoDBRecord,
  type S3rverServer,
  type SqsDouble,
  startS3rver,
  startSqsDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeFailedRecord,
  OversizeFailedRecordError,
  S3ClaimCheck,
  SqsFailureDestination,
} from '../../src/index.js';

function failedRecord(sequenceNumber: string, extra: Partial<FailedRecord> = {}): FailedRecord {
  return {
    record: makeDynamoDBRecord({
      keys: { id: `k${sequenceNumber}` },
      newImage: { id: `k${sequenceNumber}` },
      sequenceNumber,
    }),
    source: 'dynamodb-streams',
    streamId: 'arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/x',
    shardId: 'shardId-00000001',
    sequenceNumber,
    subSequenceNumber: undefined,
    orderingKey: `[["id","S","k${sequenceNumber}"]]`,
    error: { name: 'OpenSearchItemError', message: 'mapper_parsing_exception', retriable: false },
    attempts: 3,
    failedAt: '2026-11-23T00:00:00.000Z',
    ...extra,
  };
}

describe('SqsFailureDestination against the SQS double, through the real client', () => {
  let sqs: SqsDouble;
  let s3server: S3rverServer;
  let client: SQSClient;
  let s3: S3Client;

  beforeAll(async () => {
    [sqs, s3server] = await Promise.all([startSqsDouble(), startS3rver({ buckets: ['parked'] })]);
    client = new SQSClient(localClientConfig(sqs.endpoint, { maxAttempts: 1 }));
    s3 = new S3Client(s3server.clientConfig);
  });
  afterAll(async () => {
    client.destroy();
    s3.destroy();
    await Promise.all([sqs.stop(), s3server.stop()]);
  });

  async function queue(name: string, attributes: Record<string, string> = {}): Promise<string> {
    return (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })))
      .QueueUrl!;
  }

  it('keeps whole failed records and gives them back until acknowledged', async () => {
    // arrange
    const queueUrl = await queue('parked');
    const destination = new SqsFailureDestination({ client, queueUrl });
    const records = Array.from({ length: 15 }, (_, i) => failedRecord(String(1000 + i)));
    // act
    await destination.send(records);
    const received = await destination.receive({ maxRecords: 20 });
    await Promise.all(received.slice(0, 10).map((r) => r.acknowledge()));
    // assert
    expect(received.map((r) => r.failed)).toEqual(records);
    expect(sqs.messages(queueUrl)).toHaveLength(5);
  });

  it('returns unacknowledged records again after the visibility timeout', async () => {
    // arrange
    const queueUrl = await queue('visible', { VisibilityTimeout: '0' });
    const destination = new SqsFailureDestination({ client, queueUrl });
    await destination.send([failedRecord('1'), failedRecord('2')]);
    // act
    const first = await destination.receive({ maxRecords: 10 });
    const second = await destination.receive({ maxRecords: 10 });
    // assert
    expect(first).toHaveLength(2);
    expect(second.map((r) => r.failed.sequenceNumber)).toEqual(['1', '2']);
  });

  it('stores an oversize record in S3 and reads it back; fails loudly without a store', async () => {
    // arrange
    const queueUrl = await queue('oversize');
    const store = new S3ClaimCheck({ s3, bucket: 'parked' });
    const withStore = new SqsFailureDestination({ client, queueUrl, payloadStore: store });
    const without = new SqsFailureDestination({ client, queueUrl });
    const huge = failedRecord('77', { record: { blob: 'q'.repeat(300_000) } });
    // act
    const thrown = await without.send([huge]).catch((e: unknown) => e);
    await withStore.send([huge]);
    const [received] = await withStore.receive();
    // assert
    expect(thrown).toBeInstanceOf(OversizeFailedRecordError);
    expect(sqs.messages(queueUrl)[0]?.body.length).toBeLessThan(1000);
    expect(received?.failed).toEqual(huge);
  });

  it('reads records that an SNS topic delivered to the queue', async () => {
    // arrange
    const queueUrl = await queue('from-sns');
    const record = failedRecord('5');
    const notification = {
      Type: 'Notification',
      MessageId: '6c2c7a4e-0000-4000-8000-000000000000',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:orders-failed',
      Message: encodeFailedRecord(record),
      Timestamp: '2026-11-23T00:00:00.000Z',
    };
    await client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(notification) }),
    );
    await client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not a failed record' }),
    );
    const warnings: object[] = [];
    const logger: Logger = { ...silentLogger, warn: (obj) => warnings.push(obj) };
    const destination = new SqsFailureDestination({ client, queueUrl, logger });
    // act
    const received = await destination.receive();
    // assert
    expect(received.map((r) => r.failed)).toEqual([record]);
    expect(warnings).toHaveLength(1);
  });

  it('sets group and deduplication ids on a FIFO queue', async () => {
    // arrange
    const queueUrl = await queue('parked.fifo', { FifoQueue: 'true' });
    const destination = new SqsFailureDestination({ client, queueUrl });
    // act
    await destination.send([failedRecord('9')]);
    // assert
    expect(sqs.messages(queueUrl)[0]?.messageGroupId).toBe('[["id","S","k9"]]');
  });

  it('parks what a sink gives up on, and replays it', async () => {
    // arrange
    const queueUrl = await queue('pipeline');
    const destination = new SqsFailureDestination({ client, queueUrl });
    const poison: Sink = {
      name: 'poison',
      write: async (records) =>
        records.map((r) =>
          r.newImage?.poison
            ? { status: 'failed' as const, error: new Error('refused'), retriable: false }
            : { status: 'ok' as const },
        ),
    };
    const decode = (raw: unknown): ChangeRecord =>
      decodeDynamoDBRecord(raw as DynamoDBStreamRecordLike, {
        streamId: 's',
        shardId: 'shardId-1',
      });
    const records = [
      decode(makeDynamoDBRecord({ keys: { id: 'a' }, newImage: { id: 'a' } })),
      decode(makeDynamoDBRecord({ keys: { id: 'b' }, newImage: { id: 'b', poison: true } })),
    ];
    // act
    const result = await new BatchProcessor({
      sink: poison,
      failureDestination: destination,
    }).process(records);
    const [parked] = await destination.receive();
    const replayed = decode(parked!.failed.record);
    // assert
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'parked']);
    expect(parked?.failed).toMatchObject({
      sequenceNumber: records[1]!.sequenceNumber,
      shardId: 'shardId-1',
      error: { message: 'refused' },
    });
    expect(replayed.newImage).toEqual({ id: 'b', poison: true });
  });

  it('fails fast on bad options, naming the fix', () => {
    expect(() => new SqsFailureDestination({ client, queueUrl: 'parked' })).toThrow(
      ConfigurationError,
    );
    expect(
      () =>
        new SqsFailureDestination({ client, queueUrl: 'http://q/1/x', maxMessageBytes: 5_000_000 }),
    ).toThrow(/maxMessageBytes/);
  });
});
