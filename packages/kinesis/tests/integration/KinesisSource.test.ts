import {
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import {
  BatchProcessor,
  type ChangeRecord,
  type Checkpoint,
  compareSequenceNumbers,
  EventBus,
  InMemoryMetrics,
  ShardConsumer,
  type ShardlineEventMap,
  type StartPosition,
  type StreamPosition,
} from '@shardline/core';
import {
  type FaultProxy,
  type KinesaliteServer,
  startFaultProxy,
  startKinesalite,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKeyOf, KinesisSource } from '../../src/index.js';
import { createStream, kplAggregate, readStream, waitActive } from '../helpers/kinesis.js';

let server: KinesaliteServer;
let proxy: FaultProxy;
let client: KinesisClient;
let proxied: KinesisClient;

beforeAll(async () => {
  server = await startKinesalite();
  proxy = await startFaultProxy({ target: server.endpoint, service: 'kinesis' });
  client = new KinesisClient(server.clientConfig);
  proxied = new KinesisClient(proxy.clientConfig);
});

afterAll(async () => {
  client?.destroy();
  proxied?.destroy();
  await proxy?.stop();
  await server?.stop();
});

async function put(stream: string, partitionKey: string, data: string | Uint8Array) {
  return client.send(
    new PutRecordCommand({
      StreamName: stream,
      PartitionKey: partitionKey,
      Data: typeof data === 'string' ? Buffer.from(data) : data,
    }),
  );
}

function collect<K extends keyof ShardlineEventMap>(events: EventBus, type: K) {
  const seen: ShardlineEventMap[K][] = [];
  events.on(type, (event) => seen.push(event));
  return seen;
}

/** Per partition key, the payload counters in the order they were handled. */
function byKey(records: readonly ChangeRecord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of records) {
    const list = out.get(r.partitionKey!) ?? [];
    list.push(Number(Buffer.from(r.data!).toString()));
    out.set(r.partitionKey!, list);
  }
  return out;
}

const text = (r: ChangeRecord) => Buffer.from(r.data!).toString();

describe('KinesisSource on kinesalite', () => {
  it('reads every record exactly once, each key in write order, across a split and a merge made while writing', async () => {
    // arrange
    const stream = 'reshard';
    await createStream(client, stream, 2);
    const source = await KinesisSource.create({ client, streamName: stream });
    const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
    const written = new Map<string, number[]>(keys.map((k) => [k, []]));
    let total = 0;
    const write = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const key = keys[total % keys.length]!;
        const counter = written.get(key)!.length;
        written.get(key)!.push(counter);
        total++;
        await put(stream, key, String(counter));
      }
    };
    let splitDone!: () => void;
    const afterSplit = new Promise<void>((resolve) => {
      splitDone = resolve;
    });
    const reshard = async () => {
      await write(150);
      const [first] = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards!;
      const low = BigInt(first!.HashKeyRange!.StartingHashKey!);
      const high = BigInt(first!.HashKeyRange!.EndingHashKey!);
      await client.send(
        new SplitShardCommand({
          StreamName: stream,
          ShardToSplit: first!.ShardId!,
          NewStartingHashKey: ((low + high) / 2n).toString(),
        }),
      );
      await waitActive(client, stream);
      await write(150);
      splitDone();
      // merge the upper half of the split with the original second shard: adjacent ranges
      await client.send(
        new MergeShardsCommand({
          StreamName: stream,
          ShardToMerge: 'shardId-000000000003',
          AdjacentShardToMerge: 'shardId-000000000001',
        }),
      );
      await waitActive(client, stream);
      await write(150);
    };
    // act: start reading with a backlog on both generations, then merge and write on
    const [read] = await Promise.all([
      afterSplit.then(() => readStream({ source, expected: 450 })),
      reshard(),
    ]);
    // assert
    const shards = await source.listShards();
    expect(shards.map((s) => [s.shardId, s.parentShardIds])).toEqual([
      ['shardId-000000000000', []],
      ['shardId-000000000001', []],
      ['shardId-000000000002', ['shardId-000000000000']],
      ['shardId-000000000003', ['shardId-000000000000']],
      ['shardId-000000000004', ['shardId-000000000003', 'shardId-000000000001']],
    ]);
    expect(read.records).toHaveLength(450);
    expect(byKey(read.records)).toEqual(written);
    expect(read.childrenAtEnd.get('shardId-000000000000')).toEqual([
      'shardId-000000000002',
      'shardId-000000000003',
    ]);
    expect(read.childrenAtEnd.get('shardId-000000000001')).toEqual(['shardId-000000000004']);
    expect(read.started.indexOf('shardId-000000000004')).toBeGreaterThan(
      read.started.indexOf('shardId-000000000003'),
    );
  });

  it('reads KPL aggregates back as user records with sub-sequence numbers', async () => {
    // arrange
    const stream = 'kpl-read';
    await createStream(client, stream, 1);
    const users = Array.from({ length: 8 }, (_, i) => ({
      partitionKey: `p${i % 3}`,
      data: `u${i}`,
    }));
    const [aggregated] = await kplAggregate(users);
    await put(stream, aggregated!.partitionKey, aggregated!.data);
    await put(stream, 'plain', 'after');
    const source = await KinesisSource.create({ client, streamName: stream });
    // act
    const iterator = await source.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
    const page = await iterator.next();
    // assert
    expect(page.records.map(text)).toEqual([...users.map((u) => u.data), 'after']);
    expect(page.records.map((r) => r.subSequenceNumber)).toEqual([
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      undefined,
    ]);
    expect(page.records.slice(0, 8).map((r) => r.partitionKey)).toEqual(
      users.map((u) => u.partitionKey),
    );
    expect(new Set(page.records.slice(0, 8).map((r) => r.sequenceNumber)).size).toBe(1);
    expect(page.millisBehindLatest).toEqual(expect.any(Number));
  });

  it('restarts inside a KPL aggregate with no user record replayed or skipped', async () => {
    // arrange
    const stream = 'kpl-restart';
    await createStream(client, stream, 1);
    const users = Array.from({ length: 6 }, (_, i) => ({ partitionKey: 'k', data: `u${i}` }));
    const [aggregated] = await kplAggregate(users);
    await put(stream, 'k', 'before');
    const { SequenceNumber: aggregateSeq } = await put(
      stream,
      aggregated!.partitionKey,
      aggregated!.data,
    );
    await put(stream, 'k', 'after');
    const source = await KinesisSource.create({ client, streamName: stream });
    // act: a checkpoint taken after user record 2 of the aggregate
    const iterator = await source.openShard('shardId-000000000000', {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: aggregateSeq!,
      subSequenceNumber: 2,
    });
    const page = await iterator.next();
    // and a checkpoint after the aggregate's last user record
    const atEnd = await source.openShard('shardId-000000000000', {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: aggregateSeq!,
      subSequenceNumber: 5,
    });
    const pageAtEnd = await atEnd.next();
    // assert
    expect(page.records.map(text)).toEqual(['u3', 'u4', 'u5', 'after']);
    expect(page.records.map((r) => r.subSequenceNumber)).toEqual([3, 4, 5, undefined]);
    expect(pageAtEnd.records.map(text)).toEqual(['after']);
  });

  it('commits a checkpoint inside an aggregate on stop, and a restart from it reads the rest exactly once', async () => {
    // arrange
    const stream = 'kpl-consumer';
    await createStream(client, stream, 1);
    const users = Array.from({ length: 6 }, (_, i) => ({ partitionKey: 'k', data: `u${i}` }));
    const [aggregated] = await kplAggregate(users);
    await put(stream, 'k', 'before');
    await put(stream, aggregated!.partitionKey, aggregated!.data);
    await put(stream, 'k', 'after');
    const source = await KinesisSource.create({ client, streamName: stream });
    const shardId = 'shardId-000000000000';
    const run = async (from: StartPosition, stopAfter: number) => {
      const seen: string[] = [];
      const checkpoints: Checkpoint[] = [];
      const controller = new AbortController();
      const consumer = new ShardConsumer({
        source,
        shardId,
        from,
        processor: new BatchProcessor({
          handler: (record) => {
            seen.push(text(record));
            if (seen.length >= stopAfter) controller.abort();
          },
        }),
        commit: async (checkpoint) => {
          checkpoints.push(checkpoint);
        },
        minReadIntervalMs: 0,
        idleDelayMs: 10,
      });
      // Abort, not just stop: a stop finishes the page in hand; this test interrupts it.
      await consumer.run(controller.signal, controller.signal);
      return { seen, checkpoint: checkpoints.at(-1) as StreamPosition | undefined };
    };
    // act: stop after the third user record of the aggregate (the fourth record in all)
    const first = await run({ type: 'TRIM_HORIZON' }, 4);
    const second = await run(
      {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: first.checkpoint!.sequenceNumber,
        subSequenceNumber: first.checkpoint!.subSequenceNumber,
      },
      4,
    );
    // assert
    expect(first.seen).toEqual(['before', 'u0', 'u1', 'u2']);
    expect(first.checkpoint?.subSequenceNumber).toBe(2);
    expect(second.seen).toEqual(['u3', 'u4', 'u5', 'after']);
  });

  it('delivers KPL user records whose explicit hash key belongs to another shard, reporting each; skips them when told to', async () => {
    // arrange: an aggregate put with an outdated shard map, as an aggregator other than the KPL
    // leaves it (the KPL would put the misrouted user record again to its shard)
    const stream = 'kpl-hash';
    await createStream(client, stream, 2);
    const [first, second] = (await client.send(new ListShardsCommand({ StreamName: stream })))
      .Shards!;
    const mine = first!.HashKeyRange!.StartingHashKey!;
    const other = second!.HashKeyRange!.StartingHashKey!;
    const [aggregated] = await kplAggregate([
      { partitionKey: 'a', data: 'mine-1', explicitHashKey: mine },
      { partitionKey: 'b', data: 'other', explicitHashKey: other },
      { partitionKey: 'c', data: 'mine-2', explicitHashKey: mine },
    ]);
    const put = await client.send(
      new PutRecordCommand({
        StreamName: stream,
        PartitionKey: 'a',
        ExplicitHashKey: mine,
        Data: aggregated!.data,
      }),
    );
    const read = async (outOfRangeRecordPolicy?: 'deliver' | 'skip') => {
      const events = new EventBus();
      const metrics = new InMemoryMetrics();
      const reported: ShardlineEventMap['record.outOfRange'][] = [];
      events.on('record.outOfRange', (e) => reported.push(e));
      const source = await KinesisSource.create({
        client,
        streamName: stream,
        events,
        metrics,
        ...(outOfRangeRecordPolicy ? { outOfRangeRecordPolicy } : {}),
      });
      const shard = await source.openShard(first!.ShardId!, { type: 'TRIM_HORIZON' });
      return { page: await shard.next(), reported, metrics };
    };
    // act
    const byDefault = await read();
    const skipped = await read('skip');
    // assert
    expect(hashKeyOf('x', mine)).toBe(BigInt(mine));
    expect(byDefault.page.records.map(text)).toEqual(['mine-1', 'other', 'mine-2']);
    expect(byDefault.page.records.map((r) => r.subSequenceNumber)).toEqual([0, 1, 2]);
    expect(byDefault.reported).toEqual([
      {
        streamId: expect.stringContaining(`stream/${stream}`),
        shardId: first!.ShardId!,
        sequenceNumber: put.SequenceNumber!,
        subSequenceNumber: 1,
        partitionKey: 'b',
        explicitHashKey: other,
        hashKey: other,
        action: 'delivered',
      },
    ]);
    expect(
      byDefault.metrics.counter('kpl_user_records_out_of_range_total', {
        stream: byDefault.page.records[0]!.streamId,
        shard: first!.ShardId!,
        action: 'delivered',
      }),
    ).toBe(1);
    expect(skipped.page.records.map(text)).toEqual(['mine-1', 'mine-2']);
    expect(skipped.page.records.map((r) => r.subSequenceNumber)).toEqual([0, 2]);
    expect(skipped.reported.map((e) => [e.subSequenceNumber, e.action])).toEqual([[1, 'skipped']]);
  });

  it('starts at TRIM_HORIZON, LATEST, AT_TIMESTAMP, AT_ and AFTER_SEQUENCE_NUMBER', async () => {
    // arrange
    const stream = 'positions';
    await createStream(client, stream, 1);
    const shardId = 'shardId-000000000000';
    const first = await put(stream, 'k', 'one');
    const second = await put(stream, 'k', 'two');
    const source = await KinesisSource.create({ client, streamName: stream, payload: 'raw' });
    const latest = await source.openShard(shardId, { type: 'LATEST' });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // kinesalite's clock is in ms
    const timestamp = new Date();
    await put(stream, 'k', 'three');
    const read = async (from: Parameters<KinesisSource['openShard']>[1]) =>
      (await (await source.openShard(shardId, from)).next()).records.map(text);
    // act
    const results = {
      trimHorizon: await read({ type: 'TRIM_HORIZON' }),
      latest: (await latest.next()).records.map(text),
      atTimestamp: await read({ type: 'AT_TIMESTAMP', timestamp }),
      at: await read({ type: 'AT_SEQUENCE_NUMBER', sequenceNumber: second.SequenceNumber! }),
      after: await read({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: first.SequenceNumber! }),
    };
    // assert
    expect(results).toEqual({
      trimHorizon: ['one', 'two', 'three'],
      latest: ['three'],
      atTimestamp: ['three'],
      at: ['two', 'three'],
      after: ['two', 'three'],
    });
  });

  it('decodes JSON payloads when asked', async () => {
    // arrange
    const stream = 'json-payload';
    await createStream(client, stream, 1);
    await put(stream, 'order-1', JSON.stringify({ total: 12, items: ['a'] }));
    const source = await KinesisSource.create({ client, streamName: stream, payload: 'json' });
    // act
    const page = await (
      await source.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' })
    ).next();
    // assert
    expect(page.records[0]!.newImage).toEqual({ total: 12, items: ['a'] });
    expect(page.records[0]!.orderingKey).toBe('order-1');
  });

  it('backs off on throttling and 5xx, re-acquires expired iterators, and loses nothing', async () => {
    // arrange
    const stream = 'faults';
    await createStream(client, stream, 1);
    for (let i = 0; i < 12; i++) await put(stream, `k${i % 3}`, String(i));
    const events = new EventBus();
    const throttled = collect(events, 'shard.throttled');
    const reacquired = collect(events, 'shard.iteratorReacquired');
    const source = await KinesisSource.create({
      client: proxied,
      streamName: stream,
      maxRecordsPerRead: 4,
      events,
    });
    proxy.inject({ operation: 'ListShards', fault: { type: 'throttle' } });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'throttle' }, times: 2 });
    proxy.inject({
      operation: 'GetRecords',
      fault: { type: 'error', code: 'KMSThrottlingException' },
    });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'serverError' } });
    proxy.inject({ operation: 'GetRecords', fault: { type: 'expiredIterator' }, skip: 1 });
    // act
    const read = await readStream({ source, expected: 12, events });
    // assert
    expect(read.records.map((r) => Number(text(r))).sort((a, b) => a - b)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(throttled.map((t) => t.operation)).toEqual([
      'ProvisionedThroughputExceededException',
      'ProvisionedThroughputExceededException',
      'KMSThrottlingException',
      'InternalFailure',
    ]);
    expect(reacquired).toHaveLength(1);
    const sequences = read.records.map((r) => r.sequenceNumber).sort(compareSequenceNumbers);
    expect(reacquired[0]!.afterSequenceNumber).toBe(sequences[3]);
  });
});
