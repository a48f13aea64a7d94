import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  BatchProcessor,
  ConfigurationError,
  type FailedRecord,
  InMemoryFailureDestination,
} from '@shardline/core';
import {
  localClientConfig,
  type S3rverServer,
  type SnsDouble,
  startS3rver,
  startSnsDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseClaimCheckPointer,
  S3ClaimCheck,
  SnsFailureDestination,
  SnsSink,
} from '../../src/index.js';
import { change } from '../helpers/records.js';

describe('SnsSink and SnsFailureDestination against the SNS double, through the real client', () => {
  let sns: SnsDouble;
  let s3server: S3rverServer;
  let client: SNSClient;
  let s3: S3Client;

  beforeAll(async () => {
    [sns, s3server] = await Promise.all([startSnsDouble(), startS3rver({ buckets: ['claims'] })]);
    client = new SNSClient(localClientConfig(sns.endpoint, { maxAttempts: 1 }));
    s3 = new S3Client(s3server.clientConfig);
  });
  afterAll(async () => {
    client.destroy();
    s3.destroy();
    await Promise.all([sns.stop(), s3server.stop()]);
  });

  async function topic(name: string): Promise<string> {
    const fifo = name.endsWith('.fifo');
    const created = await client.send(
      new CreateTopicCommand({
        Name: name,
        ...(fifo ? { Attributes: { FifoTopic: 'true' } } : {}),
      }),
    );
    return created.TopicArn!;
  }

  it('publishes changes in batches of 10 with filterable attributes', async () => {
    // arrange
    const topicArn = await topic('changes');
    const sink = new SnsSink({ client, topicArn });
    const before = sns.requests.publishBatch;
    const records = Array.from({ length: 25 }, (_, i) =>
      change({ keys: { pk: `p${i}`, sk: i }, newImage: { pk: `p${i}`, sk: i, total: 10 } }),
    );
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    const delivered = sns.messages(topicArn);
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(sns.requests.publishBatch - before).toBe(3);
    expect(delivered).toHaveLength(25);
    expect(delivered[3]?.attributes).toEqual({
      eventName: { DataType: 'String', StringValue: 'INSERT' },
      table: { DataType: 'String', StringValue: 'Orders' },
      'key.pk': { DataType: 'String', StringValue: 'p3' },
      'key.sk': { DataType: 'Number', StringValue: '3' },
    });
    expect(JSON.parse(delivered[3]!.message)).toMatchObject({
      eventName: 'INSERT',
      table: 'Orders',
      keys: { pk: 'p3', sk: 3 },
      newImage: { total: 10 },
      sequenceNumber: records[3]!.sequenceNumber,
    });
  });

  it('splits batches so no request exceeds 256 KB', async () => {
    // arrange
    const topicArn = await topic('big-ones');
    const sink = new SnsSink({
      client,
      topicArn,
      message: (r) => `${r.sequenceNumber}:${'x'.repeat(100_000)}`,
    });
    const before = sns.requests.publishBatch;
    const records = Array.from({ length: 5 }, (_, i) =>
      change({ keys: { id: `b${i}` }, newImage: { id: `b${i}` } }),
    );
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(sns.requests.publishBatch - before).toBe(3);
    expect(sns.messages(topicArn)).toHaveLength(5);
  });

  it('on a FIFO topic, groups by item, keeps item order, and lets SNS drop a redelivery', async () => {
    // arrange
    const topicArn = await topic('orders.fifo');
    const sink = new SnsSink({ client, topicArn });
    const records = [
      change({ keys: { id: 'a' }, newImage: { id: 'a', v: 1 } }),
      change({ keys: { id: 'a' }, oldImage: { id: 'a', v: 1 }, newImage: { id: 'a', v: 2 } }),
      change({ keys: { id: 'b' }, newImage: { id: 'b', v: 1 } }),
      change({ keys: { id: 'a' }, oldImage: { id: 'a', v: 2 } }),
    ];
    // act
    await sink.write(records, { attempt: 1 });
    const replay = await sink.write(records, { attempt: 1 });
    // assert
    const delivered = sns.messages(topicArn);
    expect(replay.every((r) => r.status === 'ok')).toBe(true);
    expect(delivered).toHaveLength(4);
    expect(
      delivered
        .filter((m) => m.messageGroupId === 'id=S:a')
        .map((m) => JSON.parse(m.message).eventName),
    ).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    // DynamoDB changes are deduplicated by eventID: Lambda's records carry no shard id.
    expect(delivered[0]?.messageDeduplicationId).toBe(`ddb:${records[0]!.eventId}`);
  });

  it('stores an oversize payload in S3 and publishes a pointer (claim check)', async () => {
    // arrange
    const topicArn = await topic('claims');
    const sink = new SnsSink({
      client,
      topicArn,
      claimCheck: new S3ClaimCheck({ s3, bucket: 'claims' }),
    });
    const record = change({
      keys: { id: 'huge' },
      newImage: { id: 'huge', blob: 'y'.repeat(300_000) },
    });
    // act
    const results = await sink.write([record], { attempt: 1 });
    // assert
    const [message] = sns.messages(topicArn);
    const pointer = parseClaimCheckPointer(message!.message)!;
    const object = await s3.send(
      new GetObjectCommand({ Bucket: pointer.s3BucketName, Key: pointer.s3Key }),
    );
    const stored = JSON.parse(await object.Body!.transformToString());
    expect(results[0]?.status).toBe('ok');
    expect(Number(message?.attributes.ExtendedPayloadSize?.StringValue)).toBeGreaterThan(300_000);
    expect(message?.attributes.eventName?.StringValue).toBe('INSERT');
    expect(stored.newImage.blob).toHaveLength(300_000);
  });

  it("parks an oversize record with oversize: 'fail'", async () => {
    // arrange
    const topicArn = await topic('no-claims');
    const failures = new InMemoryFailureDestination();
    const processor = new BatchProcessor({
      sink: new SnsSink({ client, topicArn }),
      failureDestination: failures,
    });
    const records = [
      change({ keys: { id: 'small' }, newImage: { id: 'small' } }),
      change({ keys: { id: 'huge' }, newImage: { id: 'huge', blob: 'y'.repeat(300_000) } }),
    ];
    // act
    const result = await processor.process(records);
    // assert
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'parked']);
    expect(failures.records[0]?.error).toMatchObject({
      name: 'PayloadTooLargeError',
      retriable: false,
    });
    expect(sns.messages(topicArn)).toHaveLength(1);
  });

  it('maps per-entry failures to records and holds back later changes of a failed item', async () => {
    // arrange
    const topicArn = await topic('flaky.fifo');
    const sink = new SnsSink({ client, topicArn });
    const records = [
      change({ keys: { id: 'k' }, newImage: { id: 'k', v: 1 } }),
      change({ keys: { id: 'm' }, newImage: { id: 'm', v: 1 } }),
      change({ keys: { id: 'k' }, oldImage: { id: 'k', v: 1 }, newImage: { id: 'k', v: 2 } }),
    ];
    sns.injectFailures({ failEntries: 1, code: 'InternalError' });
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results[0]).toMatchObject({
      status: 'failed',
      retriable: true,
      error: { name: 'SnsPublishError' },
    });
    expect(results[1]).toEqual({ status: 'ok' });
    expect(results[2]).toMatchObject({
      status: 'failed',
      retriable: true,
      error: { name: 'BlockedByEarlierFailureError' },
    });
    expect(sns.messages(topicArn).map((m) => JSON.parse(m.message).keys.id)).toEqual(['m']);
  });

  it('delivers every change in item order after retries through the BatchProcessor', async () => {
    // arrange
    const topicArn = await topic('retried.fifo');
    const processor = new BatchProcessor({
      sink: new SnsSink({ client, topicArn }),
      retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const records = Array.from({ length: 12 }, (_, i) =>
      change({ keys: { id: `k${i % 3}` }, newImage: { id: `k${i % 3}`, v: i } }),
    );
    sns.injectFailures({ failEntries: 3, code: 'Throttled' });
    // act
    const result = await processor.process(records);
    // assert
    const delivered = sns.messages(topicArn).map((m) => JSON.parse(m.message).newImage);
    expect(result.succeeded).toBe(12);
    for (const id of ['k0', 'k1', 'k2']) {
      const versions = delivered.filter((d) => d.id === id).map((d) => d.v);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(versions).toHaveLength(4);
    }
  });

  it('parks whole failed records on a topic, through a claim check when oversize', async () => {
    // arrange
    const topicArn = await topic('dlq');
    const destination = new SnsFailureDestination({
      client,
      topicArn,
      claimCheck: new S3ClaimCheck({ s3, bucket: 'claims', prefix: 'dlq/' }),
    });
    const bare = new SnsFailureDestination({ client, topicArn });
    const failed: FailedRecord = {
      record: { dynamodb: { Keys: { id: { S: 'x' } } } },
      source: 'dynamodb-streams',
      streamId: 'arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/x',
      shardId: 'shardId-1',
      sequenceNumber: '100',
      subSequenceNumber: undefined,
      orderingKey: 'id=S:x',
      error: { name: 'OpenSearchItemError', message: 'mapper_parsing_exception', retriable: false },
      attempts: 1,
      failedAt: '2026-11-23T00:00:00.000Z',
    };
    const huge: FailedRecord = {
      ...failed,
      sequenceNumber: '101',
      record: { blob: 'z'.repeat(300_000) },
    };
    // act
    await destination.send([failed, huge]);
    const loud = await bare.send([huge]).catch((e: Error) => e);
    // assert
    const [first, second] = sns.messages(topicArn);
    expect(JSON.parse(first!.message)).toEqual({
      type: 'shardline.failed-record',
      ...failed,
      subSequenceNumber: undefined,
    });
    expect(first?.attributes.errorName?.StringValue).toBe('OpenSearchItemError');
    expect(parseClaimCheckPointer(second!.message)?.s3Key).toBe('dlq/failed/shardId-1/101.json');
    expect(loud).toMatchObject({ name: 'PayloadTooLargeError' });
    expect(sns.messages(topicArn)).toHaveLength(2);
  });

  it('fails fast on bad options, naming the fix', () => {
    expect(() => new SnsSink({ client, topicArn: 'orders' })).toThrow(ConfigurationError);
    expect(
      () => new SnsSink({ client, topicArn: 'arn:aws:sns:us-east-1:1:t', oversize: 'claim-check' }),
    ).toThrow(/claimCheck/);
  });
});
