import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ConfigurationError } from '@shardline/core';
import { streamArnFor } from '@shardline/testing';
import { describe, expect, it } from 'vitest';
import { DynamoDBStreamsSource, type DynamoDBStreamsSourceOptions } from '../../src/index.js';

const client = new DynamoDBStreamsClient({ region: 'us-east-1' });
const valid: DynamoDBStreamsSourceOptions = { client, streamArn: streamArnFor('Votes') };

describe('DynamoDBStreamsSource options', () => {
  it('takes its stream id from the stream ARN', () => {
    // act
    const source = new DynamoDBStreamsSource(valid);
    // assert
    expect(source.streamId).toBe(streamArnFor('Votes'));
    expect(source.kind).toBe('dynamodb-streams');
    expect(source.usesShardFilter).toBe(true);
  });

  it.each([
    [
      { streamArn: 'arn:aws:kinesis:us-east-1:1:stream/x' },
      /streamArn must be a DynamoDB stream ARN.*fromTable/,
    ],
    [
      { maxRecordsPerRead: 1001 },
      /maxRecordsPerRead must be a whole number from 1 to 1000, got 1001/,
    ],
    [{ maxRecordsPerRead: 0 }, /maxRecordsPerRead .* got 0/],
    [{ describeLimit: 101 }, /describeLimit must be a whole number from 1 to 100, got 101/],
    [
      { maxDescribeCallsPerSecond: 10 },
      /maxDescribeCallsPerSecond must be above 0 and under 10.*got 10/,
    ],
    [
      { trimmedDataPolicy: 'ignore' as never },
      /trimmedDataPolicy must be 'stop' or 'skip-to-trim-horizon', got "ignore"/,
    ],
  ])('rejects %o with a ConfigurationError that names the value', (bad, message) => {
    // act
    const build = () => new DynamoDBStreamsSource({ ...valid, ...bad });
    // assert
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(message);
  });
});
