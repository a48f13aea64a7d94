/**
 * The worker's processor remembers only what a source may send again (`remember: 'redelivered'`,
 * e1d1484): that is right only if a shard's consumer never hands its processor a record it
 * already applied. Property: one worker that keeps its leases (no restart, no handover) applies
 * every change of a stream exactly once, in handler, per-key batch handler and sink mode, while
 * its reads meet expired iterators (the service's own expiry and injected ones), throttling,
 * 5xx, connections dropped before and after the service answered, shard rollovers (DynamoDB
 * Streams), KPL aggregates (Kinesis), and records that fail their first try (retry rounds of
 * the consumer, partial sink chunks). Nothing here drops a repeat for the worker: a repeat
 * would be applied twice.
 *
 * Real servers: DynamoDB Local feeding the multi-shard DynamoDB Streams server, kinesalite, both
 * behind the fault proxy; kinesalite behind the enhanced fan-out double (subscriptions ended
 * and connections dropped every few events).
 */
import { createHash } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { type ChangeRecord, type ShardSource, type Sink, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import {
  type DynamoDBLocalServer,
  type FaultProxy,
  type FaultRule,
  type KinesaliteServer,
  type KinesisFanOutDouble,
  seededRandom,
  startDynamoDBLocal,
  startFaultProxy,
  startKinesalite,
  startKinesisFanOutDouble,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import {
  createWorker,
  InMemoryLeaseStore,
  type Worker,
  type WorkerOptions,
} from '@shardline/worker';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStream, kplAggregate } from '../../packages/kinesis/tests/helpers/kinesis.js';
import { until } from './helpers/fleet.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const workers: Worker[] = [];
const closers: (() => unknown)[] = [];
let dynamo: DynamoDBLocalServer;
let kinesalite: KinesaliteServer;

beforeAll(async () => {
  [dynamo, kinesalite] = await Promise.all([startDynamoDBLocal(), startKinesalite()]);
}, 60_000);

afterEach(async () => {
  seen.reacquired = 0;
  seen.failed = 0;
  for (const w of workers.splice(0)) await w.stop();
  for (const close of closers.splice(0).reverse()) await close();
});

afterAll(async () => {
  await dynamo?.stop();
  await kinesalite?.stop();
});

/** 0–99 from an id: which records fail their first try, the same in every mode. */
const bucket = (id: string) => createHash('md5').update(id).digest()[0]! % 100;

/** Keeps injecting seeded bursts of read faults until stopped. */
function keepFaulting(proxy: FaultProxy, seed: number): () => void {
  const random = seededRandom(seed);
  const menu: FaultRule['fault'][] = [
    { type: 'throttle' },
    { type: 'expiredIterator' },
    { type: 'expiredIterator' },
    { type: 'serverError' },
    { type: 'drop' },
    { type: 'dropResponse' },
  ];
  // About one GetRecords call in six faulted: reads go on between the faults.
  let injected = 0;
  const timer = setInterval(() => {
    while (injected < proxy.calls('GetRecords') / 6) {
      proxy.inject({
        operation: 'GetRecords',
        fault: menu[Math.floor(random() * menu.length)]!,
        skip: Math.floor(random() * 4),
      });
      injected++;
    }
  }, 50);
  return () => clearInterval(timer);
}

type Mode = 'handler' | 'keyBatchHandler' | 'sink';
const MODES: readonly Mode[] = ['handler', 'keyBatchHandler', 'sink'];

/**
 * A worker in `mode` over `source`, counting applications per event id in `applied`. A record
 * whose bucket is below 20 fails its first try (no retry within the batch: the consumer's next
 * round takes it).
 */
function startWorker(mode: Mode, source: ShardSource, applied: Map<string, number>): Worker {
  const tried = new Set<string>();
  const failsFirst = (r: ChangeRecord) => {
    if (bucket(r.eventId) >= 20 || tried.has(r.eventId)) return false;
    tried.add(r.eventId);
    return true;
  };
  const apply = (r: ChangeRecord) => applied.set(r.eventId, (applied.get(r.eventId) ?? 0) + 1);
  const sink: Sink = {
    name: 'counting',
    maxBatchSize: 3,
    write: async (records) => {
      await sleep(1);
      return records.map((r) => {
        if (failsFirst(r)) {
          return { status: 'failed', error: new Error('first try'), retriable: true } as const;
        }
        apply(r);
        return { status: 'ok' } as const;
      });
    },
  };
  const byMode: Record<Mode, Partial<WorkerOptions>> = {
    handler: {
      handler: async (r: ChangeRecord) => {
        await sleep(bucket(r.eventId) % 3);
        if (failsFirst(r)) throw new Error('first try');
        apply(r);
      },
    },
    keyBatchHandler: {
      keyBatchHandler: async (records: ChangeRecord[]) => {
        await sleep(1);
        if (records.some(failsFirst)) throw new Error('first try');
        for (const r of records) apply(r);
      },
    },
    sink: { sink },
  };
  const worker = createWorker({
    applicationName: `once-${mode}`,
    sources: source,
    leaseStore: new InMemoryLeaseStore(),
    retry: { maxAttempts: 1 },
    concurrency: 4,
    leaseDurationMs: 60_000,
    renewIntervalMs: 1000,
    takeIntervalMs: 50,
    discoveryIntervalMs: 150,
    commitIntervalMs: 50,
    minReadIntervalMs: 5,
    idlePollIntervalMs: 20,
    logger: silent,
    ...byMode[mode],
  } as WorkerOptions);
  worker.events.on('shard.iteratorReacquired', () => seen.reacquired++);
  worker.events.on('record.failed', () => seen.failed++);
  workers.push(worker);
  return worker;
}

/** What the workers of a test met: iterators re-acquired, records failed (a retry round). */
const seen = { reacquired: 0, failed: 0 };

/** Per mode: records applied, and applications beyond the first. */
function progress(applied: ReadonlyMap<Mode, Map<string, number>>): string {
  return [...applied]
    .map(([mode, counts]) => {
      let again = 0;
      for (const n of counts.values()) again += n - 1;
      return `${mode} ${counts.size} applied, ${again} again`;
    })
    .join('; ');
}

/** Waits until every mode applied `count` records (saying how far each got if not). */
async function untilApplied(
  applied: ReadonlyMap<Mode, Map<string, number>>,
  count: number,
): Promise<void> {
  await until(
    () => [...applied.values()].every((m) => m.size >= count),
    90_000,
    `all ${count} records applied in every mode`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${progress(applied)}`);
  });
}

/** Each mode applied the same `count` records, each once: the repeats found, if any. */
function expectOnce(applied: ReadonlyMap<Mode, Map<string, number>>, count: number) {
  const ids = new Set(applied.get('handler')!.keys());
  expect(ids.size).toBe(count);
  for (const [mode, counts] of applied) {
    const twice = [...counts].filter(([, n]) => n !== 1).map(([id, n]) => `${id} x${n}`);
    expect(twice, `${mode}: applied more than once`).toEqual([]);
    expect(new Set(counts.keys()), `${mode}: applied`).toEqual(ids);
  }
}

describe('a worker that keeps its leases applies each change once (remember: redelivered)', () => {
  it('DynamoDB Streams: expiring iterators, read faults, rollovers, retry rounds', {
    timeout: 120_000,
  }, async () => {
    // arrange: a 2-shard stream whose iterators expire after 150 ms, behind the fault proxy
    const ddb = new DynamoDBClient(dynamo.clientConfig);
    closers.push(() => ddb.destroy());
    const table = await ddb.send(
      new CreateTableCommand({
        TableName: 'Once',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const server = await startMultiShardStreamsServer({
      source: dynamo.clientConfig,
      sourceStreamArn: table.TableDescription?.LatestStreamArn ?? '',
      shardCount: 2,
      iteratorTtlMs: 150,
      seed: 7,
    });
    closers.push(() => server.close());
    const proxy = await startFaultProxy({ target: server.endpoint, service: 'dynamodb-streams' });
    closers.push(() => proxy.stop());
    const applied = new Map<Mode, Map<string, number>>(MODES.map((m) => [m, new Map()]));
    for (const mode of MODES) {
      const streams = new DynamoDBStreamsClient(proxy.clientConfig);
      closers.push(() => streams.destroy());
      startWorker(
        mode,
        new DynamoDBStreamsSource({
          client: streams,
          streamArn: server.streamArn,
          maxRecordsPerRead: 7,
        }),
        applied.get(mode)!,
      );
    }
    const stopFaults = keepFaulting(proxy, 11);
    closers.push(stopFaults);
    // act: write while the workers read; every shard rolls over twice mid-run
    await Promise.all(workers.map((w) => w.start()));
    const writes = 180;
    for (let i = 0; i < writes; i++) {
      await ddb.send(
        new PutItemCommand({
          TableName: 'Once',
          Item: { id: { S: `item-${i % 23}` }, n: { N: String(i) } },
        }),
      );
      if (i % 60 === 30) server.rollover();
      if (i % 10 === 0) await sleep(30);
    }
    await server.sync();
    await untilApplied(applied, writes);
    // Idle reads go on through the proxy: a fast drain may end before 20 faults were injected.
    await until(() => proxy.faulted('*') > 20, 60_000, 'more than 20 faults injected');
    stopFaults();
    // let anything that would apply a record again do it
    await sleep(1500);
    // assert
    expect(proxy.faulted('*')).toBeGreaterThan(20);
    expect(seen.reacquired).toBeGreaterThan(0);
    expect(seen.failed).toBeGreaterThan(0);
    expect(server.shards().length).toBeGreaterThanOrEqual(6);
    expectOnce(applied, writes);
  });

  it('Kinesis: KPL aggregates, expired iterators, read faults, retry rounds', {
    timeout: 120_000,
  }, async () => {
    // arrange: a 2-shard stream of plain records and KPL aggregates, behind the fault proxy
    const proxy = await startFaultProxy({ target: kinesalite.endpoint, service: 'kinesis' });
    closers.push(() => proxy.stop());
    const direct = new KinesisClient({
      ...kinesalite.clientConfig,
      requestHandler: new NodeHttpHandler(),
    });
    closers.push(() => direct.destroy());
    await createStream(direct, 'once', 2);
    const applied = new Map<Mode, Map<string, number>>(MODES.map((m) => [m, new Map()]));
    for (const mode of MODES) {
      const client = new KinesisClient({
        ...proxy.clientConfig,
        requestHandler: new NodeHttpHandler(),
      });
      closers.push(() => client.destroy());
      startWorker(
        mode,
        await KinesisSource.create({ client, streamName: 'once', maxRecordsPerRead: 5 }),
        applied.get(mode)!,
      );
    }
    const stopFaults = keepFaulting(proxy, 23);
    closers.push(stopFaults);
    // act
    await Promise.all(workers.map((w) => w.start()));
    const userRecords = await putKinesisRecords(direct, 'once');
    await untilApplied(applied, userRecords);
    // Idle reads go on through the proxy: a fast drain may end before 20 faults were injected.
    await until(() => proxy.faulted('*') > 20, 60_000, 'more than 20 faults injected');
    stopFaults();
    await sleep(1500);
    // assert
    expect(proxy.faulted('*')).toBeGreaterThan(20);
    expect(seen.reacquired).toBeGreaterThan(0);
    expect(seen.failed).toBeGreaterThan(0);
    expectOnce(applied, userRecords);
  });

  it('Kinesis enhanced fan-out: subscriptions ended and connections dropped, KPL aggregates, retry rounds', {
    timeout: 120_000,
  }, async () => {
    // arrange: subscriptions end every 300 ms (AWS: 5 minutes) and carry 3 records an event
    const efo: KinesisFanOutDouble = await startKinesisFanOutDouble({
      kinesisEndpoint: kinesalite.endpoint,
      consumerActivationDelayMs: 50,
      subscriptionDurationMs: 300,
      minSubscribeIntervalMs: 50,
      recordsPerEvent: 3,
      emptyEventIntervalMs: 100,
    });
    closers.push(() => efo.stop());
    const direct = new KinesisClient({
      ...kinesalite.clientConfig,
      requestHandler: new NodeHttpHandler(),
    });
    closers.push(() => direct.destroy());
    await createStream(direct, 'once-efo', 2);
    const applied = new Map<Mode, Map<string, number>>(MODES.map((m) => [m, new Map()]));
    for (const mode of MODES) {
      const client = new KinesisClient(efo.clientConfig);
      closers.push(() => client.destroy());
      startWorker(
        mode,
        await KinesisSource.create({
          client,
          streamName: 'once-efo',
          retrieval: 'fan-out',
          consumerName: `once-efo-${mode}`,
        }),
        applied.get(mode)!,
      );
    }
    let dropped = 0;
    const dropping = setInterval(() => {
      dropped += efo.dropConnections();
    }, 170);
    closers.push(() => clearInterval(dropping));
    // act
    await Promise.all(workers.map((w) => w.start()));
    const userRecords = await putKinesisRecords(direct, 'once-efo');
    await untilApplied(applied, userRecords);
    // Subscriptions are renewed while idle too: a fast drain may end before 12 were.
    await until(
      () => efo.subscribeCalls.filter((c) => c.outcome === 'ok').length > 12 && dropped > 0,
      60_000,
      'more than 12 subscriptions and a dropped connection',
    );
    clearInterval(dropping);
    await sleep(1500);
    // assert: subscriptions were renewed many times, mid-stream too
    expect(efo.subscribeCalls.filter((c) => c.outcome === 'ok').length).toBeGreaterThan(12);
    expect(dropped).toBeGreaterThan(0);
    expect(seen.failed).toBeGreaterThan(0);
    expectOnce(applied, userRecords);
  });
});

/** 60 puts, every third a KPL aggregate of 4 user records: returns the user records put. */
async function putKinesisRecords(client: KinesisClient, streamName: string): Promise<number> {
  let userRecords = 0;
  for (let i = 0; i < 60; i++) {
    if (i % 3 === 0) {
      const users = Array.from({ length: 4 }, (_, j) => ({
        partitionKey: `k-${(i + j) % 11}`,
        data: `agg-${i}-${j}`,
      }));
      const [encoded] = await kplAggregate(users);
      await client.send(
        new PutRecordCommand({
          StreamName: streamName,
          PartitionKey: encoded!.partitionKey,
          Data: encoded!.data,
        }),
      );
      userRecords += users.length;
    } else {
      await client.send(
        new PutRecordCommand({
          StreamName: streamName,
          PartitionKey: `k-${i % 11}`,
          Data: Buffer.from(`plain-${i}`),
        }),
      );
      userRecords++;
    }
    if (i % 10 === 0) await sleep(40);
  }
  return userRecords;
}
