import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import {
  type ChangeRecord,
  DataTrimmedError,
  EventBus,
  type ShardlineEventMap,
  type TrimmedDataPolicy,
} from '@shardline/core';
import {
  type KinesaliteServer,
  type KinesisFanOutDouble,
  startKinesalite,
  startKinesisFanOutDouble,
} from '@shardline/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KinesisSource } from '../../src/index.js';
import { createStream } from '../helpers/kinesis.js';

// Trimmed checkpoints in fan-out mode, as trimmedData.test.ts does for polling: kinesalite (in
// this process, with the double) trims records older than the retention by Date.now(), which
// the test moves a day on after writing the old records.
const DAY_AND_AN_HOUR_MS = 25 * 60 * 60 * 1000;
const shardId = 'shardId-000000000000';
let kinesalite: KinesaliteServer;
let efo: KinesisFanOutDouble;
let client: KinesisClient;
let streams = 0;

beforeAll(async () => {
  kinesalite = await startKinesalite();
  efo = await startKinesisFanOutDouble({
    kinesisEndpoint: kinesalite.endpoint,
    consumerActivationDelayMs: 50,
  });
  client = new KinesisClient(efo.clientConfig);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  client?.destroy();
  await efo?.stop();
  await kinesalite?.stop();
});

const text = (r: ChangeRecord) => Buffer.from(r.data!).toString();

async function put(stream: string, data: string) {
  const out = await client.send(
    new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from(data) }),
  );
  return out.SequenceNumber!;
}

/** A fan-out source (consumer registered before the day passes) over old and fresh records. */
async function streamWithGap(old: string[], fresh: string[], trimmedDataPolicy: TrimmedDataPolicy) {
  const stream = `efo-trim-${++streams}`;
  await createStream(client, stream, 1);
  const oldSeqs: string[] = [];
  for (const data of old) oldSeqs.push(await put(stream, data));
  const events = new EventBus();
  const trimmed: ShardlineEventMap['shard.dataTrimmed'][] = [];
  events.on('shard.dataTrimmed', (e) => trimmed.push(e));
  const source = await KinesisSource.create({
    client,
    streamName: stream,
    retrieval: 'fan-out',
    consumerName: `app-${stream}`,
    trimmedDataPolicy,
    events,
  });
  await source.openShard(shardId, { type: 'LATEST' }); // registers the consumer
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + DAY_AND_AN_HOUR_MS);
  for (const data of fresh) await put(stream, data);
  return { source, oldSeqs, trimmed };
}

describe('KinesisSource fan-out: trimmed checkpoints', () => {
  it('stops with DataTrimmedError under the default policy, reporting the gap', async () => {
    // arrange
    const { source, oldSeqs, trimmed } = await streamWithGap(['one', 'two'], ['three'], 'stop');
    const iterator = await source.openShard(shardId, {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: oldSeqs[0]!,
    });
    // act
    const failure = await iterator.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    // assert
    expect(failure).toBeInstanceOf(DataTrimmedError);
    expect((failure as DataTrimmedError).fromSequenceNumber).toBe(oldSeqs[0]);
    expect(trimmed).toHaveLength(1);
    expect(trimmed[0]).toMatchObject({ shardId, policy: 'stop', afterSequenceNumber: oldSeqs[0] });
  });

  it('reads on from the oldest record kept under skip-to-trim-horizon, reporting the gap', async () => {
    // arrange
    const { source, oldSeqs, trimmed } = await streamWithGap(
      ['one', 'two'],
      ['three', 'four'],
      'skip-to-trim-horizon',
    );
    const stop = new AbortController();
    const iterator = await source.openShard(shardId, {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: oldSeqs[0]!,
    });
    // act
    const page = await iterator.next(stop.signal);
    stop.abort();
    // assert
    expect(page.records.map(text)).toEqual(['three', 'four']);
    expect(trimmed).toHaveLength(1);
    expect(trimmed[0]).toMatchObject({
      policy: 'skip-to-trim-horizon',
      afterSequenceNumber: oldSeqs[0],
    });
  });
});
