import { describe, expect, it } from 'vitest';
import { defaultDeduplicationId, defaultMessageGroupId, toFifoId } from '../../src/index.js';

const VALID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

describe('FIFO ids', () => {
  it('keeps a canonical key that SNS accepts as it is', () => {
    expect(defaultMessageGroupId({ orderingKey: '[["id","S","a-1"]]' })).toBe('[["id","S","a-1"]]');
  });

  it('hashes keys that are too long or carry characters SNS refuses, stably', () => {
    // arrange
    const spaced = '[["id","S","hello world"]]';
    const long = `[["id","S","${'x'.repeat(200)}"]]`;
    // act
    const a = toFifoId(spaced);
    const b = toFifoId(long);
    // assert
    expect(a).toMatch(VALID);
    expect(b).toMatch(VALID);
    expect(a).not.toBe(b);
    expect(toFifoId(spaced)).toBe(a);
  });

  it('derives the deduplication id from shard and sequence number within 128 characters', () => {
    const id = defaultDeduplicationId({
      shardId: 'shardId-000000000000',
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      subSequenceNumber: 3,
    });
    expect(id).toBe(
      'shardId-000000000000:49590338271490256608559692538361571095921575989136588898:3',
    );
    expect(id).toMatch(VALID);
  });

  it('gives DynamoDB changes without a shard id (Lambda) distinct ids by eventID, stable on redelivery', () => {
    // arrange: two shards' changes with the same sequence number, as Lambda decodes them
    const a = {
      source: 'dynamodb-streams' as const,
      shardId: 'unknown',
      sequenceNumber: '100',
      subSequenceNumber: undefined,
      eventId: 'e1a2',
    };
    const b = { ...a, eventId: 'f9b8' };
    // act / assert
    expect(defaultDeduplicationId(a)).not.toBe(defaultDeduplicationId(b));
    expect(defaultDeduplicationId({ ...a })).toBe(defaultDeduplicationId(a));
    expect(defaultDeduplicationId(a)).toMatch(VALID);
  });
});
