import {
  DeregisterStreamConsumerCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import {
  type ChangeRecord,
  InMemoryMetrics,
  type ShardIterator,
  type ShardReadResult,
  StreamReadError,
  sleep,
} from '@shardline/core';
import {
  type KinesaliteServer,
  type KinesisFanOutDouble,
  startKinesalite,
  startKinesisFanOutDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KinesisSource } from '../../src/index.js';
import { createStream, kplAggregate, readStream, waitActive } from '../helpers/kinesis.js';

// Enhanced fan-out through the HTTP/2 double, records from kinesalite, driven by the real client.
let kinesalite: KinesaliteServer;
let efo: KinesisFanOutDouble;
let client: KinesisClient;
const clients: KinesisClient[] = [];
let streams = 0;

beforeAll(async () => {
  kinesalite = await startKinesalite();
  efo = await startKinesisFanOutDouble({
    kinesisEndpoint: kinesalite.endpoint,
    consumerActivationDelayMs: 100,
  });
  client = newClient();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await efo?.stop();
  await kinesalite?.stop();
});

function newClient(): KinesisClient {
  const c = new KinesisClient(efo.clientConfig);
  clients.push(c);
  return c;
}

async function stream(shards = 1): Promise<string> {
  const name = `efo-${++streams}`;
  await createStream(client, name, shards);
  return name;
}

async function put(name: string, ...data: string[]): Promise<string[]> {
  const seqs: string[] = [];
  for (const d of data) {
    const out = await client.send(
      new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from(d) }),
    );
    seqs.push(out.SequenceNumber!);
  }
  return seqs;
}

function fanOutSource(name: string, c = client, consumerName = `app-${name}`) {
  return KinesisSource.create({ client: c, streamName: name, retrieval: 'fan-out', consumerName });
}

const text = (r: ChangeRecord) => Buffer.from(r.data!).toString();
const range = (from: number, to: number, prefix = 'v') =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

/** Reads pages until `count` records came, retrying retriable errors (as the consumer does). */
async function readRecords(
  iterator: ShardIterator,
  count: number,
  signal?: AbortSignal,
): Promise<{ records: ChangeRecord[]; pages: ShardReadResult[]; errors: StreamReadError[] }> {
  const records: ChangeRecord[] = [];
  const pages: ShardReadResult[] = [];
  const errors: StreamReadError[] = [];
  const deadline = Date.now() + 20_000;
  while (records.length < count && Date.now() < deadline) {
    try {
      const page = await iterator.next(signal);
      pages.push(page);
      records.push(...page.records);
      if (page.shardEnded) break;
    } catch (error) {
      if (!(error instanceof StreamReadError) || !error.retriable) throw error;
      errors.push(error);
      await sleep(100);
    }
  }
  return { records, pages, errors };
}

function subscribeCallsOf(consumerArn: string) {
  return efo.subscribeCalls.filter((c) => c.consumerArn === consumerArn);
}

describe('KinesisSource fan-out retrieval', () => {
  it('registers the consumer once, reuses it by name, and reads every record in order', async () => {
    // arrange
    const name = await stream();
    await put(name, ...range(0, 20));
    const first = await fanOutSource(name);
    const second = await fanOutSource(name, newClient());
    // act
    const a = await first.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
    const b = await second.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
    const { records, pages } = await readRecords(a, 20);
    // assert
    const mine = [...efo.consumers.values()].filter((c) => c.consumerName === `app-${name}`);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.status).toBe('ACTIVE');
    expect(records.map(text)).toEqual(range(0, 20));
    expect(records[0]!.shardId).toBe('shardId-000000000000');
    expect(pages.every((p) => typeof p.millisBehindLatest === 'number')).toBe(true);
    expect(b).toBeDefined();
  });

  it('renews a subscription itself before the service ends it, without loss or repeat', async () => {
    // arrange: the service would keep the subscription for 5 minutes; the source renews it
    // after 1.5 s (renewSubscriptionAfterMs), as it does at 4 m 50 s by default
    const name = await stream();
    const metrics = new InMemoryMetrics();
    const source = await KinesisSource.create({
      client,
      streamName: name,
      retrieval: 'fan-out',
      consumerName: `app-${name}`,
      renewSubscriptionAfterMs: 1500,
      metrics,
    });
    const iterator = await source.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
    const writing = (async () => {
      for (let i = 0; i < 40; i++) {
        await put(name, `v${i}`);
        await sleep(100);
      }
    })();
    // act
    const { records } = await readRecords(iterator, 40);
    await writing;
    // assert
    expect(iterator.pushed).toBe(true); // the reader does not pace pushed events
    expect(records.map(text)).toEqual(range(0, 40));
    const ok = subscribeCallsOf((await consumerArnOf(name))!).filter((x) => x.outcome === 'ok');
    expect(ok.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < ok.length; i++) {
      expect(ok[i]!.startingPosition.Type).toBe('AFTER_SEQUENCE_NUMBER');
    }
    expect(
      metrics.counter('fan_out_subscriptions_renewed_total', {
        stream: source.streamId,
        shard: 'shardId-000000000000',
        reason: 'ahead',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('renews an ended subscription after the continuation, paced, without loss or repeat', async () => {
    // arrange: subscriptions end after 600 ms, as AWS ends them after 5 minutes; the client
    // notes when each SubscribeToShard leaves it (the pacing under test)
    const name = await stream();
    const c = newClient();
    const sent: number[] = [];
    c.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SubscribeToShardCommand') sent.push(Date.now());
        return next(args);
      },
      { step: 'initialize', name: 'noteSubscribes' },
    );
    efo.setSubscriptionDuration(600);
    try {
      const source = await fanOutSource(name, c);
      const iterator = await source.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
      const writing = (async () => {
        for (let i = 0; i < 30; i++) {
          await put(name, `v${i}`);
          await sleep(100);
        }
      })();
      // act
      const { records, errors } = await readRecords(iterator, 30);
      await writing;
      // assert
      expect(records.map(text)).toEqual(range(0, 30));
      const ok = subscribeCallsOf((await consumerArnOf(name))!).filter((x) => x.outcome === 'ok');
      expect(ok.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < ok.length; i++) {
        expect(ok[i]!.startingPosition.Type).toBe('AFTER_SEQUENCE_NUMBER');
      }
      for (let i = 1; i < sent.length; i++) {
        expect(sent[i]! - sent[i - 1]!).toBeGreaterThanOrEqual(1000); // the service's limit
      }
      // Arrival jitter above the pacing margin may still be refused; that is retried.
      expect(errors.every((e) => e.code === 'LimitExceededException' && e.retriable)).toBe(true);
    } finally {
      efo.setSubscriptionDuration(300_000);
    }
  });

  it('resumes after a dropped connection from the last record handed out, without loss or repeat', async () => {
    // arrange
    const name = await stream();
    await put(name, ...range(0, 10));
    const source = await fanOutSource(name);
    const iterator = await source.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
    const before = await readRecords(iterator, 10);
    // act: the connection drops while more records are pushed
    await put(name, ...range(10, 20));
    await sleep(200);
    expect(efo.dropConnections('shardId-000000000000')).toBeGreaterThan(0);
    await put(name, ...range(20, 30));
    const after = await readRecords(iterator, 20);
    // assert
    expect([...before.records, ...after.records].map(text)).toEqual(range(0, 30));
    expect(after.errors.every((e) => e.retriable)).toBe(true);
  });

  it('follows a split mid-subscription: the parent ends with ChildShards, the children are read after it', async () => {
    // arrange
    const name = await stream();
    const source = await fanOutSource(name);
    const seen: string[] = [];
    const done = readStream({
      source,
      expected: 40,
      onRecord: (r) => seen.push(text(r)),
    });
    await put(name, ...range(0, 20));
    while (seen.length < 10) await sleep(20);
    // act
    await client.send(
      new SplitShardCommand({
        StreamName: name,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitActive(client, name);
    await put(name, ...range(20, 40));
    const read = await done;
    // assert: one partition key, so one child holds all the new records, after the parent's
    const { Shards } = await client.send(new ListShardsCommand({ StreamName: name }));
    const children = Shards!.filter((s) => s.ParentShardId === 'shardId-000000000000');
    expect(children).toHaveLength(2);
    expect(read.records.map(text)).toEqual(range(0, 40));
    expect([...(read.childrenAtEnd.get('shardId-000000000000') ?? [])].sort()).toEqual(
      children.map((c) => c.ShardId).sort(),
    );
  });

  it('hands a shard over: the second reader gets ResourceInUse until the first one stops', async () => {
    // arrange
    const name = await stream();
    await put(name, ...range(0, 5));
    const first = await fanOutSource(name);
    const second = await fanOutSource(name, newClient());
    const stopFirst = new AbortController();
    const a = await first.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
    const fromA = await readRecords(a, 5, stopFirst.signal);
    const lastOfA = fromA.records[fromA.records.length - 1]!.sequenceNumber;
    const b = await second.openShard('shardId-000000000000', {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: lastOfA,
    });
    // act
    const refused = await b.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    const seqs = await put(name, ...range(5, 10));
    stopFirst.abort();
    const fromB = await readRecords(b, 10 - fromA.records.length);
    // assert
    expect(refused).toBeInstanceOf(StreamReadError);
    expect((refused as StreamReadError).code).toBe('ResourceInUseException');
    expect((refused as StreamReadError).retriable).toBe(true);
    expect([...fromA.records, ...fromB.records].map(text)).toEqual(range(0, 10));
    expect(fromB.records[fromB.records.length - 1]!.sequenceNumber).toBe(seqs[4]);
  });

  it('de-aggregates KPL records and resumes inside an aggregate as polling does', async () => {
    // arrange
    const name = await stream();
    const [aggregate] = await kplAggregate(
      range(0, 5, 'u').map((data) => ({ partitionKey: 'k', data })),
    );
    const put1 = await client.send(
      new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: aggregate!.data }),
    );
    await put(name, 'after');
    const source = await fanOutSource(name);
    const stopFirst = new AbortController();
    // act
    const all = await readRecords(
      await source.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' }),
      6,
      stopFirst.signal,
    );
    stopFirst.abort(); // closes its subscription, which would hold the shard for 5 minutes
    const resumed = await readRecords(
      await source.openShard('shardId-000000000000', {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: put1.SequenceNumber!,
        subSequenceNumber: 2,
      }),
      3,
    );
    // assert
    expect(all.records.map(text)).toEqual([...range(0, 5, 'u'), 'after']);
    expect(all.records.slice(0, 5).map((r) => r.subSequenceNumber)).toEqual([0, 1, 2, 3, 4]);
    expect(resumed.records.map(text)).toEqual(['u3', 'u4', 'after']);
  });
});

describe('KinesisSource fan-out consumer', () => {
  it('fails a read when its consumer was deregistered, and registers it again for the next open', async () => {
    // arrange
    const name = await stream();
    await put(name, ...range(0, 3));
    const source = await fanOutSource(name);
    const stop = new AbortController();
    const first = await source.openShard('shardId-000000000000', { type: 'TRIM_HORIZON' });
    const before = await readRecords(first, 3, stop.signal);
    stop.abort();
    const oldArn = (await consumerArnOf(name))!;
    const oldConsumer = efo.consumers.get(oldArn);
    await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: oldArn }));
    // act
    const failed = await first.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    const again = await source.openShard('shardId-000000000000', {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: before.records[2]!.sequenceNumber,
    });
    await put(name, 'v3');
    const after = await readRecords(again, 1);
    // assert
    expect(failed).toBeInstanceOf(StreamReadError);
    expect((failed as StreamReadError).code).toBe('ResourceNotFoundException');
    expect((failed as StreamReadError).retriable).toBe(false);
    const newArn = await consumerArnOf(name);
    expect(newArn).toBeDefined();
    expect(efo.consumers.get(newArn!)).not.toBe(oldConsumer); // registered anew
    expect(after.records.map(text)).toEqual(['v3']);
  });
});

async function consumerArnOf(name: string): Promise<string | undefined> {
  return [...efo.consumers.values()].find((c) => c.consumerName === `app-${name}`)?.consumerArn;
}
