import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import {
  type ChangeRecord,
  DataTrimmedError,
  EventBus,
  InMemoryMetrics,
  type ShardlineEventMap,
  type TrimmedDataPolicy,
} from '@shardline/core';
import { type KinesaliteServer, startKinesalite } from '@shardline/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KinesisSource } from '../../src/index.js';
import { createStream, kplAggregate } from '../helpers/kinesis.js';

// kinesalite trims for real: a GetRecords drops (and deletes) every record older than the
// stream's retention (24 h at least), by the time in its sequence number against Date.now().
// The tests run kinesalite in this process and move Date.now() a day on, as if the consumer
// had been down that long.
const DAY_AND_AN_HOUR_MS = 25 * 60 * 60 * 1000;

let server: KinesaliteServer;
let client: KinesisClient;
let streams = 0;

beforeAll(async () => {
  server = await startKinesalite();
  client = new KinesisClient(server.clientConfig);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

const shardId = 'shardId-000000000000';
const text = (r: ChangeRecord) => Buffer.from(r.data!).toString();

async function put(stream: string, data: string | Uint8Array, partitionKey = 'k') {
  const out = await client.send(
    new PutRecordCommand({
      StreamName: stream,
      PartitionKey: partitionKey,
      Data: typeof data === 'string' ? Buffer.from(data) : data,
    }),
  );
  return out.SequenceNumber!;
}

/** A one-shard stream holding `old` records written before a day passes, then `fresh` ones. */
async function streamWithGap(old: string[], fresh: string[]) {
  const stream = `trim-${++streams}`;
  await createStream(client, stream, 1);
  const oldSeqs: string[] = [];
  for (const data of old) oldSeqs.push(await put(stream, data));
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + DAY_AND_AN_HOUR_MS);
  const freshSeqs: string[] = [];
  for (const data of fresh) freshSeqs.push(await put(stream, data));
  return { stream, oldSeqs, freshSeqs };
}

function sourceFor(stream: string, trimmedDataPolicy?: TrimmedDataPolicy) {
  const events = new EventBus();
  const trimmed: ShardlineEventMap['shard.dataTrimmed'][] = [];
  events.on('shard.dataTrimmed', (e) => trimmed.push(e));
  const metrics = new InMemoryMetrics();
  const source = KinesisSource.create({
    client,
    streamName: stream,
    events,
    metrics,
    ...(trimmedDataPolicy ? { trimmedDataPolicy } : {}),
  });
  return { source, trimmed, metrics };
}

describe('KinesisSource: a checkpoint older than the trim horizon', () => {
  it('stops with DataTrimmedError by default, reporting the gap, and stays stopped on a reopen', async () => {
    // arrange: read up to 'two' (the checkpoint), then the consumer is down for a day
    const { stream, oldSeqs, freshSeqs } = await streamWithGap(
      ['one', 'two', 'three', 'four'],
      ['five', 'six'],
    );
    const { source: created, trimmed, metrics } = sourceFor(stream);
    const source = await created;
    // act
    const iterator = await source.openShard(shardId, {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: oldSeqs[1]!,
    });
    const first = await iterator.next().catch((e: unknown) => e);
    const again = await (
      await source.openShard(shardId, {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: oldSeqs[1]!,
      })
    )
      .next()
      .catch((e: unknown) => e);
    // assert
    expect(first).toBeInstanceOf(DataTrimmedError);
    expect((first as DataTrimmedError).shardId).toBe(shardId);
    expect((first as DataTrimmedError).fromSequenceNumber).toBe(oldSeqs[1]);
    expect(again).toBeInstanceOf(DataTrimmedError);
    expect(trimmed[0]).toEqual({
      streamId: source.streamId,
      shardId,
      afterSequenceNumber: oldSeqs[1],
      resumedAtSequenceNumber: freshSeqs[0],
      policy: 'stop',
    });
    expect(
      metrics.counter('shard_data_trimmed_total', {
        stream: source.streamId,
        shard: shardId,
        policy: 'stop',
      }),
    ).toBe(2);
  });

  it('reads on from the oldest record kept under skip-to-trim-horizon, reporting the gap once', async () => {
    // arrange
    const { stream, oldSeqs, freshSeqs } = await streamWithGap(
      ['one', 'two', 'three'],
      ['four', 'five'],
    );
    const { source: created, trimmed, metrics } = sourceFor(stream, 'skip-to-trim-horizon');
    const source = await created;
    // act
    const iterator = await source.openShard(shardId, {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: oldSeqs[0]!,
    });
    const page = await iterator.next();
    const later = await iterator.next();
    // assert
    expect(page.records.map(text)).toEqual(['four', 'five']);
    expect(later.records).toEqual([]);
    expect(trimmed).toEqual([
      {
        streamId: source.streamId,
        shardId,
        afterSequenceNumber: oldSeqs[0],
        resumedAtSequenceNumber: freshSeqs[0],
        policy: 'skip-to-trim-horizon',
      },
    ]);
    expect(
      metrics.counter('shard_data_trimmed_total', {
        stream: source.streamId,
        shard: shardId,
        policy: 'skip-to-trim-horizon',
      }),
    ).toBe(1);
  });

  it('reports nothing when the checkpoint record is still kept, after a day as before it', async () => {
    // arrange: everything is written after the day passed, so nothing is older than retention
    const { stream, freshSeqs } = await streamWithGap([], ['one', 'two', 'three']);
    const { source: created, trimmed } = sourceFor(stream);
    const source = await created;
    // act
    const after = await (
      await source.openShard(shardId, {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: freshSeqs[0]!,
      })
    ).next();
    const at = await (
      await source.openShard(shardId, { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: freshSeqs[1]! })
    ).next();
    const atLast = await (
      await source.openShard(shardId, {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: freshSeqs[2]!,
      })
    ).next();
    // assert
    expect(after.records.map(text)).toEqual(['two', 'three']);
    expect(at.records.map(text)).toEqual(['two', 'three']);
    expect(atLast.records).toEqual([]);
    expect(trimmed).toEqual([]);
  });

  it('detects the trim for a checkpoint inside a KPL aggregate', async () => {
    // arrange
    const stream = `trim-${++streams}`;
    await createStream(client, stream, 1);
    const [agg] = await kplAggregate([
      { partitionKey: 'a', data: 'a1' },
      { partitionKey: 'b', data: 'b1' },
      { partitionKey: 'c', data: 'c1' },
    ]);
    const aggSeq = await put(stream, agg!.data, agg!.partitionKey);
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + DAY_AND_AN_HOUR_MS);
    const freshSeq = await put(stream, 'later');
    const { source: created, trimmed } = sourceFor(stream, 'skip-to-trim-horizon');
    const source = await created;
    // act: one user record of the aggregate was done before the consumer went down
    const page = await (
      await source.openShard(shardId, {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: aggSeq,
        subSequenceNumber: 0,
      })
    ).next();
    // assert
    expect(page.records.map(text)).toEqual(['later']);
    expect(trimmed.map((t) => [t.afterSequenceNumber, t.resumedAtSequenceNumber])).toEqual([
      [aggSeq, freshSeq],
    ]);
  });

  it('does not check an AT_SEQUENCE_NUMBER start, which may name no record', async () => {
    // arrange: the position's record is gone, but the user asked to start AT it
    const { stream, oldSeqs } = await streamWithGap(['one', 'two'], ['three']);
    const { source: created, trimmed } = sourceFor(stream);
    const source = await created;
    // act
    const page = await (
      await source.openShard(shardId, { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: oldSeqs[0]! })
    ).next();
    // assert
    expect(page.records.map(text)).toEqual(['three']);
    expect(trimmed).toEqual([]);
  });

  it('rejects an unknown policy with the allowed values', () => {
    expect(
      () =>
        new KinesisSource({
          client,
          streamName: 'x',
          trimmedDataPolicy: 'skip' as TrimmedDataPolicy,
        }),
    ).toThrow(/trimmedDataPolicy must be 'stop' or 'skip-to-trim-horizon', got "skip"/);
  });
});
