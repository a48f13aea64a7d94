import { KinesisClient } from '@aws-sdk/client-kinesis';
import {
  type JsonProtocolAnswer,
  type JsonProtocolCall,
  type JsonProtocolDouble,
  startJsonProtocolDouble,
} from '@shardline/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { KinesisSource, type KinesisSourceOptions } from '../../src/index.js';

// ListShards paging, ShardFilter and ChildShards are not implemented by kinesalite, so these run
// against a scripted endpoint speaking the Kinesis JSON protocol.

const streamArn = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
const range = (start: string, end: string) => ({ StartingHashKey: start, EndingHashKey: end });
const SHARDS = [
  {
    ShardId: 'shardId-000000000000',
    HashKeyRange: range('0', '99'),
    SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '9' },
  },
  {
    ShardId: 'shardId-000000000001',
    HashKeyRange: range('100', '199'),
    SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '9' },
  },
  {
    ShardId: 'shardId-000000000002',
    ParentShardId: 'shardId-000000000000',
    AdjacentParentShardId: 'shardId-000000000001',
    HashKeyRange: range('0', '199'),
    SequenceNumberRange: { StartingSequenceNumber: '10' },
  },
];

function listShards(input: Record<string, unknown>): JsonProtocolAnswer {
  const from = input.NextToken ? Number(input.NextToken) : 0;
  const size = (input.MaxResults as number | undefined) ?? 100;
  const next = from + size < SHARDS.length ? String(from + size) : undefined;
  return {
    output: { Shards: SHARDS.slice(from, from + size), ...(next ? { NextToken: next } : {}) },
  };
}

let double: JsonProtocolDouble | undefined;
let client: KinesisClient | undefined;

afterEach(async () => {
  client?.destroy();
  await double?.stop();
});

async function sourceFor(
  answer: (call: JsonProtocolCall) => JsonProtocolAnswer,
  options: Partial<KinesisSourceOptions> = {},
) {
  double = await startJsonProtocolDouble('kinesis', answer);
  client = new KinesisClient(double.clientConfig);
  return new KinesisSource({ client, streamArn, ...options });
}

describe('KinesisSource against the Kinesis protocol', () => {
  it('pages ListShards through NextToken, sends the filter once, and links merge parents', async () => {
    // arrange
    const source = await sourceFor((call) => listShards(call.input), {
      listShardsPageSize: 2,
      shardFilter: { Type: 'FROM_TRIM_HORIZON' },
    });
    // act
    const shards = await source.listShards();
    // assert
    expect(shards.map((s) => [s.shardId, s.parentShardIds, s.hashKeyRange?.endingHashKey])).toEqual(
      [
        ['shardId-000000000000', [], '99'],
        ['shardId-000000000001', [], '199'],
        ['shardId-000000000002', ['shardId-000000000000', 'shardId-000000000001'], '199'],
      ],
    );
    expect(double!.calls.map((c) => c.input)).toEqual([
      { StreamARN: streamArn, MaxResults: 2, ShardFilter: { Type: 'FROM_TRIM_HORIZON' } },
      { NextToken: '2', MaxResults: 2 },
    ]);
  });

  it('names the stream by StreamName when given one', async () => {
    // arrange
    const source = await sourceFor((call) => listShards(call.input), { streamName: 'orders' });
    // act
    await source.listShards();
    // assert
    expect(double!.calls[0]!.input).toMatchObject({ StreamName: 'orders' });
    expect(double!.calls[0]!.input.StreamARN).toBeUndefined();
  });

  it('takes the children of an ended shard from ChildShards and passes MillisBehindLatest through', async () => {
    // arrange
    const source = await sourceFor((call) => {
      if (call.operation === 'ListShards') return listShards(call.input);
      if (call.operation === 'GetShardIterator') return { output: { ShardIterator: 'it' } };
      return {
        output: {
          // The position's own record comes first (the iterator checks it was not trimmed).
          Records: [
            {
              SequenceNumber: '5',
              PartitionKey: 'k',
              Data: Buffer.from('{}').toString('base64'),
              ApproximateArrivalTimestamp: 1_700_000_000,
            },
          ],
          MillisBehindLatest: 1234,
          ChildShards: [
            {
              ShardId: 'shardId-000000000002',
              ParentShards: ['shardId-000000000000', 'shardId-000000000001'],
              HashKeyRange: range('0', '199'),
            },
          ],
        },
      };
    });
    // act
    const iterator = await source.openShard('shardId-000000000000', {
      type: 'AT_SEQUENCE_NUMBER',
      sequenceNumber: '5',
    });
    const listingsBefore = double!.calls.filter((c) => c.operation === 'ListShards').length;
    const page = await iterator.next();
    // assert
    expect(page).toMatchObject({
      shardEnded: true,
      millisBehindLatest: 1234,
      childShardIds: ['shardId-000000000002'],
    });
    expect(double!.calls.filter((c) => c.operation === 'ListShards')).toHaveLength(listingsBefore);
    expect(double!.calls.find((c) => c.operation === 'GetShardIterator')!.input).toEqual({
      StreamARN: streamArn,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: '5',
    });
  });

  it('retries a throttled ListShards page and surfaces a lasting failure as retriable', async () => {
    // arrange
    let throttles = 1;
    const flaky = await sourceFor((call) =>
      throttles-- > 0 ? { error: 'LimitExceededException' } : listShards(call.input),
    );
    // act
    const shards = await flaky.listShards();
    // assert
    expect(shards).toHaveLength(3);
    await client!.destroy();
    await double!.stop();
    const down = await sourceFor(() => ({ error: 'InternalFailure', status: 500 }), {
      listShardsAttempts: 2,
    });
    await expect(down.listShards()).rejects.toMatchObject({
      name: 'StreamReadError',
      retriable: true,
      httpStatusCode: 500,
    });
    expect(double!.calls).toHaveLength(2);
  });
});
