import { S3Client } from '@aws-sdk/client-s3';
import {
  BatchProcessor,
  type ChangeRecord,
  decodeDynamoDBRecord,
  ShardlineError,
} from '@shardline/core';
import {
  makeDynamoDBRecord,
  type S3rverServer,
  startS3rver,
  streamArnFor,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3FailureDestination } from '../../src/index.js';

function vote(i: number, shardId = 'shardId-1'): ChangeRecord {
  return decodeDynamoDBRecord(
    makeDynamoDBRecord({
      keys: { voter: `v${i}` },
      newImage: { voter: `v${i}`, vote: 'A', weight: 7 },
      sequenceNumber: String(400_000_000_000_000_000_000n + BigInt(i)),
    }) as never,
    { streamId: streamArnFor(), shardId },
  );
}

describe('S3FailureDestination on s3rver', () => {
  let server: S3rverServer;
  let client: S3Client;

  beforeAll(async () => {
    server = await startS3rver({ buckets: ['dlq-one', 'dlq-two'] });
    client = new S3Client(server.clientConfig);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  it('parks records a handler fails permanently, reads them back whole, and deletes on acknowledge', async () => {
    // arrange
    const destination = new S3FailureDestination({ client, bucket: 'dlq-one' });
    const processor = new BatchProcessor({
      handler: (record) => {
        if (record.newImage?.voter !== 'v2')
          throw new ShardlineError('rejected by the handler', { retriable: false });
      },
      failureDestination: destination,
    });
    const records = [vote(1), vote(2), vote(3)];
    // act
    const result = await processor.process(records);
    const received = await destination.receive();
    // assert
    expect(result.parked).toBe(2);
    expect(received.map((r) => r.failed.sequenceNumber)).toEqual([
      records[0]!.sequenceNumber,
      records[2]!.sequenceNumber,
    ]);
    const replayed = decodeDynamoDBRecord(received[0]!.failed.record as never, {
      streamId: received[0]!.failed.streamId,
      shardId: received[0]!.failed.shardId,
    });
    expect(replayed.newImage).toEqual({ voter: 'v1', vote: 'A', weight: 7 });
    expect(received[0]!.failed).toMatchObject({
      shardId: 'shardId-1',
      attempts: 1,
      error: { name: 'ShardlineError', message: 'rejected by the handler', retriable: false },
    });
    // act: acknowledge one
    await received[0]!.acknowledge();
    // assert
    expect((await destination.receive()).map((r) => r.failed.sequenceNumber)).toEqual([
      records[2]!.sequenceNumber,
    ]);
  });

  it('keeps one object per record when the same record is parked twice, and honours maxRecords', async () => {
    // arrange
    const destination = new S3FailureDestination({ client, bucket: 'dlq-two', prefix: 'failed/' });
    const processor = new BatchProcessor({
      handler: () => {
        throw new ShardlineError('always', { retriable: false });
      },
      failureDestination: destination,
      deduper: false,
    });
    const records = [vote(10), vote(11), vote(12)];
    // act
    await processor.process(records);
    await processor.process(records);
    const all = await destination.receive();
    const two = await destination.receive({ maxRecords: 2 });
    // assert
    expect(all).toHaveLength(3);
    expect(two.map((r) => r.failed.sequenceNumber)).toEqual(
      records.slice(0, 2).map((r) => r.sequenceNumber),
    );
  });
});
