import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  type JsonProtocolAnswer,
  type JsonProtocolCall,
  type JsonProtocolDouble,
  startJsonProtocolDouble,
  streamArnFor,
} from '@shardline/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDBStreamsSource, type DynamoDBStreamsSourceOptions } from '../../src/index.js';

// Paged listings and CHILD_SHARDS lookups need more shards than DynamoDB Local ever makes, so
// these run against a scripted endpoint speaking the DynamoDB Streams JSON protocol.

const streamArn = streamArnFor('Votes');

/** A stream of three generations: a → b → d, a → c (a split is not possible here, a rollover is). */
const SHARDS = [
  {
    ShardId: 'shardId-a',
    SequenceNumberRange: { StartingSequenceNumber: '100', EndingSequenceNumber: '199' },
  },
  {
    ShardId: 'shardId-b',
    ParentShardId: 'shardId-a',
    SequenceNumberRange: { StartingSequenceNumber: '200', EndingSequenceNumber: '299' },
  },
  {
    ShardId: 'shardId-c',
    ParentShardId: 'shardId-gone',
    SequenceNumberRange: { StartingSequenceNumber: '300' },
  },
  {
    ShardId: 'shardId-d',
    ParentShardId: 'shardId-b',
    SequenceNumberRange: { StartingSequenceNumber: '400' },
  },
  {
    ShardId: 'shardId-e',
    ParentShardId: 'shardId-b',
    SequenceNumberRange: { StartingSequenceNumber: '500' },
  },
];

function describeStream(input: Record<string, unknown>, honourFilter = true): JsonProtocolAnswer {
  const filter = input.ShardFilter as { Type: string; ShardId: string } | undefined;
  if (filter && honourFilter) {
    return {
      output: {
        StreamDescription: {
          StreamArn: streamArn,
          Shards: SHARDS.filter((s) => s.ParentShardId === filter.ShardId),
        },
      },
    };
  }
  const start = input.ExclusiveStartShardId as string | undefined;
  const limit = (input.Limit as number | undefined) ?? 100;
  const from = start ? SHARDS.findIndex((s) => s.ShardId === start) + 1 : 0;
  const page = SHARDS.slice(from, from + limit);
  const more = from + limit < SHARDS.length;
  return {
    output: {
      StreamDescription: {
        StreamArn: streamArn,
        StreamStatus: 'ENABLED',
        Shards: page,
        ...(more ? { LastEvaluatedShardId: page.at(-1)!.ShardId } : {}),
      },
    },
  };
}

/** The last page of shard b: one record, then no next iterator (SHARD_END). */
function readShardB(call: JsonProtocolCall): JsonProtocolAnswer | undefined {
  if (call.operation === 'GetShardIterator') return { output: { ShardIterator: 'iterator-b' } };
  if (call.operation === 'GetRecords') {
    return {
      output: {
        Records: [
          {
            eventID: 'evt-1',
            eventName: 'INSERT',
            eventSource: 'aws:dynamodb',
            dynamodb: {
              ApproximateCreationDateTime: 1_764_000_000,
              Keys: { id: { S: 'a' } },
              SequenceNumber: '299',
              SizeBytes: 10,
              StreamViewType: 'KEYS_ONLY',
            },
          },
        ],
      },
    };
  }
  return undefined;
}

let double: JsonProtocolDouble | undefined;
let client: DynamoDBStreamsClient | undefined;

afterEach(async () => {
  client?.destroy();
  await double?.stop();
});

async function sourceFor(
  answer: (call: JsonProtocolCall) => JsonProtocolAnswer,
  options: Partial<DynamoDBStreamsSourceOptions> = {},
) {
  double = await startJsonProtocolDouble('dynamodb-streams', answer);
  client = new DynamoDBStreamsClient(double.clientConfig);
  return new DynamoDBStreamsSource({ client, streamArn, maxDescribeCallsPerSecond: 9, ...options });
}

describe('DynamoDBStreamsSource against the DynamoDB Streams protocol', () => {
  it('pages DescribeStream through ExclusiveStartShardId and keeps parent links', async () => {
    // arrange
    const source = await sourceFor((call) => describeStream(call.input), { describeLimit: 2 });
    // act
    const shards = await source.listShards();
    // assert
    expect(shards.map((s) => [s.shardId, s.parentShardIds, s.endingSequenceNumber])).toEqual([
      ['shardId-a', [], '199'],
      ['shardId-b', ['shardId-a'], '299'],
      ['shardId-c', ['shardId-gone'], undefined],
      ['shardId-d', ['shardId-b'], undefined],
      ['shardId-e', ['shardId-b'], undefined],
    ]);
    expect(double!.calls.map((c) => [c.input.ExclusiveStartShardId, c.input.Limit])).toEqual([
      [undefined, 2],
      ['shardId-b', 2],
      ['shardId-d', 2],
    ]);
  });

  it('retries a throttled DescribeStream page', async () => {
    // arrange
    let throttles = 2;
    const source = await sourceFor((call) =>
      throttles-- > 0 ? { error: 'LimitExceededException' } : describeStream(call.input),
    );
    // act
    const shards = await source.listShards();
    // assert
    expect(shards).toHaveLength(5);
    expect(double!.calls).toHaveLength(3);
  });

  it('gives up on a missing stream at once, naming it and the fix', async () => {
    // arrange
    const source = await sourceFor(() => ({
      error: 'ResourceNotFoundException',
      message: 'no such stream',
    }));
    // act
    const attempt = source.listShards();
    // assert
    await expect(attempt).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringMatching(
        /^DynamoDB stream arn:\S+ not found in region \S+ at http:\/\/127\.0\.0\.1:\d+: .*DynamoDBStreamsSource\.fromTable/,
      ),
      retriable: false,
      cause: { name: 'StreamReadError', code: 'ResourceNotFoundException', retriable: false },
    });
    expect(double!.calls).toHaveLength(1);
  });

  it('ends a shard with its children from a CHILD_SHARDS lookup, and the lag of its last record', async () => {
    // arrange
    const source = await sourceFor((call) => readShardB(call) ?? describeStream(call.input), {
      now: () => 1_764_000_000_000 + 5000,
    });
    // act
    const page = await (await source.openShard('shardId-b', { type: 'TRIM_HORIZON' })).next();
    // assert
    expect(page.shardEnded).toBe(true);
    expect(page.childShardIds).toEqual(['shardId-d', 'shardId-e']);
    expect(page.records.map((r) => r.sequenceNumber)).toEqual(['299']);
    expect(page.millisBehindLatest).toBe(5000);
    expect(double!.calls.find((c) => c.operation === 'DescribeStream')!.input.ShardFilter).toEqual({
      Type: 'CHILD_SHARDS',
      ShardId: 'shardId-b',
    });
  });

  it('detects an endpoint that ignores ShardFilter and falls back to full listings', async () => {
    // arrange
    const source = await sourceFor((call) => readShardB(call) ?? describeStream(call.input, false));
    // act
    const page = await (await source.openShard('shardId-b', { type: 'TRIM_HORIZON' })).next();
    // assert
    expect(page.childShardIds).toEqual(['shardId-d', 'shardId-e']);
    expect(source.usesShardFilter).toBe(false);
  });

  it('returns SHARD_END again, with no further call, once a shard ended', async () => {
    // arrange
    const source = await sourceFor((call) => readShardB(call) ?? describeStream(call.input));
    const iterator = await source.openShard('shardId-b', { type: 'TRIM_HORIZON' });
    await iterator.next();
    const callsAtEnd = double!.calls.length;
    // act
    const again = await iterator.next();
    // assert
    expect(again).toMatchObject({
      records: [],
      shardEnded: true,
      childShardIds: ['shardId-d', 'shardId-e'],
    });
    expect(double!.calls).toHaveLength(callsAtEnd);
  });
});
