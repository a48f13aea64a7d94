import { gunzipSync } from 'node:zlib';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  BatchProcessor,
  type ChangeRecord,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
} from '@shardline/core';
import {
  type DynamoDBLocalServer,
  deliverLikeLambda,
  type FaultProxy,
  makeDynamoDBRecord,
  recordTableHistory,
  type S3rverServer,
  startDynamoDBLocal,
  startFaultProxy,
  startS3rver,
  streamArnFor,
  type TableHistory,
} from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPosition, S3ArchiveSink } from '../../src/index.js';

// Production conditions of a Lambda DynamoDB Streams consumer:
// - records carry no shard id, so the Lambda decoder sets shardId 'unknown' (UNKNOWN_SHARD_ID of
//   @shardline/lambda) for every shard of the table: all shards share one archive folder;
// - one invocation per shard at a time, or up to 10 with ParallelizationFactor, each batch made
//   of the records of one "lane" (Lambda splits a shard by partition-key hash), each invocation
//   in its own process (here: its own sink, nothing cached in between);
// - a failed invocation is redelivered from the checkpoint it reported.

const BUCKET = 'lambda-archive';
const STREAM = streamArnFor('Votes');
const HOUR_14 = Date.parse('2026-11-23T14:10:00Z') / 1000;
/** Lambda's shard id for DynamoDB records (they name none). */
const UNKNOWN_SHARD = 'unknown';

function change(sequence: bigint, key: string, shardId = UNKNOWN_SHARD): ChangeRecord {
  return decodeDynamoDBRecord(
    makeDynamoDBRecord({
      keys: { voter: key },
      newImage: { voter: key, vote: String(sequence) },
      sequenceNumber: String(sequence),
      approximateCreationDateTime: HOUR_14,
      streamArn: STREAM,
    }) as never,
    { streamId: STREAM, shardId },
  );
}

const seq = (n: number) => 300_000_000_000_000_000_000n + BigInt(n) * 100n;

describe('S3ArchiveSink under Lambda conditions (unknown shard id, ParallelizationFactor, redeliveries)', () => {
  let server: S3rverServer;
  let client: S3Client;
  let ddb: DynamoDBLocalServer;
  let proxy: FaultProxy;
  let history: TableHistory;
  let runs = 0;

  beforeAll(async () => {
    [server, ddb] = await Promise.all([startS3rver({ buckets: [BUCKET] }), startDynamoDBLocal()]);
    client = new S3Client(server.clientConfig);
    proxy = await startFaultProxy({ target: server.endpoint, service: 's3' });
    history = await recordTableHistory({ source: ddb.clientConfig, tableName: 'Votes', seed: 5 });
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
    await proxy?.stop();
    await server?.stop();
    await ddb?.stop();
  });

  /** A fresh prefix per case: one bucket, nothing shared between cases. */
  const nextPrefix = () => `run-${++runs}/`;

  /** Every archived line under `prefix`, as the sequence numbers they hold. */
  async function archived(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const body = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: object.Key }));
        const text = gunzipSync(await body.Body!.transformToByteArray()).toString('utf8');
        for (const line of text.split('\n').filter(Boolean)) {
          out.push((JSON.parse(line) as { sequenceNumber: string }).sequenceNumber);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Sequence numbers archived other than exactly once: missing ones and duplicates. */
  function exactlyOnceViolations(records: readonly ChangeRecord[], lines: readonly string[]) {
    const counts = new Map<string, number>();
    for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
    const missing = records.map((r) => r.sequenceNumber).filter((s) => !counts.has(s));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
    return { missing, duplicated };
  }

  it('keeps a shard whose positions fall inside another shard’s object range (both "unknown")', async () => {
    // arrange: two shards of one table whose sequence numbers interleave; Lambda names neither
    const prefix = nextPrefix();
    const shardA = [1, 3, 5].map((n) => change(seq(n), `a${n}`));
    const shardB = [2, 4, 6].map((n) => change(seq(n), `b${n}`));
    // act: each shard's invocation in its own process
    await new S3ArchiveSink({ client, bucket: BUCKET, prefix }).write(shardA, { attempt: 1 });
    const results = await new S3ArchiveSink({ client, bucket: BUCKET, prefix }).write(shardB, {
      attempt: 1,
    });
    // assert
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(exactlyOnceViolations([...shardA, ...shardB], await archived(prefix))).toEqual({
      missing: [],
      duplicated: [],
    });
  });

  it('keeps both of two concurrent ParallelizationFactor batches of one shard whose positions interleave', async () => {
    // arrange: lane A holds 1, 3, 5 and lane B 2, 4, 6 of the same shard
    const prefix = nextPrefix();
    const laneA = [1, 3, 5].map((n) => change(seq(n), 'ka'));
    const laneB = [2, 4, 6].map((n) => change(seq(n), 'kb'));
    // act: A is stored first, then B runs (its LIST sees A's object [1, 5])
    await new S3ArchiveSink({ client, bucket: BUCKET, prefix }).write(laneA, { attempt: 1 });
    await new S3ArchiveSink({ client, bucket: BUCKET, prefix }).write(laneB, { attempt: 1 });
    // assert
    expect(exactlyOnceViolations([...laneA, ...laneB], await archived(prefix))).toEqual({
      missing: [],
      duplicated: [],
    });
  });

  it('pins the S3 calls of a write: 1 LIST page of its minute and 1 PUT in order, a GET only for an unread object that may hold one of its changes', async () => {
    // arrange: count the S3 requests the sink's client sends
    const counted = new S3Client(server.clientConfig);
    const calls: string[] = [];
    const listed: number[] = [];
    counted.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName).replace(/Command$/, ''));
        const result = await next(args);
        const keyCount = (result.output as { KeyCount?: number }).KeyCount;
        if (keyCount !== undefined) listed.push(keyCount);
        return result;
      },
      { step: 'initialize' },
    );
    const prefix = nextPrefix();
    const sinkOf = () => new S3ArchiveSink({ client: counted, bucket: BUCKET, prefix });
    const shard = Array.from({ length: 12 }, (_, i) => change(seq(1000 + i), `k${i % 2}`));
    const lanes = [0, 1].map((lane) =>
      Array.from({ length: 6 }, (_, i) => change(seq(2000 + 2 * i + lane), `lane${lane}`)),
    );
    // 600 objects of another minute already in the hour's folder: a write lists its minute only.
    // (s3rver fails any LIST of more than 1,000 keys, so a bigger hour cannot be shown here.)
    const folder = `${prefix}table=Votes/dt=2026-11-23/hour=14/unknown/`;
    const filler = Array.from({ length: 600 }, (_, i) => {
      const p = keyPosition(String(seq(10_000 + i)), undefined);
      return `${folder}m11-${p}-${p}-000000000000.jsonl.gz`;
    });
    for (let i = 0; i < filler.length; i += 50) {
      await Promise.all(
        filler
          .slice(i, i + 50)
          .map((Key) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: '' }))),
      );
    }
    const sink = sinkOf();
    const costOf = async (write: () => Promise<unknown>) => {
      calls.length = 0;
      await write();
      return [...calls].sort();
    };
    // act / assert: batches in stream order (one shard, one process): nothing to read
    expect(await costOf(() => sink.write(shard.slice(0, 4), { attempt: 1 }))).toEqual([
      'ListObjectsV2',
      'PutObject',
    ]);
    expect(await costOf(() => sink.write(shard.slice(4, 8), { attempt: 1 }))).toEqual([
      'ListObjectsV2',
      'PutObject',
    ]);
    // a redelivery from record 6 in the same process: its own objects are remembered
    expect(await costOf(() => sink.write(shard.slice(6, 12), { attempt: 1 }))).toEqual([
      'ListObjectsV2',
      'PutObject',
    ]);
    // the same redelivery in a new process: a GET of each object that may hold 6 to 11
    // (4-7 and 8-11), and nothing to write
    expect(await costOf(() => sinkOf().write(shard.slice(6, 12), { attempt: 1 }))).toEqual([
      'GetObject',
      'GetObject',
      'ListObjectsV2',
    ]);
    // two interleaved lanes of a shard with no shard id: lane 1 reads lane 0's object once
    const laneSink = sinkOf();
    await sinkOf().write(lanes[0]!, { attempt: 1 });
    expect(await costOf(() => laneSink.write(lanes[1]!.slice(0, 3), { attempt: 1 }))).toEqual([
      'GetObject',
      'ListObjectsV2',
      'PutObject',
    ]);
    expect(await costOf(() => laneSink.write(lanes[1]!.slice(3), { attempt: 1 }))).toEqual([
      'ListObjectsV2',
      'PutObject',
    ]);
    // every LIST answered one page of the minute's own objects (at most 5 here), never the hour
    expect(Math.max(...listed)).toBeLessThanOrEqual(5);
    const lines = await archived(`${folder}m10-`);
    expect(exactlyOnceViolations([...shard, ...lanes.flat()], lines)).toEqual({
      missing: [],
      duplicated: [],
    });
    counted.destroy();
  });

  it('archives every change of a multi-shard stream exactly once per position: PF up to 10, redeliveries, replays, failed and lost PUTs', async () => {
    // arrange: the real stream (DynamoDB Local's changes, 4 shards, a rollover and a split),
    // read as Lambda gets it; every sink client goes through the fault proxy
    const all = history.shards.flatMap((s) => s.records);
    expect(new Set(all.map((r) => r.shardId))).toEqual(new Set(['unknown']));
    expect(history.shards.length).toBeGreaterThanOrEqual(10);
    const faulty = new S3Client({
      ...proxy.clientConfig,
      forcePathStyle: true,
      credentials: server.clientConfig.credentials,
    });
    let faults = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 3, 10),
        fc.integer({ min: 1, max: 25 }),
        fc.integer(),
        async (parallelizationFactor, maxBatchSize, seed) => {
          const prefix = nextPrefix();
          proxy.clear();
          // failed PUTs (not stored), lost PUT responses (stored, the sink hears an error),
          // and failed reads
          proxy.inject({
            operation: 'PutObject',
            fault: { type: 'serverError' },
            times: 4,
            skip: 3,
          });
          proxy.inject({
            operation: 'PutObject',
            fault: { type: 'dropResponse' },
            times: 4,
            skip: 9,
          });
          proxy.inject({
            operation: 'GetObject',
            fault: { type: 'serverError' },
            times: 2,
            skip: 2,
          });
          proxy.inject({
            operation: 'ListObjectsV2',
            fault: { type: 'throttle' },
            times: 2,
            skip: 7,
          });
          const before = proxy.faulted('*');
          // warm execution environments keep their sink; a cold one starts with none
          const warm = Array.from(
            { length: 3 },
            () => new S3ArchiveSink({ client: faulty, bucket: BUCKET, prefix }),
          );
          let pick = seed >>> 0;
          // act
          const report = await deliverLikeLambda(
            history.shards,
            async (batch) => {
              pick = (pick * 1103515245 + 12345) >>> 0;
              const sink =
                pick % 4 === 0
                  ? new S3ArchiveSink({ client: faulty, bucket: BUCKET, prefix })
                  : warm[pick % 3]!;
              const processor = new BatchProcessor({
                sink,
                deduper: false,
                retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 },
              });
              const result = await processor.process(batch);
              return result.firstNotDone === -1 ? batch.length : result.firstNotDone;
            },
            { seed, parallelizationFactor, maxBatchSize, replayChance: 0.1 },
          );
          faults += proxy.faulted('*') - before;
          // assert
          expect(exactlyOnceViolations(all, await archived(prefix))).toEqual({
            missing: [],
            duplicated: [],
          });
          expect(report.redeliveries).toBeGreaterThan(0);
          if (parallelizationFactor > 1) expect(report.maxConcurrent).toBeGreaterThan(4);
        },
      ),
      { numRuns: 6, seed: 1150 },
    );
    faulty.destroy();
    expect(faults).toBeGreaterThan(0);
    expect(proxy.faulted('PutObject')).toBeGreaterThan(0);
  });
  it('routes TTL deletes to their own archive and the rest to the main one, each exactly once: PF up to 10, redeliveries, replays', async () => {
    // arrange: the same multi-shard history, with a seeded third of its REMOVEs made TTL deletes
    // (as DynamoDB's expiry writes them: userIdentity Service / dynamodb.amazonaws.com)
    let mark = 7;
    const shards = history.shards.map((shard) => ({
      ...shard,
      records: shard.records.map((r) => {
        if (r.eventName !== 'REMOVE') return r;
        mark = (mark * 1103515245 + 12345) >>> 0;
        return mark % 3 === 0 ? asTtlDelete(r) : r;
      }),
    }));
    const all = shards.flatMap((s) => s.records);
    const expired = all.filter((r) => r.isTtlDelete);
    const kept = all.filter((r) => !r.isTtlDelete);
    expect(expired.length).toBeGreaterThan(0);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 3, 10),
        fc.integer({ min: 1, max: 25 }),
        fc.integer(),
        async (parallelizationFactor, maxBatchSize, seed) => {
          const main = nextPrefix();
          const ttl = nextPrefix();
          // act: a fresh pair of sinks per invocation (cold environments)
          const report = await deliverLikeLambda(
            shards,
            async (batch) => {
              const processor = new BatchProcessor({
                sink: new S3ArchiveSink({ client, bucket: BUCKET, prefix: main }),
                ttlDeletes: { routeTo: new S3ArchiveSink({ client, bucket: BUCKET, prefix: ttl }) },
                deduper: false,
                retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 },
              });
              const result = await processor.process(batch);
              return result.firstNotDone === -1 ? batch.length : result.firstNotDone;
            },
            { seed, parallelizationFactor, maxBatchSize, replayChance: 0.1 },
          );
          // assert
          const mainLines = await archived(main);
          expect(exactlyOnceViolations(kept, mainLines)).toEqual({ missing: [], duplicated: [] });
          const expiredPositions = new Set(expired.map((r) => r.sequenceNumber));
          expect(mainLines.filter((line) => expiredPositions.has(line))).toEqual([]);
          expect(exactlyOnceViolations(expired, await archived(ttl))).toEqual({
            missing: [],
            duplicated: [],
          });
          expect(report.redeliveries).toBeGreaterThan(0);
          if (parallelizationFactor > 1) expect(report.maxConcurrent).toBeGreaterThan(4);
        },
      ),
      { numRuns: 4, seed: 2027 },
    );
  });
});

/**
 * The change `r` as DynamoDB's Time to Live process writes it (userIdentity Service /
 * dynamodb.amazonaws.com), decoded as the Lambda decoder does: a spread copy would keep neither
 * the ordering key nor the images, which the record's class computes on first read.
 */
function asTtlDelete(r: ChangeRecord): ChangeRecord {
  return decodeDynamoDBRecord(
    {
      ...(r.raw as DynamoDBStreamRecordLike),
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
    },
    { streamId: r.streamId, shardId: r.shardId, creationTimeUnit: 's' },
  );
}
