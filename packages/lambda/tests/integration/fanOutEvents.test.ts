import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  type _Record as KinesisSdkRecord,
  ListShardsCommand,
  PutRecordCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { type ChangeRecord, silentLogger, sleep } from '@shardline/core';
import { KinesisSource } from '@shardline/kinesis';
import {
  type KinesaliteServer,
  type KinesisFanOutDouble,
  startKinesalite,
  startKinesisFanOutDouble,
  toLambdaKinesisRecord,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKinesisHandler } from '../../src/kinesis.js';

// Lambda's events from an enhanced fan-out mapping carry the same record shape as from a polling
// one: records pushed by SubscribeToShard (through the double, from kinesalite), delivered as a
// Lambda Kinesis event, decode to the same changes as the fan-out source reads. No decoder code
// is specific to fan-out.
let kinesalite: KinesaliteServer;
let efo: KinesisFanOutDouble;
let client: KinesisClient;

beforeAll(async () => {
  kinesalite = await startKinesalite();
  efo = await startKinesisFanOutDouble({
    kinesisEndpoint: kinesalite.endpoint,
    consumerActivationDelayMs: 50,
  });
  client = new KinesisClient(efo.clientConfig);
});

afterAll(async () => {
  client?.destroy();
  await efo?.stop();
  await kinesalite?.stop();
});

const KEYS = ['a', 'b', 'c', 'd'];

async function putRound(name: string, round: number) {
  for (const key of KEYS) {
    await client.send(
      new PutRecordCommand({
        StreamName: name,
        PartitionKey: key,
        Data: Buffer.from(`${key}:${round}`),
      }),
    );
  }
}

async function waitActive(name: string) {
  for (;;) {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE')
      return out.StreamDescriptionSummary;
    await sleep(20);
  }
}

/** The records SubscribeToShard pushes for a shard from TRIM_HORIZON, until `count` or shard end. */
async function pushed(
  consumerArn: string,
  shardId: string,
  count: number,
): Promise<KinesisSdkRecord[]> {
  const records: KinesisSdkRecord[] = [];
  const stop = new AbortController();
  const output = await client.send(
    new SubscribeToShardCommand({
      ConsumerARN: consumerArn,
      ShardId: shardId,
      StartingPosition: { Type: 'TRIM_HORIZON' },
    }),
    { abortSignal: stop.signal },
  );
  try {
    for await (const event of output.EventStream!) {
      records.push(...(event.SubscribeToShardEvent?.Records ?? []));
      if (event.SubscribeToShardEvent?.ChildShards?.length || records.length >= count) break;
    }
  } finally {
    stop.abort();
  }
  return records;
}

const summary = (r: ChangeRecord) =>
  [r.streamId, r.shardId, r.sequenceNumber, r.orderingKey, Buffer.from(r.data!).toString()].join(
    ' ',
  );

describe('Lambda Kinesis events from an enhanced fan-out consumer', () => {
  it('decode like the fan-out source reads them: every record once, in order per key, across a split', async () => {
    // arrange: 3 rounds on the parent, a split, 3 rounds on the children
    const name = 'lambda-efo';
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const { StreamARN: streamArn } = await waitActive(name);
    for (let round = 0; round < 3; round++) await putRound(name, round);
    await client.send(
      new SplitShardCommand({
        StreamName: name,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitActive(name);
    for (let round = 3; round < 6; round++) await putRound(name, round);
    const source = await KinesisSource.create({
      client,
      streamName: name,
      retrieval: 'fan-out',
      consumerName: 'lambda-efo',
    });
    const { Shards } = await client.send(new ListShardsCommand({ StreamName: name }));
    const children = Shards!.filter((s) => s.ParentShardId === 'shardId-000000000000');
    // What the source reads, shard by shard in lineage order.
    const fromSource: ChangeRecord[] = [];
    for (const shard of ['shardId-000000000000', ...children.map((c) => c.ShardId!)]) {
      const stop = new AbortController();
      const iterator = await source.openShard(shard, { type: 'TRIM_HORIZON' }, stop.signal);
      // The parent is read to its end; an open child until it pushes two events without records.
      for (let empty = 0; empty < 2; ) {
        const page = await iterator.next(stop.signal);
        fromSource.push(...page.records);
        if (page.shardEnded) break;
        if (page.records.length === 0) empty++;
      }
      stop.abort();
    }
    await sleep(1200); // the consumer allows one subscribe per second per shard
    const consumerArn = [...efo.consumers.values()].find(
      (c) => c.consumerName === 'lambda-efo',
    )!.consumerArn;
    // act: Lambda's events, one per shard, of the pushed records
    const handled: ChangeRecord[] = [];
    const handler = createKinesisHandler({
      logger: silentLogger,
      handler: (record) => {
        handled.push(record);
      },
    });
    for (const shard of ['shardId-000000000000', ...children.map((c) => c.ShardId!)]) {
      const count = fromSource.filter((r) => r.shardId === shard).length;
      const records = await pushed(consumerArn, shard, count);
      const event = {
        Records: records.map(
          (r) =>
            toLambdaKinesisRecord(
              r,
              shard,
              streamArn!,
              'us-east-1',
              'arn:aws:iam::123456789012:role/fn',
            ).lambda,
        ),
      };
      const response = await handler(event as never, undefined as never);
      expect(response).toEqual({ batchItemFailures: [] });
    }
    // assert
    const values = handled.map((r) => Buffer.from(r.data!).toString());
    expect(values).toHaveLength(KEYS.length * 6);
    for (const key of KEYS) {
      expect(values.filter((v) => v.startsWith(`${key}:`))).toEqual(
        Array.from({ length: 6 }, (_, round) => `${key}:${round}`),
      );
    }
    // (the handler runs partition keys concurrently, so compare as sets of identical changes)
    expect(handled.map(summary).sort()).toEqual(fromSource.map(summary).sort());
    expect(fromSource).toHaveLength(KEYS.length * 6);
  }, 60_000);
});
