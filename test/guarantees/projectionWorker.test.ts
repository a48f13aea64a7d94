/**
 * The projection sink under the worker runtime: two workers (in this process) share the leases
 * of a 3-shard DynamoDB stream that rolls over and splits while users are written; the sinks'
 * DynamoDB calls go through a fault proxy that throttles them and drops responses of applied
 * transactions; one worker stops mid-run (its shards are taken over and read again from their
 * checkpoints). Property: the copy table and the derived table end equal to the projection of a
 * Scan of the source table.
 */
import { isDeepStrictEqual } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import {
  type DynamoDBLocalServer,
  type FaultProxy,
  type MultiShardStreamsServer,
  seededRandom,
  startDynamoDBLocal,
  startFaultProxy,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import { createWorker, type Worker } from '@shardline/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './helpers/fleet.js';
import {
  BY_GROUP_TABLE,
  COPY_TABLE,
  createProjectionSink,
  createProjectionTables,
  expectedProjections,
  scanTable,
  writeRandomUserChange,
} from './helpers/projectionTables.js';

let ddb: DynamoDBLocalServer;
let server: MultiShardStreamsServer;
let proxy: FaultProxy;
let dynamodb: DynamoDBClient;
let sinkClient: DynamoDBClient;
const workers: Worker[] = [];
const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  const streamArn = await createProjectionTables(dynamodb);
  server = await startMultiShardStreamsServer({
    source: ddb.clientConfig,
    sourceStreamArn: streamArn,
    shardCount: 3,
    seed: 43,
  });
  proxy = await startFaultProxy({ target: ddb.endpoint, service: 'dynamodb' });
  sinkClient = new DynamoDBClient(proxy.clientConfig);
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  sinkClient?.destroy();
  dynamodb?.destroy();
  await proxy?.stop();
  await server?.close();
  await ddb?.stop();
});

function startWorker(id: string): Worker {
  const worker = createWorker({
    applicationName: 'projection-worker',
    workerId: id,
    sources: new DynamoDBStreamsSource({
      client: new DynamoDBStreamsClient(server.clientConfig),
      streamArn: server.streamArn,
    }),
    dynamoDBClient: dynamodb,
    sink: createProjectionSink(sinkClient),
    retry: { maxAttempts: 50, baseDelayMs: 5, maxDelayMs: 50 },
    leaseDurationMs: 1500,
    renewIntervalMs: 500,
    takeIntervalMs: 150,
    discoveryIntervalMs: 300,
    commitIntervalMs: 150,
    minReadIntervalMs: 20,
    maxIdleDelayMs: 100,
    handleSignals: false,
    logger: silent,
  });
  workers.push(worker);
  return worker;
}

describe('projection tables under the worker runtime', () => {
  it('the copy and the derived table end equal to the projection of the source table', async () => {
    // arrange
    const random = seededRandom(7);
    proxy.inject({ operation: 'PutItem', fault: { type: 'throttle' }, skip: 20, times: 30 });
    proxy.inject({
      operation: 'TransactWriteItems',
      fault: { type: 'dropResponse' },
      skip: 5,
      times: 10,
    });
    proxy.inject({
      operation: 'TransactWriteItems',
      fault: { type: 'throttle' },
      skip: 40,
      times: 30,
    });
    const first = startWorker('worker-a');
    const second = startWorker('worker-b');
    await Promise.all([first.start(), second.start()]);

    const started = Date.now();
    // act: three rounds of writes; a rollover, a split, and worker-a stops after the second
    let n = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) {
        if (await writeRandomUserChange(dynamodb, random, `user-${Math.floor(random() * 30)}`, n))
          n++;
      }
      await server.sync();
      if (round === 0) server.rollover();
      if (round === 1) {
        const open = server.shards().find((s) => s.endingSequenceNumber === undefined)!;
        server.split(open.shardId);
        await first.stop();
      }
    }
    await server.sync();
    console.log(`writes done after ${Date.now() - started} ms`);
    const expected = await expectedProjections(dynamodb);
    const matches = async () =>
      isDeepStrictEqual(await scanTable(dynamodb, COPY_TABLE), expected.copy) &&
      isDeepStrictEqual(await scanTable(dynamodb, BY_GROUP_TABLE), expected.byGroup);
    const waiting = Date.now();
    await until(matches, 60_000, 'projection tables equal to the source').catch(() => undefined);
    console.log(`converged after ${Date.now() - waiting} ms, ${proxy.faulted('*')} faults`);

    // assert
    expect(proxy.faulted('*')).toBeGreaterThan(0);
    expect(expected.copy.length).toBeGreaterThan(5);
    expect(await scanTable(dynamodb, COPY_TABLE)).toEqual(expected.copy);
    expect(await scanTable(dynamodb, BY_GROUP_TABLE)).toEqual(expected.byGroup);
  }, 120_000);
});
