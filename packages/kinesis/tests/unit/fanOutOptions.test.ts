import { KinesisClient } from '@aws-sdk/client-kinesis';
import { ConfigurationError } from '@shardline/core';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, expect, it } from 'vitest';
import { KinesisSource, type KinesisSourceOptions } from '../../src/index.js';

const client = new KinesisClient({ region: 'us-east-1' });
const streamArn = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';

describe('KinesisSource retrieval options', () => {
  it('refuses fan-out over an HTTP/1.1 client, naming the handler to use', () => {
    // arrange
    const http1 = new KinesisClient({ region: 'us-east-1', requestHandler: new NodeHttpHandler() });
    // act
    const build = () =>
      new KinesisSource({ client: http1, streamArn, retrieval: 'fan-out', consumerName: 'app' });
    // assert
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(
      /needs a client that speaks HTTP\/2 .* speaks http\/1.1: .*NodeHttp2Handler/,
    );
    expect(() => new KinesisSource({ client: http1, streamArn })).not.toThrow();
  });

  it('accepts polling by default and fan-out with a consumer name and the stream ARN', () => {
    // act / assert
    expect(() => new KinesisSource({ client, streamArn })).not.toThrow();
    expect(
      () => new KinesisSource({ client, streamArn, retrieval: 'fan-out', consumerName: 'app.v1' }),
    ).not.toThrow();
  });

  it.each([
    [{ retrieval: 'push' as never }, /retrieval must be 'polling' or 'fan-out', got "push"/],
    [
      { retrieval: 'fan-out' as const },
      /retrieval 'fan-out' needs a consumerName .* got undefined/,
    ],
    [
      { retrieval: 'fan-out' as const, consumerName: 'has space' },
      /needs a consumerName of 1 to 128 characters .* got "has space"/,
    ],
    [{ consumerName: 'app' }, /used only with retrieval: 'fan-out'/],
    [
      {
        retrieval: 'fan-out' as const,
        consumerName: 'app',
        streamArn: undefined,
        streamName: 'orders',
      },
      /retrieval 'fan-out' needs the stream ARN .* KinesisSource.create/,
    ],
    [
      { retrieval: 'fan-out' as const, consumerName: 'app', consumerActivationTimeoutMs: -1 },
      /consumerActivationTimeoutMs must be a whole number from 0 to 3600000, got -1/,
    ],
  ])('rejects %o', (bad, message) => {
    // act
    const build = () => new KinesisSource({ client, streamArn, ...bad } as KinesisSourceOptions);
    // assert
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(message);
  });
});
