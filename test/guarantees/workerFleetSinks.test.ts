/**
 * Every sink under the worker runtime: a fleet of three worker processes reads a multi-shard
 * DynamoDB stream (rollover, split) and writes each change through OpenSearch (double), S3
 * (s3rver) and SNS FIFO (double) at once, while one worker stops with SIGTERM and comes back and
 * another is killed with -9 mid-batch and restarted.
 *
 * Properties, for a seeded random workload (puts, deletes, re-creates, hot keys):
 * - the search index holds exactly the table's items (no stale overwrite, no resurrected delete);
 * - the S3 archive holds every change exactly once per stream position;
 * - SNS FIFO delivers every change once, and each item's changes in stream order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  type DynamoDBLocalServer,
  localClientConfig,
  type MultiShardStreamsServer,
  type OpenSearchDouble,
  type S3rverServer,
  type SnsDouble,
  startDynamoDBLocal,
  startMultiShardStreamsServer,
  startOpenSearchDouble,
  startS3rver,
  startSnsDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FleetWorker, readApplied, seeded, startFleetWorker, until } from './helpers/fleet.js';

const BUCKET = 'archive';
let dynamo: DynamoDBLocalServer;
let server: MultiShardStreamsServer;
let os: OpenSearchDouble;
let s3: S3rverServer;
let sns: SnsDouble;
let ddb: DynamoDBClient;
let dir: string;
const running: FleetWorker[] = [];

beforeAll(async () => {
  [dynamo, os, s3, sns] = await Promise.all([
    startDynamoDBLocal(),
    startOpenSearchDouble(),
    startS3rver({ buckets: [BUCKET] }),
    startSnsDouble(),
  ]);
  ddb = new DynamoDBClient(dynamo.clientConfig);
  const table = await ddb.send(
    new CreateTableCommand({
      TableName: 'Items',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  server = await startMultiShardStreamsServer({
    source: dynamo.clientConfig,
    sourceStreamArn: table.TableDescription?.LatestStreamArn ?? '',
    shardCount: 4,
    seed: 9,
  });
  dir = mkdtempSync(join(tmpdir(), 'shardline-sinks-fleet-'));
}, 60_000);

afterAll(async () => {
  for (const w of running) w.process.kill('SIGKILL');
  ddb?.destroy();
  await server?.close();
  await Promise.all([dynamo?.stop(), os?.stop(), s3?.stop(), sns?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Seeded puts and deletes over 30 items, a quarter of them on three hot items. */
async function write(random: () => number, count: number, state: { n: number }): Promise<void> {
  for (let i = 0; i < count; i++) {
    const k = random() < 0.25 ? Math.floor(random() * 3) : Math.floor(random() * 30);
    const Key = { id: { S: `item-${k}` } };
    if (random() < 0.2) await ddb.send(new DeleteItemCommand({ TableName: 'Items', Key }));
    else
      await ddb.send(
        new PutItemCommand({ TableName: 'Items', Item: { ...Key, n: { N: String(state.n++) } } }),
      );
  }
}

/** Every change the stream holds (eventID, sequence number, item id), read from the server. */
async function streamChanges(): Promise<{ eventId: string; seq: string; id: string }[]> {
  const client = new DynamoDBStreamsClient(server.clientConfig);
  const out: { eventId: string; seq: string; id: string }[] = [];
  for (const shard of server.shards()) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamArn: server.streamArn,
          ShardId: shard.shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const r of page.Records ?? []) {
        out.push({
          eventId: r.eventID!,
          seq: r.dynamodb!.SequenceNumber!,
          id: r.dynamodb!.Keys!.id!.S!,
        });
      }
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  client.destroy();
  return out;
}

/** Sequence numbers of every line of every archive object. */
async function archived(): Promise<string[]> {
  const client = new S3Client(s3.clientConfig);
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'cdc/', ContinuationToken: token }),
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
  client.destroy();
  return out;
}

describe('every sink under a worker fleet with rollovers, a split, SIGTERM and kill -9', () => {
  it('index equals the table, archive holds each change once, SNS FIFO keeps per-item order', {
    timeout: 180_000,
  }, async () => {
    // arrange
    const random = seeded(31);
    const snsClient = new SNSClient(localClientConfig(sns.endpoint));
    const topic = await snsClient.send(
      new CreateTopicCommand({ Name: 'changes.fifo', Attributes: { FifoTopic: 'true' } }),
    );
    snsClient.destroy();
    const out = join(dir, 'applied.log');
    const env = {
      SOURCE: 'dynamodb',
      MODE: 'sinks',
      DDB_ENDPOINT: dynamo.endpoint,
      STREAMS_ENDPOINT: server.endpoint,
      STREAM_ARN: server.streamArn,
      OPENSEARCH_URL: os.url,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: BUCKET,
      SNS_ENDPOINT: sns.endpoint,
      TOPIC_ARN: topic.TopicArn!,
      APP: 'sinks-fleet',
      OUT_FILE: out,
      LEASE_MS: '1500',
      DEBUG_WARN: '1',
    };
    const start = async (id: string) => {
      const w = startFleetWorker(id, env);
      running.push(w);
      await until(() => w.events.some((e) => e.event === 'started'), 30_000, `${id} started`);
      return w;
    };
    const stop = async (w: FleetWorker) => {
      w.process.kill('SIGTERM');
      return w.exited;
    };
    const state = { n: 0 };
    const w1 = await start('w1');
    let [w2, w3] = await Promise.all([start('w2'), start('w3')]);

    // act
    await write(random, 60, state);
    await until(() => readApplied(out).length >= 20, 60_000, 'first changes applied');
    server.rollover();
    await write(random, 60, state);
    expect(await stop(w2)).toEqual({ code: 0, signal: null });
    w2 = await start('w2');
    const open = server.shards().filter((s) => s.endingSequenceNumber === undefined);
    server.split(open[Math.floor(random() * open.length)]!.shardId);
    await write(random, 60, state);
    await until(
      () => readApplied(out).filter((a) => a.worker === 'w3').length >= 5,
      60_000,
      'w3 applied changes',
    );
    w3.process.kill('SIGKILL');
    await w3.exited;
    await write(random, 60, state);
    w3 = await start('w3');
    await write(random, 40, state);
    await server.sync();
    const changes = await streamChanges();
    await until(
      () => new Set(readApplied(out).map((a) => `${a.shardId} ${a.seq}`)).size >= changes.length,
      90_000,
      `all ${changes.length} changes applied`,
    ).catch((error: unknown) => {
      // What the workers said, to tell a stall from a slow machine.
      const applied = new Set(readApplied(out).map((a) => `${a.shardId} ${a.seq}`));
      console.log(`applied ${applied.size} of ${changes.length}`);
      for (const w of running) console.log(w.id, JSON.stringify(w.events.slice(-8)));
      throw error;
    });
    const exits = await Promise.all([w1, w2, w3].map(stop));

    // assert
    expect(exits.every((e) => e.code === 0)).toBe(true);
    // OpenSearch: exactly the table's items
    const scan = await ddb.send(new ScanCommand({ TableName: 'Items', ConsistentRead: true }));
    const items = new Map((scan.Items ?? []).map((i) => [i.id!.S!, i.n!.N!]));
    const docs = new Map(
      [...os.documents('items').values()].map((d) => [String(d.source.id), String(d.source.n)]),
    );
    expect(docs).toEqual(items);
    // S3: every change exactly once per position
    const lines = await archived();
    const counts = new Map<string, number>();
    for (const seq of lines) counts.set(seq, (counts.get(seq) ?? 0) + 1);
    expect(changes.filter((c) => !counts.has(c.seq)).map((c) => c.seq)).toEqual([]);
    expect([...counts].filter(([, n]) => n > 1).map(([seq]) => seq)).toEqual([]);
    expect(lines.length).toBe(changes.length);
    // SNS FIFO: every change once, per item in stream order
    const messages = sns
      .messages(topic.TopicArn!)
      .map((m) => ({ group: m.messageGroupId, ...(JSON.parse(m.message) as { seq: string }) }));
    expect(messages.map((m) => m.seq).sort()).toEqual(changes.map((c) => c.seq).sort());
    const lastByGroup = new Map<string | undefined, bigint>();
    const outOfOrder: string[] = [];
    for (const m of messages) {
      const seq = BigInt(m.seq);
      if ((lastByGroup.get(m.group) ?? -1n) >= seq) outOfOrder.push(`${m.group}@${m.seq}`);
      lastByGroup.set(m.group, seq);
    }
    expect(outOfOrder).toEqual([]);
    expect(new Set(messages.map((m) => m.group)).size).toBeGreaterThan(10);
  });
});
