import { describe, expect, it } from 'vitest';
import { howToReach } from '../../src/commands/demo.js';
import { isLocalStreamsEndpoint, LOCAL_TIME_ROUNDING_NOTE } from '../../src/localEndpoint.js';

describe('the note on DynamoDB Local record times', () => {
  it('applies to loopback endpoints of DynamoDB Streams only', () => {
    // arrange
    const cases: [Record<string, string>, boolean][] = [
      [{ AWS_ENDPOINT_URL: 'http://127.0.0.1:8000' }, true],
      [{ AWS_ENDPOINT_URL: 'http://localhost:8000' }, true],
      [{ AWS_ENDPOINT_URL: 'http://[::1]:8000' }, true],
      [{ AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://127.0.0.1:9000' }, true],
      // the Streams-specific variable wins, as in the SDK
      [
        {
          AWS_ENDPOINT_URL: 'http://127.0.0.1:8000',
          AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'https://streams.dynamodb.eu-west-1.amazonaws.com',
        },
        false,
      ],
      [{}, false],
      [{ AWS_ENDPOINT_URL: 'not a url' }, false],
    ];
    // act
    const answers = cases.map(([env]) => isLocalStreamsEndpoint(env));
    // assert
    expect(answers).toEqual(cases.map(([, local]) => local));
  });

  it('is printed by the demo next to the lines to paste, and not in JSON output', () => {
    // act
    const text = howToReach('http://127.0.0.1:8000', false);
    const json = howToReach('http://127.0.0.1:8000', true);
    // assert
    expect(text.some((l) => l.includes(LOCAL_TIME_ROUNDING_NOTE))).toBe(true);
    expect(json).toEqual([]);
  });
});
