/**
 * Record metadata through real paths, in both runtimes: TTL deletes routed to an S3 archive of
 * expired items (s3rver), user deletes applied, and Lambda filter patterns applied before the
 * handler with the filtered records checkpointed past. The changes are DynamoDB Local's own,
 * read through the multi-shard streams server; DynamoDB Local's TTL sweep runs at no set time,
 * so the test deletes the "expired" items itself and the server delivers those REMOVEs with the
 * userIdentity the DynamoDB Streams API documents for TTL (type Service, dynamodb.amazonaws.com).
 */
import { gunzipSync } from 'node:zlib';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  type ChangeRecord,
  canonicalKey,
  type ShardlineEventMap,
  type ShardSource,
  type Sink,
  type SinkRecordResult,
  silentLogger,
} from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import { S3ArchiveSink } from '@shardline/sink-s3';
import {
  type DynamoDBLocalServer,
  type KinesaliteServer,
  type MultiShardStreamsServer,
  makeKinesisDynamoDBRecord,
  type S3rverServer,
  startDynamoDBLocal,
  startKinesalite,
  startMultiShardStreamsServer,
  startS3rver,
  toLambdaDynamoDBRecord,
} from '@shardline/testing';
import {
  createWorker,
  InMemoryLeaseStore,
  type Worker,
  type WorkerOptions,
} from '@shardline/worker';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './helpers/fleet.js';

let ddb: DynamoDBLocalServer;
let s3: S3rverServer;
let kinesaliteServer: KinesaliteServer;
let dynamodb: DynamoDBClient;
let s3Client: S3Client;
const servers: MultiShardStreamsServer[] = [];
const streamsClients: DynamoDBStreamsClient[] = [];

/** The archive of expired items: every REMOVE whose id starts with `expired-` is made by "TTL". */
const isExpired = (keys: Record<string, unknown>) =>
  String((keys.id as { S?: string } | undefined)?.S).startsWith('expired-');

/** A sink that keeps the last state per item (a copy table), applying deletes. */
class CopySink implements Sink {
  readonly name = 'copy';
  readonly items = new Map<string, Record<string, unknown> | undefined>();
  readonly seen: ChangeRecord[] = [];
  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    for (const r of records) {
      this.seen.push(r);
      const id = String(r.keys?.id);
      if (r.eventName === 'REMOVE') this.items.delete(id);
      else this.items.set(id, r.newImage);
    }
    return records.map(() => ({ status: 'ok' }));
  }
}

/** Puts `item` (plain strings and numbers) into `table`. */
function put(table: string, item: Record<string, string | number | boolean>) {
  const wire: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(item)) {
    wire[k] =
      typeof v === 'number' ? { N: String(v) } : typeof v === 'boolean' ? { BOOL: v } : { S: v };
  }
  return dynamodb.send(new PutItemCommand({ TableName: table, Item: wire }));
}

/** Four items deleted as by TTL, a user's delete, two drafts and an order. */
async function ttlWrites(table: string): Promise<void> {
  const del = (id: string) =>
    dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
  for (let i = 0; i < 4; i++) await put(table, { id: `expired-${i}`, kind: 'session' });
  for (let i = 0; i < 4; i++)
    await put(table, { id: `user-${i}`, kind: i % 2 === 0 ? 'order' : 'draft' });
  for (let i = 0; i < 4; i++) await del(`expired-${i}`); // "TTL"
  await del('user-0'); // a user's delete
}

/** A table with a stream, `writes` made to it, and a 2-shard stream server over it. */
async function scenario(
  table: string,
  writes: (table: string) => Promise<void>,
): Promise<{ server: MultiShardStreamsServer; streams: DynamoDBStreamsClient }> {
  const created = await dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await writes(table);
  const server = await startMultiShardStreamsServer({
    source: ddb.clientConfig,
    sourceStreamArn: created.TableDescription!.LatestStreamArn!,
    shardCount: 2,
    seed: 5,
    timeToLiveDeletes: isExpired,
  });
  servers.push(server);
  await server.sync();
  const streams = new DynamoDBStreamsClient(server.clientConfig);
  streamsClients.push(streams);
  return { server, streams };
}

/**
 * Runs one worker over the stream until every shard's checkpoint is at its last record, and
 * returns the record.filtered events it emitted.
 */
async function runWorkerToEnd(
  source: ShardSource,
  expectedLast: ReadonlyMap<string, string>,
  options: Pick<WorkerOptions, 'sink' | 'handler' | 'ttlDeletes' | 'filters' | 'globalTables'>,
): Promise<ShardlineEventMap['record.filtered'][]> {
  const store = new InMemoryLeaseStore();
  const worker: Worker = createWorker({
    ...options,
    applicationName: 'record-metadata',
    sources: source,
    leaseStore: store,
    initialPosition: 'TRIM_HORIZON',
    commitIntervalMs: 50,
    minReadIntervalMs: 10,
    maxIdleDelayMs: 50,
    takeIntervalMs: 100,
    discoveryIntervalMs: 200,
    logger: silentLogger,
  });
  const filtered: ShardlineEventMap['record.filtered'][] = [];
  worker.events.on('record.filtered', (e) => filtered.push(e));
  await worker.start();
  try {
    await until(
      async () => {
        for (const [shardId, last] of expectedLast) {
          const lease = await store.getLease(store.leaseKeyFor(source.streamId, shardId));
          const at = lease?.checkpoint;
          if (typeof at !== 'object' || at === null || at.sequenceNumber !== last) return false;
        }
        return true;
      },
      60_000,
      'every shard checkpointed at its last record',
    );
  } finally {
    await worker.stop();
  }
  return filtered;
}

/** Every archived line of `bucket`. */
async function archived(bucket: string): Promise<Record<string, unknown>[]> {
  const page = await s3Client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const lines: Record<string, unknown>[] = [];
  for (const { Key } of page.Contents ?? []) {
    const object = await s3Client.send(new GetObjectCommand({ Bucket: bucket, Key }));
    const text = gunzipSync(await object.Body!.transformToByteArray()).toString('utf8');
    for (const line of text.split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  }
  return lines;
}

/**
 * The outcome both runtimes must reach: the four expired items in the archive (REMOVEs marked as
 * TTL deletes), none of them deleted from the copy, the user's delete applied there, drafts left out.
 */
async function expectArchivedAndCopied(bucket: string, copy: CopySink): Promise<void> {
  const lines = await archived(bucket);
  const expired = ['expired-0', 'expired-1', 'expired-2', 'expired-3'];
  expect(lines.map((l) => (l.keys as { id: string }).id).sort()).toEqual(expired);
  expect(lines.every((l) => l.eventName === 'REMOVE' && l.isTtlDelete === true)).toBe(true);
  expect(copy.seen.some((r) => r.isTtlDelete)).toBe(false);
  expect([...copy.items.keys()].sort()).toEqual([...expired, 'user-2']);
}

/** Patterns in the FilterCriteria form: keep every REMOVE, and orders (not drafts) otherwise. */
const filters = {
  Filters: [
    { Pattern: JSON.stringify({ eventName: ['REMOVE'] }) },
    { Pattern: JSON.stringify({ dynamodb: { NewImage: { kind: { S: ['order', 'session'] } } } }) },
  ],
};

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  s3 = await startS3rver({ buckets: ['expired-lambda', 'expired-worker'] });
  kinesaliteServer = await startKinesalite();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  s3Client = new S3Client(s3.clientConfig);
}, 60_000);

afterAll(async () => {
  for (const c of streamsClients) c.destroy();
  for (const s of servers) await s.close();
  s3Client?.destroy();
  dynamodb?.destroy();
  await s3?.stop();
  await kinesaliteServer?.stop();
  await ddb?.stop();
});

describe('TTL deletes and filters through real paths', () => {
  it('Lambda: archives TTL deletes in S3, applies user deletes, filters drafts, reports no failure', async () => {
    // arrange: each shard's records as the Lambda events of its mapping
    const { server, streams } = await scenario('LambdaItems', ttlWrites);
    const pages = await shardPages(streams, server.streamArn);
    const events = [...pages.values()].map((records) => ({
      Records: records.map(
        (r) =>
          toLambdaDynamoDBRecord(r as Record<string, unknown>, server.streamArn, 'us-east-1')
            .lambda as DynamoDBRecord,
      ),
    }));
    const copy = new CopySink();
    const archive = new S3ArchiveSink({ client: s3Client, bucket: 'expired-lambda' });
    const handler = createDynamoDBHandler({
      sink: copy,
      ttlDeletes: { routeTo: archive },
      filters,
      logger: silentLogger,
    });
    // act
    const responses = [];
    for (const event of events) responses.push(await handler(event));
    // assert
    const ttlInEvents = events
      .flatMap((e) => e.Records)
      .filter((r) => r.userIdentity?.type === 'Service');
    expect(ttlInEvents).toHaveLength(4);
    expect(responses.every((r) => r.batchItemFailures.length === 0)).toBe(true);
    await expectArchivedAndCopied('expired-lambda', copy);
    expect(copy.seen.map((r) => r.keys?.id)).not.toContain('user-1');
  });

  it('worker: same choices over a 2-shard stream; filtered and routed records are checkpointed past', async () => {
    // arrange
    const { server, streams } = await scenario('WorkerItems', ttlWrites);
    const copy = new CopySink();
    const archive = new S3ArchiveSink({ client: s3Client, bucket: 'expired-worker' });
    // act
    const filtered = await runWorkerToEnd(
      dynamoDBSource(streams, server),
      await lastSequenceNumbers(streams, server.streamArn),
      {
        sink: copy,
        ttlDeletes: { routeTo: archive },
        filters,
      },
    );
    // assert
    expect(server.shards().reduce((n, s) => n + s.recordCount, 0)).toBe(13);
    await expectArchivedAndCopied('expired-worker', copy);
    // the two drafts, each filtered once (a filtered record is never retried)
    expect(filtered.map((e) => e.reason)).toEqual(['filter', 'filter']);
    expect(new Set(filtered.map((e) => e.orderingKey))).toEqual(
      new Set([canonicalKey({ id: { S: 'user-1' } }), canonicalKey({ id: { S: 'user-3' } })]),
    );
  }, 90_000);

  it('worker, global tables 2017.11.29: drops bookkeeping MODIFYs and other Regions, strips aws:rep:*', async () => {
    // arrange: the items as the 2017.11.29 replicator leaves them in DynamoDB Local
    const rep = (region: string) => ({
      'aws:rep:updateregion': region,
      'aws:rep:updatetime': 1_764_000_000.25,
      'aws:rep:deleting': false,
    });
    const { server, streams } = await scenario('GlobalItems', async (table) => {
      await put(table, { id: 'g-1', n: 1 }); // a write here, before the replicator stamps it
      await put(table, { id: 'g-1', n: 1, ...rep('us-east-1') }); // the stamp: bookkeeping only
      await put(table, { id: 'g-2', n: 7, ...rep('eu-west-1') }); // replicated from elsewhere
      await put(table, { id: 'g-3', n: 5, ...rep('us-east-1') }); // written here, stamped
    });
    const copy = new CopySink();
    // act
    const filtered = await runWorkerToEnd(
      dynamoDBSource(streams, server),
      await lastSequenceNumbers(streams, server.streamArn),
      {
        sink: copy,
        globalTables: { version: '2017.11.29', onlyOrigin: { region: 'us-east-1' } },
      },
    );
    // assert
    expect(server.shards().reduce((n, s) => n + s.recordCount, 0)).toBe(4);
    expect(Object.fromEntries(copy.items)).toEqual({
      'g-1': { id: 'g-1', n: 1 },
      'g-3': { id: 'g-3', n: 5 },
    });
    expect(filtered.map((e) => e.reason).sort()).toEqual(['other-region', 'replication']);
    expect(copy.seen.every((r) => typeof r.region === 'string' && r.region.length > 0)).toBe(true);
  }, 90_000);

  it('worker, global tables 2019.11.21: applies only the writes stamped with its Region, deletes by the old image', async () => {
    // arrange: writers in two Regions stamp writtenIn; one item predates the stamping
    const { server, streams } = await scenario('Global2019Items', async (table) => {
      await put(table, { id: 'a', writtenIn: 'us-east-1' });
      await put(table, { id: 'b', writtenIn: 'eu-west-1' });
      await put(table, { id: 'c' });
      for (const id of ['a', 'b']) {
        await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
      }
    });
    const copy = new CopySink();
    // act
    const filtered = await runWorkerToEnd(
      dynamoDBSource(streams, server),
      await lastSequenceNumbers(streams, server.streamArn),
      {
        sink: copy,
        globalTables: {
          version: '2019.11.21',
          onlyOrigin: { region: 'us-east-1', attribute: 'writtenIn', unstamped: 'skip' },
        },
      },
    );
    // assert
    expect(copy.seen.map((r) => `${r.eventName} ${String(r.keys?.id)}`)).toEqual([
      'INSERT a',
      'REMOVE a',
    ]);
    expect(filtered.map((e) => e.reason)).toEqual(['other-region', 'other-region', 'other-region']);
  }, 90_000);

  it('worker on Kinesis Data Streams for DynamoDB (kinesalite): filters on data.dynamodb, skips TTL deletes, checkpoints past both', async () => {
    // arrange: the payloads DynamoDB puts on the stream, in two shards
    const kinesis = new KinesisClient(kinesaliteServer.clientConfig);
    await kinesis.send(new CreateStreamCommand({ StreamName: 'orders-cdc', ShardCount: 2 }));
    while (
      (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'orders-cdc' })))
        .StreamDescriptionSummary?.StreamStatus !== 'ACTIVE'
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const at = Date.now();
    const changes = [
      makeKinesisDynamoDBRecord({
        keys: { id: 'a' },
        newImage: { id: 'a', status: 'paid' },
        approximateCreationDateTime: at,
      }),
      makeKinesisDynamoDBRecord({
        keys: { id: 'b' },
        newImage: { id: 'b', status: 'open' },
        approximateCreationDateTime: at + 1,
      }),
      makeKinesisDynamoDBRecord({
        keys: { id: 'c' },
        oldImage: { id: 'c', status: 'paid' },
        approximateCreationDateTime: at + 2,
        ttl: true,
      }),
      makeKinesisDynamoDBRecord({
        keys: { id: 'd' },
        oldImage: { id: 'd', status: 'paid' },
        approximateCreationDateTime: at + 3,
      }),
    ];
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName: 'orders-cdc',
        Records: changes.map((c) => ({
          PartitionKey: c.kinesis.partitionKey,
          Data: Buffer.from(c.kinesis.data, 'base64'),
        })),
      }),
    );
    const expectedLast = new Map<string, string>();
    for (const entry of put.Records ?? []) expectedLast.set(entry.ShardId!, entry.SequenceNumber!);
    const applied: string[] = [];
    // act
    const filtered = await runWorkerToEnd(
      new KinesisSource({ client: kinesis, streamName: 'orders-cdc', payload: 'dynamodb' }),
      expectedLast,
      {
        handler: (r) => void applied.push(`${r.eventName} ${String(r.keys?.id)}`),
        ttlDeletes: 'skip',
        filters: [
          { data: { dynamodb: { NewImage: { status: { S: ['paid'] } } } } },
          { data: { eventName: ['REMOVE'] } },
        ],
      },
    );
    kinesis.destroy();
    // assert
    expect(applied.sort()).toEqual(['INSERT a', 'REMOVE d']);
    expect(filtered.map((e) => e.reason).sort()).toEqual(['filter', 'ttl-delete']);
  }, 90_000);
});

/** The worker's source over the multi-shard server. */
function dynamoDBSource(streams: DynamoDBStreamsClient, server: MultiShardStreamsServer) {
  return new DynamoDBStreamsSource({ client: streams, streamArn: server.streamArn });
}

/** Every record of each shard of the stream, read from the trim horizon (one page each). */
async function shardPages(
  streams: DynamoDBStreamsClient,
  streamArn: string,
): Promise<Map<string, _Record[]>> {
  const described = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  const pages = new Map<string, _Record[]>();
  for (const shard of described.StreamDescription?.Shards ?? []) {
    const iterator = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shard.ShardId!,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const page = await streams.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }),
    );
    pages.set(shard.ShardId!, page.Records ?? []);
  }
  return pages;
}

/** The last sequence number of each shard (all shards are open: read to the end). */
async function lastSequenceNumbers(
  streams: DynamoDBStreamsClient,
  streamArn: string,
): Promise<Map<string, string>> {
  const last = new Map<string, string>();
  for (const [shardId, records] of await shardPages(streams, streamArn)) {
    const seq = records.at(-1)?.dynamodb?.SequenceNumber;
    if (seq) last.set(shardId, seq);
  }
  return last;
}
