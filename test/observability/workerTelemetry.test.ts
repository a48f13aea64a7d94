/**
 * What a worker reports without any wiring by hand: the events of its sources (trimmed data,
 * re-acquired iterators, throttling) reach its event bus, `/metrics` (scraped over HTTP) and its
 * logs, each log line naming the shard once; and the lag gauge stays true when a shard is idle,
 * stuck, ended or lost.
 *
 * Real servers: DynamoDB Local feeding the multi-shard DynamoDB Streams server (rollovers,
 * retention trimming, iterator expiry as on AWS), kinesalite behind the fault proxy (throttling
 * and expired iterators in the service's own error format).
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { type ChangeRecord, type ShardlineEventMap, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import {
  type DynamoDBLocalServer,
  type FaultProxy,
  type KinesaliteServer,
  type MultiShardStreamsServer,
  startDynamoDBLocal,
  startFaultProxy,
  startKinesalite,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import { createWorker, InMemoryLeaseStore, type Worker } from '@shardline/worker';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../guarantees/helpers/fleet.js';
import { capturedLogger, keyCount, type Sample, samplesOf, scrape } from './helpers/scrape.js';

/** Label names any Shardline series may carry: none holds a sequence number or a key. */
const LABEL_NAMES = new Set(['stream', 'shard', 'reason', 'policy', 'action', 'le']);

let dynamo: DynamoDBLocalServer;
let ddb: DynamoDBClient;
let tables = 0;
const workers: Worker[] = [];
const servers: MultiShardStreamsServer[] = [];
const clients: { destroy(): void }[] = [];

beforeAll(async () => {
  dynamo = await startDynamoDBLocal();
  ddb = new DynamoDBClient(dynamo.clientConfig);
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await s.close();
});

afterAll(async () => {
  ddb?.destroy();
  await dynamo?.stop();
});

/** A table with a stream, served by a multi-shard server with these options. */
async function multiShardTable(options: {
  shardCount: number;
  retentionMs?: number;
  iteratorTtlMs?: number;
}) {
  const tableName = `Obs${++tables}`;
  const table = await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const server = await startMultiShardStreamsServer({
    source: dynamo.clientConfig,
    sourceStreamArn: table.TableDescription?.LatestStreamArn ?? '',
    seed: tables,
    ...options,
  });
  servers.push(server);
  const streams = new DynamoDBStreamsClient(server.clientConfig);
  clients.push(streams);
  const put = async (id: string, n = 1) => {
    const input: PutItemCommandInput = {
      TableName: tableName,
      Item: { id: { S: id }, n: { N: String(n) } },
    };
    await ddb.send(new PutItemCommand(input));
  };
  return { server, streams, put, streamArn: server.streamArn };
}

/** Every label of every sample is one Shardline allows, and none holds a sequence number. */
function expectNoPerRecordLabels(samples: readonly Sample[], sequenceNumbers: Set<string>) {
  for (const s of samples.filter((x) => x.name.startsWith('shardline_'))) {
    for (const [name, value] of Object.entries(s.labels)) {
      expect(LABEL_NAMES, `${s.name} label ${name}`).toContain(name);
      expect(sequenceNumbers.has(value), `${s.name}{${name}="${value}"}`).toBe(false);
    }
  }
}

/** Every log line names the shard at most once (pino writes a key twice when bound twice). */
function expectShardIdOnce(lines: readonly string[]) {
  const twice = lines.filter((l) => keyCount(l, 'shardId') > 1);
  expect(twice).toEqual([]);
}

describe('a worker on DynamoDB Streams reports what its source sees, with no wiring by hand', () => {
  it('trimmed data and re-acquired iterators reach the event bus, /metrics and the logs with shardId', async () => {
    // arrange: records written, a checkpoint after the first of a shard, then that shard's
    // records trimmed (as after a day down) and more written; iterators expire between reads.
    const { server, streams, put, streamArn } = await multiShardTable({
      shardCount: 2,
      retentionMs: 1000,
      iteratorTtlMs: 100,
    });
    for (let i = 0; i < 8; i++) await put(`old-${i}`);
    await server.sync();
    const plain = new DynamoDBStreamsSource({ client: streams, streamArn });
    const [shard] = server.shards().filter((s) => s.recordCount >= 2);
    const shardId = shard!.shardId;
    const first = (await (await plain.openShard(shardId, { type: 'TRIM_HORIZON' })).next())
      .records[0]!;
    const leaseStore = new InMemoryLeaseStore();
    await leaseStore.createLeaseIfNotExists({
      leaseKey: leaseStore.leaseKeyFor(streamArn, shardId),
      streamId: streamArn,
      shardId,
      checkpoint: { sequenceNumber: first.sequenceNumber },
      parentShardIds: [],
      childShardIds: [],
    });
    await sleep(1100);
    server.trim();
    for (let i = 0; i < 8; i++) await put(`new-${i}`);
    await server.sync();
    const { logger, lines } = capturedLogger();
    const seen: ChangeRecord[] = [];
    const worker = createWorker({
      applicationName: 'obs-trim',
      // The source is given no events, metrics or logger: the worker hands its own.
      sources: new DynamoDBStreamsSource({
        client: streams,
        streamArn,
        trimmedDataPolicy: 'skip-to-trim-horizon',
      }),
      leaseStore,
      handler: (r) => {
        seen.push(r);
      },
      httpPort: 0,
      logger,
      takeIntervalMs: 100,
      idlePollIntervalMs: 150,
      commitIntervalMs: 100,
    });
    workers.push(worker);
    const trimmed: ShardlineEventMap['shard.dataTrimmed'][] = [];
    const reacquired: ShardlineEventMap['shard.iteratorReacquired'][] = [];
    worker.events.on('shard.dataTrimmed', (e) => trimmed.push(e));
    worker.events.on('shard.iteratorReacquired', (e) => reacquired.push(e));
    // act
    await worker.start();
    await until(
      () => seen.filter((r) => String(r.keys?.id).startsWith('new-')).length === 8,
      30_000,
      'the new records processed',
    );
    await until(() => reacquired.length > 0, 30_000, 'an iterator re-acquired');
    const samples = await scrape(worker.httpPort);
    // assert: the event bus
    expect(trimmed).toEqual([
      expect.objectContaining({
        streamId: streamArn,
        shardId,
        afterSequenceNumber: first.sequenceNumber,
        policy: 'skip-to-trim-horizon',
      }),
    ]);
    // /metrics
    expect(
      samplesOf(samples, 'shardline_shard_data_trimmed_total', {
        stream: streamArn,
        shard: shardId,
        policy: 'skip-to-trim-horizon',
      }).map((s) => s.value),
    ).toEqual([1]);
    const reacquiredTotal = samplesOf(samples, 'shardline_iterator_reacquired_total', {
      stream: streamArn,
    });
    expect(reacquiredTotal.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(1);
    // the logs: the warning names the shard (once) and both ends of the gap
    const warning = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.msg).includes('trimmed'));
    expect(warning).toMatchObject({
      shardId,
      streamId: streamArn,
      afterSequenceNumber: first.sequenceNumber,
    });
    expect(lines.some((l) => l.includes('shard iterator expired') && l.includes(`"shardId"`))).toBe(
      true,
    );
    expectShardIdOnce(lines);
    const sequenceNumbers = new Set([first.sequenceNumber, ...seen.map((r) => r.sequenceNumber)]);
    expectNoPerRecordLabels(samples, sequenceNumbers);
  }, 60_000);
});

describe('the lag gauge (shardline_iterator_age_milliseconds) stays true', () => {
  it('is 0 for an idle shard read to its tip, and grows with wall time while a shard is stuck', async () => {
    // arrange: two shards; the handler fails every change of one item for good, so its shard
    // retries that page forever (nothing is skipped) while the other goes idle.
    const { server, streams, put, streamArn } = await multiShardTable({ shardCount: 2 });
    await server.sync();
    const worker = createWorker({
      applicationName: 'obs-lag',
      sources: new DynamoDBStreamsSource({ client: streams, streamArn }),
      leaseStore: new InMemoryLeaseStore(),
      handler: (r) => {
        if (r.keys?.id === 'stuck') throw new Error('this item never goes through');
      },
      retry: { maxAttempts: 1 },
      httpPort: 0,
      logger: capturedLogger().logger,
      takeIntervalMs: 100,
      idlePollIntervalMs: 100,
    });
    workers.push(worker);
    const failed: string[] = [];
    worker.events.on('record.failed', (e) => failed.push(e.shardId));
    await worker.start();
    await until(() => worker.ownedLeaseKeys().length === 2, 30_000, 'both shards leased');
    // act
    await put('stuck');
    await server.sync();
    await until(() => failed.length > 0, 30_000, 'the stuck record failed');
    const stuckShard = failed[0]!;
    const idleShard = server.shards().find((s) => s.shardId !== stuckShard)!.shardId;
    const lagOf = async (shard: string) =>
      samplesOf(await scrape(worker.httpPort), 'shardline_iterator_age_milliseconds', {
        stream: streamArn,
        shard,
      }).map((s) => s.value);
    await until(async () => (await lagOf(idleShard))[0] === 0, 30_000, 'idle shard lag 0');
    const before = Date.now();
    const [first] = await lagOf(stuckShard);
    const afterFirst = Date.now();
    await sleep(1500);
    const beforeSecond = Date.now();
    const [second] = await lagOf(stuckShard);
    // assert: the idle shard is at its tip; the stuck one fell behind by at least the wall
    // time between the two scrapes, though it read no new page in between.
    expect(await lagOf(idleShard)).toEqual([0]);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second! - first!).toBeGreaterThanOrEqual(beforeSecond - afterFirst);
    expect(afterFirst).toBeGreaterThanOrEqual(before);
  }, 60_000);

  it('is removed for a shard that ended and for a shard whose lease was lost', async () => {
    // arrange
    const { server, streams, put, streamArn } = await multiShardTable({ shardCount: 2 });
    for (let i = 0; i < 6; i++) await put(`item-${i}`);
    await server.sync();
    const leaseStore = new InMemoryLeaseStore();
    const worker = createWorker({
      applicationName: 'obs-gone',
      sources: new DynamoDBStreamsSource({ client: streams, streamArn }),
      leaseStore,
      handler: () => {},
      httpPort: 0,
      logger: capturedLogger().logger,
      leaseDurationMs: 3000,
      takeIntervalMs: 100,
      discoveryIntervalMs: 200,
      idlePollIntervalMs: 100,
      commitIntervalMs: 100,
    });
    workers.push(worker);
    const stopped: ShardlineEventMap['shard.stopped'][] = [];
    worker.events.on('shard.stopped', (e) => stopped.push(e));
    await worker.start();
    const [ending, losing] = server.shards().map((s) => s.shardId) as [string, string];
    const gauges = async () =>
      samplesOf(await scrape(worker.httpPort), 'shardline_iterator_age_milliseconds', {
        stream: streamArn,
      }).map((s) => s.labels.shard);
    await until(
      async () => (await gauges()).includes(ending) && (await gauges()).includes(losing),
      30_000,
      'both shards have a lag',
    );
    // act: one shard rolls over (ends, its child is read); another worker takes the other lease
    const [child] = server.rollover(ending);
    await until(async () => (await gauges()).includes(child!), 30_000, 'the child is read');
    const lease = (await leaseStore.listLeases()).find((l) => l.shardId === losing)!;
    await leaseStore.takeLease(lease.leaseKey, 'another-worker', lease.leaseCounter);
    await until(() => stopped.some((e) => e.shardId === losing), 30_000, 'the lost shard stopped');
    const samples = await scrape(worker.httpPort);
    // assert
    expect(stopped).toEqual(
      expect.arrayContaining([
        { streamId: streamArn, shardId: ending, reason: 'ended' },
        { streamId: streamArn, shardId: losing, reason: 'lost' },
      ]),
    );
    const shardsWith = (name: string) =>
      samplesOf(samples, name, { stream: streamArn }).map((s) => s.labels.shard);
    expect(shardsWith('shardline_iterator_age_milliseconds')).toEqual([child]);
    expect(shardsWith('shardline_checkpoint_age_seconds')).toEqual([child]);
  }, 60_000);
});

describe('a worker on Kinesis reports what its source sees, with no wiring by hand', () => {
  let kinesalite: KinesaliteServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    kinesalite = await startKinesalite();
    proxy = await startFaultProxy({ target: kinesalite.endpoint, service: 'kinesis' });
  });

  afterAll(async () => {
    await proxy?.stop();
    await kinesalite?.stop();
  });

  it('expired iterators and throttled reads reach the event bus, /metrics and the logs with shardId', async () => {
    // arrange
    const admin = new KinesisClient(kinesalite.clientConfig);
    clients.push(admin);
    await admin.send(new CreateStreamCommand({ StreamName: 'obs', ShardCount: 1 }));
    await until(async () => {
      const out = await admin.send(new DescribeStreamSummaryCommand({ StreamName: 'obs' }));
      return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
    });
    const client = new KinesisClient({
      ...proxy.clientConfig,
      requestHandler: new NodeHttpHandler(),
    });
    clients.push(client);
    const source = await KinesisSource.create({ client, streamName: 'obs' });
    const { logger, lines } = capturedLogger();
    let processed = 0;
    const worker = createWorker({
      applicationName: 'obs-kinesis',
      sources: source,
      leaseStore: new InMemoryLeaseStore(),
      handler: () => {
        processed++;
      },
      httpPort: 0,
      logger,
      takeIntervalMs: 100,
      idlePollIntervalMs: 100,
    });
    workers.push(worker);
    const reacquired: ShardlineEventMap['shard.iteratorReacquired'][] = [];
    const throttled: ShardlineEventMap['shard.throttled'][] = [];
    worker.events.on('shard.iteratorReacquired', (e) => reacquired.push(e));
    worker.events.on('shard.throttled', (e) => throttled.push(e));
    await worker.start();
    await until(() => worker.ownedLeaseKeys().length === 1, 30_000, 'the shard leased');
    // act
    proxy.inject({ operation: 'GetRecords', fault: { type: 'expiredIterator' }, times: 1 });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'throttle' }, times: 2 });
    for (let i = 0; i < 5; i++) {
      await admin.send(
        new PutRecordCommand({ StreamName: 'obs', PartitionKey: `k${i}`, Data: Buffer.from('x') }),
      );
    }
    await until(() => processed === 5, 30_000, 'the records processed');
    await until(() => reacquired.length > 0 && throttled.length >= 2, 30_000, 'both faults seen');
    const samples = await scrape(worker.httpPort);
    // assert
    const shard = 'shardId-000000000000';
    expect(reacquired[0]).toMatchObject({ streamId: source.streamId, shardId: shard });
    const total = (name: string) =>
      samplesOf(samples, name, { stream: source.streamId, shard }).reduce((n, s) => n + s.value, 0);
    expect(total('shardline_iterator_reacquired_total')).toBeGreaterThanOrEqual(1);
    expect(total('shardline_read_throttled_total')).toBeGreaterThanOrEqual(2);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ shardId: shard, msg: expect.stringContaining('expired') }),
        expect.objectContaining({ shardId: shard, msg: expect.stringContaining('backing off') }),
      ]),
    );
    expectShardIdOnce(lines);
    expectNoPerRecordLabels(samples, new Set());
  }, 60_000);
});
