import { KinesisClient } from '@aws-sdk/client-kinesis';
import { ConfigurationError } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import { KinesisSource, type KinesisSourceOptions } from '../../src/index.js';

const client = new KinesisClient({ region: 'us-east-1' });
const arn = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
const valid: KinesisSourceOptions = { client, streamArn: arn };

describe('KinesisSource options', () => {
  it('takes its stream id from the ARN and its kind from the payload format', () => {
    // act
    const raw = new KinesisSource(valid);
    const ddb = new KinesisSource({ ...valid, payload: 'dynamodb' });
    // assert
    expect(raw.streamId).toBe(arn);
    expect(raw.kind).toBe('kinesis');
    expect(ddb.kind).toBe('kinesis-dynamodb');
  });

  it.each([
    [{ streamArn: 'orders' }, /streamArn must be a Kinesis stream ARN.*got "orders"/],
    [{ streamArn: undefined }, /Give streamArn or streamName/],
    [{ payload: 'avro' as never }, /payload must be 'raw', 'json' or 'dynamodb', got "avro"/],
    [
      { maxRecordsPerRead: 10_001 },
      /maxRecordsPerRead must be a whole number from 1 to 10000, got 10001/,
    ],
    [{ listShardsPageSize: 0 }, /listShardsPageSize .* got 0/],
    [{ maxListShardsCallsPerSecond: 0 }, /maxListShardsCallsPerSecond must be above 0, got 0/],
  ])('rejects %o with a ConfigurationError that names the value', (bad, message) => {
    // act
    const build = () => new KinesisSource({ ...valid, ...bad });
    // assert
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(message);
  });
});
