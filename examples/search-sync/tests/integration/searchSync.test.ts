import { isDeepStrictEqual } from 'node:util';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  paginateScan,
  UpdateItemCommand,
  UpdateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { Client } from '@opensearch-project/opensearch';
import { type ChangeRecord, consoleWarningLogger, ShardGraph, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import {
  type DynamoDBLocalServer,
  type OpenSearchDouble,
  startDynamoDBLocal,
  startOpenSearchDouble,
} from '@shardline/testing';
import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BackfillProgress,
  backfillIndex,
  backfillVersion,
  type SearchSyncConfig,
  startSearchSync,
  usersTableDefinition,
} from '../../src/index.js';

let server: DynamoDBLocalServer;
let search: OpenSearchDouble;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let opensearch: Client;

type User = { UserID: string; UserName: string; Email: string };

beforeAll(async () => {
  [server, search] = await Promise.all([startDynamoDBLocal(), startOpenSearchDouble()]);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  dynamodb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
  opensearch = new Client({ node: search.url });
  // Users that exist before the stream is enabled: only a scan can find them.
  const { StreamSpecification: _, ...withoutStream } = usersTableDefinition('Users');
  await dynamodb.send(new CreateTableCommand(withoutStream));
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: 'Users' });
  for (let i = 0; i < 40; i++) await putUser({ id: i, name: `old-${i}` });
  await dynamodb.send(
    new UpdateTableCommand({
      TableName: 'Users',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
});

afterAll(async () => {
  dynamodb?.destroy();
  streams?.destroy();
  await opensearch?.close();
  await Promise.all([server?.stop(), search?.stop()]);
});

function putUser({ id, name }: { id: number; name: string }) {
  return dynamodb.send(
    new PutItemCommand({
      TableName: 'Users',
      Item: {
        UserID: { S: `u${id}` },
        UserName: { S: name },
        Email: { S: `${name}@example.com` },
      },
    }),
  );
}

/** Random inserts, updates (Email only, or the whole item) and deletes over 60 users. */
async function randomChanges(seed: number, count: number): Promise<void> {
  const changes = fc.sample(
    fc.record({
      id: fc.integer({ min: 0, max: 59 }),
      kind: fc.constantFrom('put', 'put', 'update', 'delete'),
      name: fc.stringMatching(/^[a-z]{3,8}$/),
    }),
    { seed, numRuns: count },
  );
  for (const { id, kind, name } of changes) {
    if (kind === 'put') await putUser({ id, name });
    else if (kind === 'delete')
      await dynamodb.send(
        new DeleteItemCommand({ TableName: 'Users', Key: { UserID: { S: `u${id}` } } }),
      );
    else
      await dynamodb
        .send(
          new UpdateItemCommand({
            TableName: 'Users',
            Key: { UserID: { S: `u${id}` } },
            UpdateExpression: 'SET Email = :e',
            ExpressionAttributeValues: { ':e': { S: `${name}@changed.example.com` } },
            ConditionExpression: 'attribute_exists(UserID)',
          }),
        )
        .catch((error: Error) => {
          if (error.name !== 'ConditionalCheckFailedException') throw error;
        });
  }
}

async function tableUsers(): Promise<Record<string, User>> {
  const out: Record<string, User> = {};
  for await (const page of paginateScan(
    { client: dynamodb },
    { TableName: 'Users', ConsistentRead: true },
  )) {
    for (const item of page.Items ?? []) {
      const user = unmarshall(item) as User;
      out[user.UserID] = user;
    }
  }
  return out;
}

function indexedUsers(index: string): Record<string, User> {
  const out: Record<string, User> = {};
  for (const doc of search.documents(index).values()) {
    const user = doc.source as User;
    out[user.UserID] = user;
  }
  return out;
}

async function waitForIndex(index: string, timeoutMs = 40_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const table = await tableUsers();
    const indexed = indexedUsers(index);
    if (isDeepStrictEqual(table, indexed) || Date.now() > deadline)
      return { table: sorted(table), indexed: sorted(indexed) };
    await sleep(300);
  }
}

function sorted<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

const config = (index: string): SearchSyncConfig => ({
  sourceTable: 'Users',
  opensearchUrl: search.url,
  opensearchIndex: index,
  leaseTable: 'search-sync-leases',
  applicationName: 'search-sync',
  backfill: 'auto',
  scanSegments: 3,
});

const workerSettings = {
  leaseDurationMs: 3000,
  commitIntervalMs: 500,
  handleSignals: false,
  logger: consoleWarningLogger(),
};

describe('backfillVersion', () => {
  it('is below the version of any change made from the stream position on (ns, second floor)', () => {
    // arrange
    const positionTakenAtMs = Date.UTC(2026, 10, 23, 12, 0, 0, 500);

    // act
    const version = backfillVersion(positionTakenAtMs, 60_000);

    // assert: a change 1 ms after the position, with sequence digits 0, still wins
    const changeVersion = BigInt(Math.floor((positionTakenAtMs + 1) / 1000)) * 1_000_000_000n;
    expect(version < changeVersion).toBe(true);
    expect(version).toBe(
      BigInt(Math.floor((positionTakenAtMs - 60_000) / 1000) - 1) * 1_000_000_000n,
    );
  });
});

describe('search sync, worker entry point', () => {
  it('mirrors the table into the index: backfill of old users, stream inserts/updates/deletes, worker restart', async () => {
    // arrange
    const progress: BackfillProgress[] = [];

    // act 1: start with the backfill while the table keeps changing
    const first = await startSearchSync({
      dynamodb,
      streams,
      opensearch,
      config: config('users'),
      worker: workerSettings,
      onBackfillProgress: (p) => progress.push(p),
    });
    const [backfilled] = await Promise.all([first.backfill, randomChanges(1, 80)]);
    await first.worker.stop();

    // act 2: changes while stopped, then a restart: the finished backfill is not run again
    await randomChanges(2, 40);
    const second = await startSearchSync({
      dynamodb,
      streams,
      opensearch,
      config: config('users'),
      worker: workerSettings,
    });
    const skipped = await second.backfill;
    await randomChanges(3, 40);
    const final = await waitForIndex('users');
    await second.worker.stop();

    // assert
    expect(backfilled?.segmentsDone).toBe(3);
    expect(backfilled?.scanned).toBeGreaterThanOrEqual(30);
    expect(progress.at(-1)?.segmentsDone).toBe(3);
    expect(skipped).toBeUndefined();
    expect(final.indexed).toEqual(final.table);
    expect(Object.keys(final.table).length).toBeGreaterThan(10);
  });

  it('a scanned copy never overwrites a newer stream change, and a deleted user is not written back', async () => {
    // arrange: the stream's newest state is already in the index
    const index = 'users-overlap';
    const sync = await startSearchSync({
      dynamodb,
      streams,
      opensearch,
      config: {
        ...config(index),
        backfill: 'never',
        applicationName: 'search-sync-overlap',
        leaseTable: 'search-sync-overlap',
      },
      worker: workerSettings,
    });
    await putUser({ id: 1, name: 'newest' });
    await dynamodb.send(
      new DeleteItemCommand({ TableName: 'Users', Key: { UserID: { S: 'u2' } } }),
    );
    for (let i = 0; i < 100 && indexedUsers(index).u1?.UserName !== 'newest'; i++) await sleep(200);
    await sync.worker.stop();
    const stale = { UserID: 'u1', UserName: 'stale', Email: 'stale@example.com' };

    // act: a backfill whose scan read an older state of u1 and u2 (simulated by a stale page)
    const { createUserSearchSink } = await import('../../src/searchSink.js');
    const { decodeDynamoDBRecord } = await import('@shardline/core');
    const sink = createUserSearchSink({
      client: opensearch,
      index,
      version: backfillVersion(Date.now(), 60_000),
    });
    const scanned = [stale, { ...stale, UserID: 'u2' }].map((user, i) =>
      decodeDynamoDBRecord(
        {
          eventName: 'INSERT',
          dynamodb: {
            Keys: { UserID: { S: user.UserID } },
            NewImage: {
              UserID: { S: user.UserID },
              UserName: { S: user.UserName },
              Email: { S: user.Email },
            },
            SequenceNumber: String(i),
          },
        },
        { streamId: 'backfill:Users', shardId: 'segment-0' },
      ),
    );
    const results = await sink.write(scanned, { attempt: 1 });

    // assert: refused as older (counted ok), index unchanged
    expect(indexedUsers(index).u1).toBeDefined();
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(indexedUsers(index).u1?.UserName).toBe('newest');
    expect(indexedUsers(index).u2).toBeUndefined();
  });
});

/** Every record of the Users stream, parents first. */
async function readWholeStream(): Promise<ChangeRecord[]> {
  const source = await DynamoDBStreamsSource.fromTable({
    client: streams,
    dynamodb,
    tableName: 'Users',
  });
  const out: ChangeRecord[] = [];
  for (const shard of new ShardGraph(await source.listShards()).shards()) {
    const iterator = await source.openShard(shard.shardId, { type: 'TRIM_HORIZON' });
    for (let empty = 0; empty < 2; ) {
      const page = await iterator.next();
      out.push(...page.records);
      if (page.shardEnded) break;
      empty = page.records.length === 0 ? empty + 1 : 0;
    }
  }
  return out;
}

function toLambdaRecord(record: ChangeRecord): DynamoDBRecord {
  const raw = record.raw as DynamoDBRecord & {
    dynamodb: { ApproximateCreationDateTime?: unknown };
  };
  const created: unknown = raw.dynamodb.ApproximateCreationDateTime;
  return {
    ...raw,
    eventSourceARN: record.streamId,
    dynamodb: {
      ...raw.dynamodb,
      ApproximateCreationDateTime:
        created instanceof Date ? Math.floor(created.getTime() / 1000) : (created as number),
    },
  } as DynamoDBRecord;
}

describe('search sync, Lambda entry point', () => {
  it('mirrors the table through the ./lambda handler plus a one-off backfill, batches redelivered', async () => {
    // arrange: the handler module reads its settings at cold start
    const index = 'users-lambda';
    Object.assign(process.env, {
      OPENSEARCH_URL: search.url,
      OPENSEARCH_INDEX: index,
      SOURCE_TABLE: 'Users',
    });
    const { handler } = await import('@shardline/example-search-sync/lambda');
    const positionTakenAtMs = Date.now();
    await randomChanges(4, 40);
    const records = (await readWholeStream()).map(toLambdaRecord);
    const context = { getRemainingTimeInMillis: () => 60_000 } as never;

    // act: backfill and stream batches interleaved, some batches delivered twice
    await new DynamoDBLeaseStore({
      client: dynamodb,
      tableName: 'search-sync-lambda',
      streamId: 'Users',
    }).createTableIfNotExists();
    const backfill = backfillIndex({
      dynamodb,
      progressTable: 'search-sync-lambda',
      tableName: 'Users',
      opensearch,
      index,
      streamPositionTakenAtMs: positionTakenAtMs - 3_600_000,
      segments: 2,
      pageSize: 10,
    });
    const responses = [];
    for (let i = 0; i < records.length; i += 20) {
      responses.push(await handler({ Records: records.slice(i, i + 20) }, context));
      if (i % 60 === 0)
        responses.push(await handler({ Records: records.slice(i, i + 20) }, context));
    }
    await backfill;
    const final = await waitForIndex(index, 10_000);

    // assert
    for (const response of responses) expect(response).toEqual({ batchItemFailures: [] });
    expect(final.indexed).toEqual(final.table);
  });
});
