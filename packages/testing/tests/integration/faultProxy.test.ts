import { DynamoDBStreamsClient, ListStreamsCommand } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  KinesisClient,
  ListStreamsCommand as ListKinesisStreams,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FaultProxy,
  type KinesaliteServer,
  startFaultProxy,
  startKinesalite,
} from '../../src/index.js';

let kinesalite: KinesaliteServer;
let kinesisProxy: FaultProxy;
let streamsProxy: FaultProxy;
let kinesis: KinesisClient;
let streams: DynamoDBStreamsClient;
const exchanges: string[] = [];

beforeAll(async () => {
  kinesalite = await startKinesalite();
  kinesisProxy = await startFaultProxy({
    target: kinesalite.endpoint,
    service: 'kinesis',
    onExchange: (e) => exchanges.push(`${e.operation} ${e.status}`),
  });
  // Faulted calls are answered by the proxy itself, so the DynamoDB Streams error format can be
  // checked without DynamoDB Local behind it.
  streamsProxy = await startFaultProxy({
    target: kinesalite.endpoint,
    service: 'dynamodb-streams',
  });
  kinesis = new KinesisClient(kinesisProxy.clientConfig);
  streams = new DynamoDBStreamsClient(streamsProxy.clientConfig);
  await kinesis.send(new CreateStreamCommand({ StreamName: 'proxied', ShardCount: 1 }));
});

afterAll(async () => {
  kinesis?.destroy();
  streams?.destroy();
  await kinesisProxy?.stop();
  await streamsProxy?.stop();
  await kinesalite?.stop();
});

const listKinesis = () => kinesis.send(new ListKinesisStreams({}));

describe('fault proxy', () => {
  it('forwards calls untouched when no fault is set, and taps their bodies', async () => {
    // act
    const result = await listKinesis();
    // assert
    expect(result.StreamNames).toContain('proxied');
    expect(kinesisProxy.calls('ListStreams')).toBeGreaterThanOrEqual(1);
    expect(kinesisProxy.faulted('ListStreams')).toBe(0);
    expect(exchanges).toContain('ListStreams 200');
  });

  it.each([
    [{ type: 'throttle' } as const, 'ProvisionedThroughputExceededException', 400],
    [{ type: 'expiredIterator' } as const, 'ExpiredIteratorException', 400],
    [{ type: 'trimmed' } as const, 'TrimmedDataAccessException', 400],
    [{ type: 'serverError' } as const, 'InternalFailure', 500],
    [{ type: 'serverError', status: 503 } as const, 'InternalFailure', 503],
    [{ type: 'error', code: 'KMSThrottlingException' } as const, 'KMSThrottlingException', 400],
  ])('answers %o in the Kinesis JSON error format the SDK parses', async (fault, code, status) => {
    // arrange
    kinesisProxy.inject({ operation: 'ListStreams', fault });
    // act
    const error = await listKinesis().catch((e: unknown) => e);
    // assert
    expect(error).toMatchObject({ name: code, $metadata: { httpStatusCode: status } });
  });

  it('answers LimitExceededException in the DynamoDB Streams (awsJson 1.0) format', async () => {
    // arrange
    streamsProxy.inject({ operation: 'ListStreams', fault: { type: 'throttle' } });
    // act
    const error = await streams.send(new ListStreamsCommand({})).catch((e: unknown) => e);
    // assert
    expect(error).toMatchObject({
      name: 'LimitExceededException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('faults only the named operation, after `skip` calls, `times` times', async () => {
    // arrange
    kinesisProxy.inject({
      operation: 'ListStreams',
      fault: { type: 'serverError' },
      skip: 1,
      times: 2,
    });
    kinesisProxy.inject({ operation: 'DescribeStream', fault: { type: 'serverError' } });
    const before = kinesisProxy.faulted('ListStreams');
    // act
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(
        await listKinesis().then(
          () => 'ok',
          (e: { name: string }) => e.name,
        ),
      );
    }
    // assert
    expect(outcomes).toEqual(['ok', 'InternalFailure', 'InternalFailure', 'ok']);
    expect(kinesisProxy.faulted('ListStreams') - before).toBe(2);
    kinesisProxy.clear();
  });

  it('drops the connection with no response', async () => {
    // arrange
    kinesisProxy.inject({ operation: 'ListStreams', fault: { type: 'drop' } });
    // act
    const error = await listKinesis().catch((e: unknown) => e);
    // assert
    expect(error).toBeInstanceOf(Error);
    expect(
      (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
    ).toBeUndefined();
    expect((await listKinesis()).StreamNames).toContain('proxied');
  });

  it('forwards a delayed call once the delay is over', async () => {
    // arrange
    kinesisProxy.inject({ operation: 'ListStreams', fault: { type: 'delay', ms: 50 } });
    const before = kinesisProxy.faulted('ListStreams');
    // act
    const result = await listKinesis();
    // assert
    expect(result.StreamNames).toContain('proxied');
    expect(kinesisProxy.faulted('ListStreams') - before).toBe(1);
  });
});
