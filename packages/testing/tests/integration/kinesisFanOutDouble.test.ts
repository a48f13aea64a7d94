import {
  CreateStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamConsumersCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
  type SubscribeToShardEvent,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KinesaliteServer, startKinesalite } from '../../src/kinesalite.js';
import {
  type KinesisFanOutDouble,
  startKinesisFanOutDouble,
} from '../../src/kinesisFanOutDouble.js';

// The fan-out double driven by the real SDK client over HTTP/2, records from kinesalite.
let kinesalite: KinesaliteServer;
let efo: KinesisFanOutDouble;
let client: KinesisClient;
let streams = 0;
const SHARD = 'shardId-000000000000';

beforeAll(async () => {
  kinesalite = await startKinesalite();
  efo = await startKinesisFanOutDouble({
    kinesisEndpoint: kinesalite.endpoint,
    consumerActivationDelayMs: 300,
  });
  client = new KinesisClient(efo.clientConfig);
});

afterAll(async () => {
  client?.destroy();
  await efo?.stop();
  await kinesalite?.stop();
});

async function streamWith(records: string[]): Promise<string> {
  const name = `double-${++streams}`;
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  for (;;) {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const data of records) {
    await client.send(
      new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from(data) }),
    );
  }
  const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  return out.StreamDescriptionSummary!.StreamARN!;
}

async function activeConsumer(streamArn: string, name: string): Promise<string> {
  const { Consumer } = await client.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: name }),
  );
  for (;;) {
    const { ConsumerDescription } = await client.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: Consumer!.ConsumerARN }),
    );
    if (ConsumerDescription?.ConsumerStatus === 'ACTIVE') return Consumer!.ConsumerARN!;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const text = (data: Uint8Array | undefined) => Buffer.from(data ?? []).toString();

describe('Kinesis fan-out double', () => {
  it('registers, describes (CREATING, then ACTIVE), lists and deregisters consumers', async () => {
    // arrange
    const streamArn = await streamWith([]);
    // act
    const { Consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'c' }),
    );
    const again = await client
      .send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'c' }))
      .catch((error: Error) => error.name);
    const listed = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn }));
    const arn = await activeConsumer(streamArn, 'c2');
    await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: arn }));
    const gone = await client
      .send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }))
      .catch((error: Error) => error.name);
    // assert
    expect(Consumer?.ConsumerStatus).toBe('CREATING');
    expect(Consumer?.ConsumerARN).toMatch(/:stream\/double-\d+\/consumer\/c:\d+$/);
    expect(again).toBe('ResourceInUseException');
    expect(listed.Consumers?.map((c) => c.ConsumerName)).toEqual(['c']);
    expect(gone).toBe('ResourceNotFoundException');
  });

  it('pushes records with a continuation over an event stream the SDK reads with for await', async () => {
    // arrange
    const streamArn = await streamWith(['a', 'b', 'c']);
    const consumerArn = await activeConsumer(streamArn, 'reader');
    // act
    const output = await client.send(
      new SubscribeToShardCommand({
        ConsumerARN: consumerArn,
        ShardId: SHARD,
        StartingPosition: { Type: 'TRIM_HORIZON' },
      }),
    );
    const events: SubscribeToShardEvent[] = [];
    setTimeout(() => efo.endSubscriptions(SHARD), 1500);
    for await (const event of output.EventStream!) {
      if (event.SubscribeToShardEvent) events.push(event.SubscribeToShardEvent);
    }
    // assert: the subscription was ended early, normally, as AWS ends it after 5 minutes
    const records = events.flatMap((e) => e.Records ?? []);
    expect(records.map((r) => text(r.Data))).toEqual(['a', 'b', 'c']);
    expect(events[0]!.ContinuationSequenceNumber).toBe(records[2]!.SequenceNumber);
    expect(events.every((e) => typeof e.MillisBehindLatest === 'number')).toBe(true);
    expect(events.length).toBeGreaterThanOrEqual(2); // an empty event while idle
  });

  it('refuses a second subscription of the consumer to a held shard, and a subscribe within a second', async () => {
    // arrange
    const streamArn = await streamWith(['a']);
    const consumerArn = await activeConsumer(streamArn, 'busy');
    const input = {
      ConsumerARN: consumerArn,
      ShardId: SHARD,
      StartingPosition: { Type: 'TRIM_HORIZON' as const },
    };
    const held = new AbortController();
    await client.send(new SubscribeToShardCommand(input), { abortSignal: held.signal });
    // act
    const inUse = await client
      .send(new SubscribeToShardCommand(input))
      .catch((error: Error) => error.name);
    held.abort(); // the holder closes its stream
    await new Promise((r) => setTimeout(r, 100));
    const tooSoon = await new KinesisClient({ ...efo.clientConfig, maxAttempts: 1 })
      .send(new SubscribeToShardCommand(input))
      .catch((error: Error) => error.name);
    // assert
    expect(inUse).toBe('ResourceInUseException');
    expect(tooSoon).toBe('LimitExceededException');
    expect(efo.openSubscriptions()).toEqual([]);
  });

  it('grants one of two concurrent subscribe calls for a shard, refusing the other', async () => {
    // arrange
    const streamArn = await streamWith(['a']);
    const consumerArn = await activeConsumer(streamArn, 'race');
    const input = {
      ConsumerARN: consumerArn,
      ShardId: SHARD,
      StartingPosition: { Type: 'TRIM_HORIZON' as const },
    };
    const stop = new AbortController();
    // act
    const outcomes = await Promise.all(
      [0, 1].map(() =>
        client.send(new SubscribeToShardCommand(input), { abortSignal: stop.signal }).then(
          () => 'ok',
          (error: Error) => error.name,
        ),
      ),
    );
    stop.abort();
    // assert
    expect(outcomes.sort()).toEqual(['ResourceInUseException', 'ok']);
  });

  it('drops the connection of a subscription: the SDK ends its event stream, with no error', async () => {
    // arrange
    const streamArn = await streamWith(['a']);
    const consumerArn = await activeConsumer(streamArn, 'dropped');
    const output = await new KinesisClient(efo.clientConfig).send(
      new SubscribeToShardCommand({
        ConsumerARN: consumerArn,
        ShardId: SHARD,
        StartingPosition: { Type: 'LATEST' },
      }),
    );
    // act
    let dropped = 0;
    setTimeout(() => {
      dropped = efo.dropConnections(SHARD);
    }, 200);
    const started = Date.now();
    const outcome = await (async () => {
      for await (const _ of output.EventStream!) {
        // reading until it stops
      }
      return 'ended';
    })().catch(() => 'failed');
    // assert: the SDK (3.1143) ends the stream of a reset connection as if the subscription had
    // ended, so a reader must resume from its continuation whenever a stream ends.
    expect(dropped).toBe(1);
    expect(outcome).toBe('ended');
    expect(Date.now() - started).toBeLessThan(5000); // not the 5-minute end
    expect(efo.openSubscriptions()).toEqual([]);
  });
});
