import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BatchProcessor, type ChangeRecord, decodeDynamoDBRecord } from '@shardline/core';
import {
  makeDynamoDBRecord,
  type S3rverServer,
  startS3rver,
  streamArnFor,
} from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArchiveSink } from '../../src/index.js';

const HOUR_14 = Date.parse('2026-11-23T14:10:00Z') / 1000;
const HOUR_15 = Date.parse('2026-11-23T15:05:00Z') / 1000;

/** `count` changes of shard `shardId`, the first half in hour 14, the rest in hour 15. */
function changes(count: number, shardId = 'shardId-1', table = 'Votes'): ChangeRecord[] {
  return Array.from({ length: count }, (_, i) =>
    decodeDynamoDBRecord(
      makeDynamoDBRecord({
        keys: { voter: `v${i}` },
        newImage: { voter: `v${i}`, vote: i % 2 ? 'A' : 'B' },
        sequenceNumber: String(300_000_000_000_000_000_000n + BigInt(i) * 100n),
        approximateCreationDateTime: i < count / 2 ? HOUR_14 : HOUR_15,
        streamArn: streamArnFor(table),
      }) as never,
      { streamId: streamArnFor(table), shardId },
    ),
  );
}

describe('S3ArchiveSink on s3rver', () => {
  let server: S3rverServer;
  let client: S3Client;
  let buckets = 0;

  beforeAll(async () => {
    server = await startS3rver({
      buckets: Array.from({ length: 20 }, (_, i) => `archive-${i + 1}`),
    });
    client = new S3Client(server.clientConfig);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  const nextBucket = () => `archive-${++buckets}`;

  async function listKeys(bucket: string): Promise<string[]> {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (page.Contents ?? []).map((o) => o.Key!).sort();
  }

  async function readLines(bucket: string): Promise<Record<string, unknown>[]> {
    const lines: Record<string, unknown>[] = [];
    for (const key of await listKeys(bucket)) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const text = gunzipSync(await object.Body!.transformToByteArray()).toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    }
    return lines;
  }

  it('writes gzip JSON Lines under table/date/hour partitions with range keys', async () => {
    // arrange
    const bucket = nextBucket();
    const sink = new S3ArchiveSink({ client, bucket, prefix: 'cdc/' });
    const records = changes(6);
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    const seq = (i: number) =>
      String(300_000_000_000_000_000_000n + BigInt(i) * 100n).padStart(64, '0');
    // m<minute>-<first>-<last>-<digest of the object’s positions>.jsonl.gz
    const keys = await listKeys(bucket);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(
      new RegExp(
        `^cdc/table=Votes/dt=2026-11-23/hour=14/shardId-1/m10-${seq(0)}-${seq(2)}-[0-9a-f]{12}\\.jsonl\\.gz$`,
      ),
    );
    expect(keys[1]).toMatch(
      new RegExp(
        `^cdc/table=Votes/dt=2026-11-23/hour=15/shardId-1/m05-${seq(3)}-${seq(5)}-[0-9a-f]{12}\\.jsonl\\.gz$`,
      ),
    );
    const lines = await readLines(bucket);
    expect(lines.map((l) => l.sequenceNumber)).toEqual(records.map((r) => r.sequenceNumber));
    expect(lines[0]).toMatchObject({
      eventName: 'INSERT',
      table: 'Votes',
      newImage: { voter: 'v0', vote: 'B' },
    });
  });

  it('splits by maxRecordsPerObject and by maxObjectBytes', async () => {
    // arrange
    const byCount = nextBucket();
    const bySize = nextBucket();
    const records = changes(10).slice(0, 5); // all in hour 14
    // act
    await new S3ArchiveSink({ client, bucket: byCount, maxRecordsPerObject: 2 }).write(records, {
      attempt: 1,
    });
    await new S3ArchiveSink({ client, bucket: bySize, maxObjectBytes: 1 }).write(records, {
      attempt: 1,
    });
    // assert
    expect(await listKeys(byCount)).toHaveLength(3);
    expect(await listKeys(bySize)).toHaveLength(5);
  });

  it('archives every change exactly once under replays at any boundary and any split', async () => {
    const records = changes(40);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ start: fc.nat(39), size: fc.integer({ min: 1, max: 20 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 1, max: 7 }),
        async (replays, maxRecordsPerObject) => {
          // arrange
          const bucket = nextBucket();
          const sink = new S3ArchiveSink({ client, bucket, maxRecordsPerObject });
          const processor = new BatchProcessor({ sink, deduper: false });
          // act: arbitrary (re)deliveries, then the whole stream in batches of 9
          for (const { start, size } of replays)
            await processor.process(records.slice(start, start + size));
          for (let i = 0; i < records.length; i += 9)
            await processor.process(records.slice(i, i + 9));
          // assert
          const archived = (await readLines(bucket)).map((l) => l.sequenceNumber);
          expect(archived.sort()).toEqual(records.map((r) => r.sequenceNumber).sort());
        },
      ),
      { numRuns: 8, seed: 11 },
    );
  });

  it('writes nothing new when the same batch is written again', async () => {
    // arrange
    const bucket = nextBucket();
    const sink = new S3ArchiveSink({ client, bucket });
    const records = changes(8);
    await sink.write(records, { attempt: 1 });
    const before = await listKeys(bucket);
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(await listKeys(bucket)).toEqual(before);
  });

  it('stores a large object with a multipart upload', async () => {
    // arrange
    const bucket = nextBucket();
    const sink = new S3ArchiveSink({ client, bucket, partSize: 5 * 1024 * 1024 });
    // Random text does not compress: 6 MiB of it makes a two-part upload.
    const noise = Buffer.from(
      Array.from({ length: 6 * 1024 * 1024 }, () => Math.floor(Math.random() * 256)),
    ).toString('base64');
    const record = decodeDynamoDBRecord(
      makeDynamoDBRecord({
        keys: { voter: 'big' },
        newImage: { voter: 'big', noise },
        approximateCreationDateTime: HOUR_14,
      }) as never,
      { streamId: streamArnFor(), shardId: 'shardId-1' },
    );
    // act
    const [result] = await sink.write([record], { attempt: 1 });
    // assert
    expect(result).toEqual({ status: 'ok' });
    const [line] = await readLines(bucket);
    expect((line!.newImage as { noise: string }).noise).toBe(noise);
  });
});
