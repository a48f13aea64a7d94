/**
 * Guarantee of the projection sink (copy and derived tables) as Lambda runs it: the event
 * source mapping emulator reads a 4-shard DynamoDB stream (the multi-shard server fed by
 * DynamoDB Local) that rolls over and splits mid-run, with ParallelizationFactor 10, duplicate
 * deliveries, kill -9 mid-batch and timeouts; the handler's DynamoDB calls go through a fault
 * proxy that throttles them and drops responses of writes that took effect, so batches are
 * retried and some are discarded to the on-failure destination. Those are then replayed in a
 * shuffled order, twice, as an SQS standard queue returns them. Property: the copy table and
 * the derived table end equal to the projection of a Scan of the source table.
 */
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import {
  type DynamoDBLocalServer,
  type EventSourceMapping,
  type FaultProxy,
  type LambdaStreamEvent,
  LOCAL_CREDENTIALS,
  type MultiShardStreamsServer,
  seededRandom,
  startDynamoDBLocal,
  startEventSourceMapping,
  startFaultProxy,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BY_GROUP_TABLE,
  COPY_TABLE,
  createProjectionSink,
  createProjectionTables,
  expectedProjections,
  scanTable,
  writeRandomUserChange,
} from './helpers/projectionTables.js';

const HANDLER = join(import.meta.dirname, 'helpers/projectionHandler.ts');

let ddb: DynamoDBLocalServer;
let server: MultiShardStreamsServer;
let proxy: FaultProxy;
let dynamodb: DynamoDBClient;
let mapping: EventSourceMapping | undefined;

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  const streamArn = await createProjectionTables(dynamodb);
  server = await startMultiShardStreamsServer({
    source: ddb.clientConfig,
    sourceStreamArn: streamArn,
    shardCount: 4,
    seed: 41,
  });
  proxy = await startFaultProxy({ target: ddb.endpoint, service: 'dynamodb' });
}, 60_000);

afterAll(async () => {
  await mapping?.stop();
  dynamodb?.destroy();
  await proxy?.stop();
  await server?.close();
  await ddb?.stop();
});

describe('projection tables under the event source mapping, faults and dead-letter replays', () => {
  it('the copy and the derived table end equal to the projection of the source table', async () => {
    // arrange
    const random = seededRandom(20261207);
    const discarded: LambdaStreamEvent['Records'][number][] = [];
    // Throttling and lost responses, each over a stretch of the run.
    proxy.inject({ operation: 'PutItem', fault: { type: 'throttle' }, skip: 40, times: 40 });
    proxy.inject({
      operation: 'TransactWriteItems',
      fault: { type: 'dropResponse' },
      skip: 5,
      times: 15,
    });
    proxy.inject({
      operation: 'TransactWriteItems',
      fault: { type: 'throttle' },
      skip: 60,
      times: 40,
    });
    proxy.inject({ operation: 'GetItem', fault: { type: 'serverError' }, skip: 30, times: 20 });
    let split = false;
    mapping = await startEventSourceMapping({
      source: {
        type: 'dynamodb-streams',
        streamArn: server.streamArn,
        clientConfig: server.clientConfig,
      },
      handlerModule: HANDLER,
      execArgv: ['--conditions=source'],
      environment: {
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      },
      functionLogs: 'ignore',
      batchSize: 10,
      parallelizationFactor: 10,
      functionResponseTypes: ['ReportBatchItemFailures'],
      maximumRetryAttempts: 1,
      onFailure: (_record, event) => {
        discarded.push(...event.Records);
      },
      maximumConcurrency: 6,
      timeoutMs: 2500,
      duplicateBatchProbability: 0.15,
      killProbability: 0.05,
      killWithinMs: 150,
      timeoutProbability: 0.02,
      pollIntervalMs: 50,
      discoveryIntervalMs: 300,
      retryDelayMs: 20,
      seed: 17,
      reshards: [
        { afterInvocations: 6, run: () => server.rollover() },
        {
          afterInvocations: 24,
          run: () => {
            const open = server.shards().find((s) => s.endingSequenceNumber === undefined)!;
            server.split(open.shardId);
            split = true;
          },
        },
      ],
    });

    // act: users created, changed (group, active flag, name) and deleted, in three rounds
    let n = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 60; i++) {
        const user = random() < 0.3 ? Math.floor(random() * 4) : Math.floor(random() * 40);
        if (await writeRandomUserChange(dynamodb, random, `user-${user}`, n)) n++;
      }
      await server.sync();
      if (round === 1) await mapping.drained({ timeoutMs: 40_000 });
    }
    await server.sync();
    await mapping.drained({ timeoutMs: 60_000 });
    const stats = mapping.stats();
    await mapping.stop();
    mapping = undefined;
    // The dead-letter replay: the discarded batches' records, shuffled, delivered twice, by
    // the same handler code with a client that goes straight to DynamoDB.
    proxy.clear();
    const replay = createDynamoDBHandler({ sink: createProjectionSink(dynamodb) });
    const shuffled = [...discarded, ...discarded]
      .map((record) => ({ record, rank: random() }))
      .sort((a, b) => a.rank - b.rank)
      .map((x) => x.record);
    for (let i = 0; i < shuffled.length; i += 7) {
      const event = { Records: shuffled.slice(i, i + 7) } as DynamoDBStreamEvent;
      const response = await replay(event as never);
      expect(response?.batchItemFailures ?? []).toEqual([]);
    }

    // assert: the faults, reshards and discards happened
    console.log('projection mapping', JSON.stringify(stats), `discarded ${discarded.length}`);
    expect(split).toBe(true);
    expect(stats.kills + stats.timeouts).toBeGreaterThan(0);
    expect(stats.duplicates).toBeGreaterThan(0);
    expect(Math.max(...Object.values(stats.maxConcurrentByShard))).toBeGreaterThan(1);
    expect(proxy.faulted('*')).toBeGreaterThan(0);
    expect(discarded.length).toBeGreaterThan(0);
    // the property
    const expected = await expectedProjections(dynamodb);
    expect(expected.copy.length).toBeGreaterThan(5);
    expect(await scanTable(dynamodb, COPY_TABLE)).toEqual(expected.copy);
    expect(await scanTable(dynamodb, BY_GROUP_TABLE)).toEqual(expected.byGroup);
  }, 120_000);
});
