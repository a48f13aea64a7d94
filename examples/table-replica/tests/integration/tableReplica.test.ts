import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  paginateScan,
  UpdateItemCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  BatchProcessor,
  bootstrapRecord,
  type ChangeRecord,
  consoleWarningLogger,
  InMemoryFailureDestination,
  type Item,
  ShardGraph,
  sleep,
  toFailedRecord,
} from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { replayFailures } from '@shardline/lambda';
import { DynamoDBBootstrapStore } from '@shardline/store-dynamodb';
import { type DynamoDBLocalServer, seededRandom, startDynamoDBLocal } from '@shardline/testing';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, replay } from '../../src/consumer.js';
import {
  activeUserByCountry,
  bootstrapReplica,
  createReplicaTables,
  createReplicaWorker,
  readTableReplicaConfig,
  replicaBootstrapId,
  type TableReplicaConfig,
  usersTableDefinition,
} from '../../src/index.js';

const PACKAGE_DIR = resolve(import.meta.dirname, '../..');
const CLI = resolve(PACKAGE_DIR, '../../packages/cli/src/bin.ts');
const VERSION_ATTRIBUTE = '_shardlineVersion';
const COPIED = ['name', 'email', 'country', 'status'];
const ENV = {
  SOURCE_TABLE: 'Users',
  REPLICA_TABLE: 'Users-replica',
  REPLICA_STATE_TABLE: 'Users-replica-state',
  DERIVED_TABLE: 'ActiveUsersByCountry',
  DERIVED_STATE_TABLE: 'ActiveUsersByCountry-state',
  LEASE_TABLE: 'table-replica-leases',
  SHARDLINE_APP: 'table-replica',
  REPLICA_ATTRIBUTES: COPIED.join(','),
};
let server: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let config: TableReplicaConfig;

beforeAll(async () => {
  server = await startDynamoDBLocal();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    ...ENV,
  });
  delete process.env.FAILURE_QUEUE_URL;
  dynamodb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
  config = readTableReplicaConfig(process.env);
  // The source starts without a stream: the items written before it is enabled are in no
  // stream record, so only the bootstrap can bring them (as for a table older than 24 hours).
  const { StreamSpecification: _stream, ...withoutStream } = usersTableDefinition('Users');
  await dynamodb.send(new CreateTableCommand(withoutStream));
  await createReplicaTables(dynamodb, config);
});

afterAll(async () => {
  dynamodb?.destroy();
  streams?.destroy();
  await server?.stop();
});

async function scan(table: string): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of paginateScan(
    { client: dynamodb },
    { TableName: table, ConsistentRead: true },
  )) {
    for (const item of page.Items ?? []) {
      const { [VERSION_ATTRIBUTE]: _version, ...rest } = unmarshall(item);
      items.push(rest);
    }
  }
  return sorted(items);
}

async function scanMarshalled(table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  for await (const page of paginateScan({ client: dynamodb }, { TableName: table })) {
    items.push(...(page.Items ?? []));
  }
  return items;
}

function sorted(items: Item[]): Item[] {
  const id = (item: Item) => `${String(item.country ?? '')}|${String(item.userId)}`;
  return items.sort((a, b) => id(a).localeCompare(id(b)));
}

/** What the copy must hold: the source items with the key and REPLICA_ATTRIBUTES only. */
function replicaOf(source: Item[]): Item[] {
  return sorted(
    source.map((user) => {
      const copy: Item = { userId: user.userId };
      for (const name of COPIED) if (user[name] !== undefined) copy[name] = user[name];
      return copy;
    }),
  );
}

/** What the derived table must hold: every item the projection makes of the source items. */
function derivedOf(source: Item[]): Item[] {
  return sorted(
    source.flatMap((user) =>
      activeUserByCountry(user).map((target) => ({ ...target.attributes, ...target.key })),
    ),
  );
}

/** Writes, updates and deletes on a pool of users (deterministic per seed). */
async function churn(seed: number, count: number, pool = 60): Promise<void> {
  const random = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  for (let i = 0; i < count; i++) {
    const userId = `user-${Math.floor(random() * pool)}`;
    const roll = random();
    if (roll < 0.2) {
      await dynamodb.send(
        new DeleteItemCommand({ TableName: 'Users', Key: { userId: { S: userId } } }),
      );
    } else if (roll < 0.5) {
      // an update of one attribute (creates the item when it does not exist)
      await dynamodb.send(
        new UpdateItemCommand({
          TableName: 'Users',
          Key: { userId: { S: userId } },
          UpdateExpression: 'SET #a = :v',
          ExpressionAttributeNames: { '#a': pick(['status', 'country', 'name']) },
          ExpressionAttributeValues: { ':v': { S: pick(['active', 'inactive', 'GB', 'FR', 'n']) } },
        }),
      );
    } else {
      await dynamodb.send(
        new PutItemCommand({
          TableName: 'Users',
          Item: {
            userId: { S: userId },
            name: { S: `name-${i}` },
            email: { S: `${userId}@example.com` },
            status: { S: pick(['active', 'active', 'inactive']) },
            score: { N: String(i) },
            ...(random() < 0.9 ? { country: { S: pick(['GB', 'US', 'FR']) } } : {}),
          },
        }),
      );
    }
  }
}

/** Polls until both targets equal the projections of a scan of the source, or the deadline. */
async function waitInStep(timeoutMs = 25_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const source = await scan('Users');
    const state = {
      replica: await scan('Users-replica'),
      expectedReplica: replicaOf(source),
      derived: await scan('ActiveUsersByCountry'),
      expectedDerived: derivedOf(source),
    };
    const same =
      isDeepStrictEqual(state.replica, state.expectedReplica) &&
      isDeepStrictEqual(state.derived, state.expectedDerived);
    if (same || Date.now() > deadline) return state;
    await sleep(300);
  }
}

function spawnWorker(env: NodeJS.ProcessEnv) {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'src/worker.ts'],
    { cwd: PACKAGE_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  child.stdout.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, exited, logs: () => logs };
}

/** Runs the `shardline` binary from source, as a user runs it. */
async function runCli(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CLI, ...args], {
    cwd: PACKAGE_DIR,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  return { code, output };
}

/** Items the bootstrap has delivered so far, from its progress in the lease table. */
async function bootstrapItemsSaved(): Promise<number> {
  const store = new DynamoDBBootstrapStore({ client: dynamodb, tableName: config.leaseTable });
  const run = await store.getRun(replicaBootstrapId(config)).catch(() => undefined);
  if (!run) return 0;
  return (await store.listParts(run)).reduce((sum, part) => sum + part.items, 0);
}

/** Every record the Users stream holds, as the worker reads them. */
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

describe('table replica, worker with bootstrap', () => {
  it('keeps the copy and the derived table equal to the projections of the source through a bootstrap under writes, a stop mid-bootstrap, a new worker and shuffled replays', {
    timeout: 60_000,
  }, async () => {
    // arrange: items written before the stream exists (only the bootstrap can bring them)
    // users 60-149 are never written again: only the bootstrap brings them
    await churn(1, 200, 150);
    const earlyPage = await scanMarshalled('Users');
    await dynamodb.send(
      new UpdateTableCommand({
        TableName: 'Users',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }),
    );

    // act 1: the package's `worker` script (stream from TRIM_HORIZON + bootstrap at 1 RCU/s),
    // with writes going on; SIGTERM once the bootstrap has saved progress
    const first = spawnWorker({
      SHARDLINE_LEASE_DURATION_MS: '3000',
      SHARDLINE_COMMIT_INTERVAL_MS: '500',
      SHARDLINE_LOG_LEVEL: 'warn',
      BOOTSTRAP_READ_PERCENT: '0.5',
      BOOTSTRAP_READ_CAPACITY_UNITS: '2',
    });
    const writes = churn(2, 100);
    const progressDeadline = Date.now() + 20_000;
    while ((await bootstrapItemsSaved()) === 0 && Date.now() < progressDeadline) await sleep(200);
    await writes;
    first.child.kill('SIGTERM');
    const code = await first.exited;
    const savedByFirst = await bootstrapItemsSaved();

    // act 2: writes while nothing runs; a new worker, and the bootstrap resumed beside it
    await churn(3, 60);
    const second = await createReplicaWorker({
      dynamodb,
      streams,
      config,
      worker: {
        leaseDurationMs: 3000,
        commitIntervalMs: 500,
        handleSignals: false,
        logger: consoleWarningLogger(),
      },
    });
    await second.start();
    const [resumed] = await Promise.all([
      bootstrapReplica({ dynamodb, config, readCapacityUnits: 40, pageSize: 5 }),
      churn(4, 80),
    ]);
    const settled = await waitInStep();
    await second.stop();

    // act 3: a bootstrap page read before all that, delivered only now (a page that waited):
    // the stream's newer changes and deletes must win
    const stalePage = earlyPage.map((item) =>
      bootstrapRecord(item, {
        tableName: 'Users',
        keySchema: ['userId'],
        bootstrapId: replicaBootstrapId(config),
        shardId: 'scan-0',
        readAtMs: Date.now() - 60_000,
      }),
    );
    const staleResult = await new BatchProcessor(bootstrap()).process(stalePage);
    const afterStalePage = await waitInStep(0);

    // act 4: every change of the stream parked and replayed in shuffled order, in small chunks
    // (each chunk in stream order, across chunks any order), as `shardline replay` does
    const random = seededRandom(5);
    const records = (await readWholeStream()).sort(() => random() - 0.5);
    const parked = new InMemoryFailureDestination();
    await parked.send(records.map((r) => toFailedRecord(r, new Error('parked by the test'), 1)));
    const replayed = await replayFailures({
      ...replay(),
      destination: parked,
      maxRecords: 7,
      maxBufferedRecords: 7,
    });
    const afterReplay = await waitInStep(0);

    // act 5: the bootstrap again from the start with the real CLI and the module's `bootstrap`
    // target: scanned items never overwrite what the stream wrote, nor bring back a deleted one
    const again = await runCli([
      'bootstrap',
      '--table',
      'Users',
      '--to',
      resolve(PACKAGE_DIR, 'src/consumer.ts'),
      '--lease-table',
      config.leaseTable,
      '--bootstrap-id',
      replicaBootstrapId(config),
      '--read-capacity-units',
      '40',
      '--restart',
      '--json',
    ]);
    const afterRestart = await waitInStep(0);

    // assert
    expect(code, first.logs()).toBe(0);
    expect(savedByFirst, first.logs()).toBeGreaterThan(0);
    expect(resumed.resumed).toBe(true);
    expect(settled.replica).toEqual(settled.expectedReplica);
    expect(settled.derived).toEqual(settled.expectedDerived);
    expect(settled.replica.length).toBeGreaterThan(80);
    expect(settled.derived.length).toBeGreaterThan(3);
    expect(staleResult.succeeded).toBe(stalePage.length);
    expect(afterStalePage.replica).toEqual(afterStalePage.expectedReplica);
    expect(afterStalePage.derived).toEqual(afterStalePage.expectedDerived);
    expect(replayed.received).toBe(records.length);
    expect(replayed.failed).toBe(0);
    expect(afterReplay.replica).toEqual(afterReplay.expectedReplica);
    expect(afterReplay.derived).toEqual(afterReplay.expectedDerived);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain(`"itemsTotal":${(await scan('Users')).length}`);
    expect(afterRestart.replica).toEqual(afterRestart.expectedReplica);
    expect(afterRestart.derived).toEqual(afterRestart.expectedDerived);
  });
});

describe('table replica, Lambda entry point', () => {
  it('applies the sample insert, modify and remove events, and ignores a redelivered insert', async () => {
    // arrange: the handler reads its tables at cold start
    Object.assign(process.env, {
      REPLICA_TABLE: 'Lambda-replica',
      REPLICA_STATE_TABLE: 'Lambda-replica-state',
      DERIVED_TABLE: 'Lambda-derived',
      DERIVED_STATE_TABLE: 'Lambda-derived-state',
      REPLICA_ATTRIBUTES: '',
    });
    await createReplicaTables(dynamodb, readTableReplicaConfig(process.env));
    const { handler } = await import('@shardline/example-table-replica/lambda');
    const event = (name: string) =>
      JSON.parse(
        readFileSync(resolve(PACKAGE_DIR, 'events', `${name}.json`), 'utf8'),
      ) as DynamoDBStreamEvent;
    const context = { getRemainingTimeInMillis: () => 60_000 } as never;
    const tables = async () => ({
      replica: await scan('Lambda-replica'),
      derived: await scan('Lambda-derived'),
    });

    // act
    const responses = [await handler(event('insert'), context)];
    const afterInsert = await tables();
    responses.push(await handler(event('modify'), context));
    const afterModify = await tables();
    responses.push(await handler(event('remove'), context));
    responses.push(await handler(event('insert'), context));
    const afterRemove = await tables();

    // assert
    for (const response of responses) expect(response).toEqual({ batchItemFailures: [] });
    const ada = { userId: 'user-1', name: 'Ada', email: 'ada@example.com', status: 'active' };
    const grace = { userId: 'user-2', name: 'Grace', email: 'grace@example.com', status: 'active' };
    expect(afterInsert.replica).toEqual([
      { ...ada, country: 'GB' },
      { ...grace, country: 'US' },
    ]);
    expect(afterInsert.derived).toEqual([
      { country: 'GB', userId: 'user-1', name: 'Ada', email: 'ada@example.com' },
      { country: 'US', userId: 'user-2', name: 'Grace', email: 'grace@example.com' },
    ]);
    expect(afterModify.replica).toEqual([
      { ...ada, country: 'FR' },
      { ...grace, country: 'US', status: 'inactive' },
    ]);
    expect(afterModify.derived).toEqual([
      { country: 'FR', userId: 'user-1', name: 'Ada', email: 'ada@example.com' },
    ]);
    expect(afterRemove.replica).toEqual([{ ...grace, country: 'US', status: 'inactive' }]);
    expect(afterRemove.derived).toEqual([]);
  });
});
