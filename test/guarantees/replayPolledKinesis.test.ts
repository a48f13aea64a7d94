/**
 * Guarantee: a plain Kinesis record the worker read with GetRecords (its `raw` a lazy view of
 * the SDK record: `Data` in base64 and the ISO arrival time computed on read or in `toJSON`),
 * parked in any failure destination, replays as the same record: sequence number, sub-sequence
 * number of a KPL user record, payload bytes, partition key, event id and arrival time. A copy
 * that skipped the view's getters (a spread, a structured clone) would park no `Data`, and the
 * replay would decode an empty payload.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchProcessor,
  type ChangeRecord,
  InMemoryFailureDestination,
  type ReplayableFailureDestination,
  ShardlineError,
  silentLogger,
} from '@shardline/core';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { decodeKinesisSdkRecord } from '@shardline/kinesis';
import { replayFailures } from '@shardline/lambda';
import { S3FailureDestination } from '@shardline/sink-s3';
import {
  type KinesaliteServer,
  localClientConfig,
  type S3rverServer,
  type SqsDouble,
  startKinesalite,
  startS3rver,
  startSqsDouble,
} from '@shardline/testing';
import { aggregate } from 'aws-kinesis-agg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStream } from '../../packages/kinesis/tests/helpers/kinesis.js';

let kinesalite: KinesaliteServer;
let sqs: SqsDouble;
let s3server: S3rverServer;
let kinesis: KinesisClient;
let sqsClient: SQSClient;
let s3: S3Client;
/** The records as the Kinesis source decodes a GetRecords page of the stream. */
let delivered: ChangeRecord[];

const STREAM = 'replay-polled';
const SHARD = 'shardId-000000000000';
const BINARY = Buffer.from([0, 159, 146, 150, 255, 10, 43, 47]);

function kplAggregate(users: { partitionKey: string; data: Buffer }[]) {
  return new Promise<{ partitionKey: string; data: Buffer }>((resolve, reject) => {
    const out: { partitionKey: string; data: Buffer }[] = [];
    aggregate(
      users,
      (encoded, callback) => {
        out.push(encoded);
        callback();
      },
      () => (out.length === 1 ? resolve(out[0]!) : reject(new Error(`${out.length} aggregates`))),
      reject,
    );
  });
}

beforeAll(async () => {
  [kinesalite, sqs, s3server] = await Promise.all([
    startKinesalite(),
    startSqsDouble(),
    startS3rver({ buckets: ['parked'] }),
  ]);
  kinesis = new KinesisClient(kinesalite.clientConfig);
  sqsClient = new SQSClient(localClientConfig(sqs.endpoint, { maxAttempts: 1 }));
  s3 = new S3Client(s3server.clientConfig);
  await createStream(kinesis, STREAM, 1);
  const agg = await kplAggregate([
    { partitionKey: 'agg-a', data: Buffer.from('first') },
    { partitionKey: 'agg-b', data: BINARY },
    { partitionKey: 'agg-a', data: Buffer.from('third') },
  ]);
  for (const [partitionKey, data] of [
    ['text-key', Buffer.from('plain text')],
    ['binary-key', BINARY],
    [agg.partitionKey, agg.data],
  ] as const) {
    await kinesis.send(
      new PutRecordCommand({ StreamName: STREAM, PartitionKey: partitionKey, Data: data }),
    );
  }
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: STREAM,
      ShardId: SHARD,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const page = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
  delivered = page.Records!.flatMap((r) =>
    decodeKinesisSdkRecord(r, {
      streamId: `arn:aws:kinesis:us-east-1:000000000000:stream/${STREAM}`,
      shardId: SHARD,
    }),
  );
});

afterAll(async () => {
  kinesis?.destroy();
  sqsClient?.destroy();
  s3?.destroy();
  await Promise.all([kinesalite?.stop(), sqs?.stop(), s3server?.stop()]);
});

/** What a record is, for comparing the replayed one with the one first delivered. */
const view = (r: ChangeRecord) => ({
  sequenceNumber: r.sequenceNumber,
  subSequenceNumber: r.subSequenceNumber,
  eventId: r.eventId,
  partitionKey: r.partitionKey,
  orderingKey: r.orderingKey,
  data: Buffer.from(r.data ?? []).toString('hex'),
  approximateCreationTimeMs: r.approximateCreationTimeMs,
  decodeError: r.decodeError?.message,
});

const byPosition = (a: ChangeRecord, b: ChangeRecord) =>
  a.sequenceNumber === b.sequenceNumber
    ? (a.subSequenceNumber ?? -1) - (b.subSequenceNumber ?? -1)
    : a.sequenceNumber < b.sequenceNumber
      ? -1
      : 1;

const destinations: [string, () => Promise<ReplayableFailureDestination>][] = [
  ['in memory', async () => new InMemoryFailureDestination()],
  [
    'through the SQS double',
    async () => {
      const { QueueUrl } = await sqsClient.send(
        new CreateQueueCommand({ QueueName: `polled-${Math.random().toString(36).slice(2)}` }),
      );
      return new SqsFailureDestination({ client: sqsClient, queueUrl: QueueUrl! });
    },
  ],
  [
    'through S3 (s3rver)',
    async () =>
      new S3FailureDestination({
        client: s3,
        bucket: 'parked',
        prefix: `${Math.random().toString(36).slice(2)}/`,
      }),
  ],
];

/** Replays everything `destination` holds, keeping the records in the order they ran. */
async function replayAll(destination: ReplayableFailureDestination) {
  const replayed: ChangeRecord[] = [];
  const result = await replayFailures({
    destination,
    logger: silentLogger,
    handler: (r: ChangeRecord) => {
      replayed.push(r);
    },
  });
  return { result, replayed };
}

describe('a polled Kinesis record parked and replayed', () => {
  it.each(destinations)(
    '%s: parked newest first, replays each key in position order',
    async (_, destinationOf) => {
      // arrange: park the five records one at a time, newest first (a destination that returns
      // messages in any order, as SQS standard does, may give them back so)
      const destination = await destinationOf();
      const parker = new BatchProcessor({
        failureDestination: destination,
        retry: { maxAttempts: 1 },
        logger: silentLogger,
        handler: () => {
          throw new ShardlineError('downstream rejected it', { retriable: false });
        },
      });
      for (const record of [...delivered].reverse()) {
        expect((await parker.process([record])).parked).toBe(1);
      }
      // act
      const { result, replayed } = await replayAll(destination);
      // assert: every record once, and each key's records in position order, not in the order
      // they were parked or given back (keys run concurrently, so only per-key order holds)
      expect(result).toEqual({ received: 5, acknowledged: 5, failed: 0 });
      expect([...replayed].sort(byPosition).map(view)).toEqual(delivered.map(view));
      const perKey = (records: ChangeRecord[]) => {
        const keys = new Map<string, string[]>();
        for (const r of records) {
          const list = keys.get(r.orderingKey) ?? [];
          list.push(`${r.sequenceNumber}:${r.subSequenceNumber ?? '-'}`);
          keys.set(r.orderingKey, list);
        }
        return Object.fromEntries(keys);
      };
      expect(perKey(replayed)).toEqual(perKey(delivered));
    },
  );

  it.each(destinations)(
    '%s: decodes to the same records, KPL user records included',
    async (_, destinationOf) => {
      // arrange: two plain records and three user records of one aggregate, all parked
      expect(delivered.map((r) => r.subSequenceNumber)).toEqual([undefined, undefined, 0, 1, 2]);
      const destination = await destinationOf();
      const parking = await new BatchProcessor({
        failureDestination: destination,
        retry: { maxAttempts: 1 },
        logger: silentLogger,
        handler: () => {
          throw new ShardlineError('downstream rejected it', { retriable: false });
        },
      }).process(delivered);
      expect(parking.outcomes.map((o) => o.status)).toEqual(Array(5).fill('parked'));
      // act
      const { result, replayed } = await replayAll(destination);
      // assert
      expect(result).toEqual({ received: 5, acknowledged: 5, failed: 0 });
      expect(replayed.sort(byPosition).map(view)).toEqual(delivered.map(view));
      expect(Buffer.from(replayed[1]!.data!).equals(BINARY)).toBe(true);
      expect(Buffer.from(replayed[3]!.data!).equals(BINARY)).toBe(true);
    },
  );
});
