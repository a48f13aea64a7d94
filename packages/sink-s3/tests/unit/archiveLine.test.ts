import { type ChangeRecord, decodeDynamoDBRecord } from '@shardline/core';
import {
  type MakeDynamoDBRecordOptions,
  makeDynamoDBRecord,
  streamArnFor,
} from '@shardline/testing';
import { describe, expect, it } from 'vitest';
import {
  keyPosition,
  minutePrefix,
  objectKey,
  parseObjectRange,
  partitionPath,
  stringifyArchiveValue,
  toArchiveLine,
} from '../../src/index.js';

function change(options: Partial<MakeDynamoDBRecordOptions> = {}): ChangeRecord {
  return decodeDynamoDBRecord(
    makeDynamoDBRecord({
      keys: { voter: 'v1' },
      newImage: { voter: 'v1', vote: 'A' },
      ...options,
    }) as never,
    { streamId: streamArnFor('Votes'), shardId: 'shardId-1' },
  );
}

describe('archive line', () => {
  it('writes a number too long for a double as its exact decimal string', () => {
    // arrange
    const record = decodeDynamoDBRecord(
      {
        eventName: 'INSERT',
        eventSourceARN: streamArnFor('Votes'),
        dynamodb: {
          Keys: { voter: { S: 'v1' } },
          NewImage: {
            voter: { S: 'v1' },
            big: { N: '123456789012345678901234567890' },
            small: { N: '42' },
          },
          SequenceNumber: '100000000000000000001',
          ApproximateCreationDateTime: 1_795_442_400,
        },
      },
      { streamId: streamArnFor('Votes'), shardId: 'shardId-1' },
    );
    // act
    const line = JSON.parse(stringifyArchiveValue(toArchiveLine(record)));
    // assert
    expect(line.newImage).toEqual({
      voter: 'v1',
      big: '123456789012345678901234567890',
      small: 42,
    });
    expect(line).toMatchObject({
      eventName: 'INSERT',
      table: 'Votes',
      shardId: 'shardId-1',
      sequenceNumber: '100000000000000000001',
      approximateCreationTime: '2026-11-23T14:00:00.000Z',
      oldImage: null,
      keys: { voter: 'v1' },
    });
  });

  it('writes binary as base64 and sets as arrays', () => {
    // arrange
    const record = change({
      newImage: { voter: 'v1', blob: new Uint8Array([1, 2, 3]), tags: new Set(['x', 'y']) },
    });
    // act
    const line = JSON.parse(stringifyArchiveValue(toArchiveLine(record)));
    // assert
    expect(line.newImage.blob).toBe('AQID');
    expect(line.newImage.tags).toEqual(['x', 'y']);
  });
});

describe('object keys', () => {
  it('partitions by table, UTC date and hour', () => {
    // arrange
    const at = Date.parse('2026-11-23T14:59:59Z');
    // act / assert
    expect(partitionPath('Votes', at)).toBe('table=Votes/dt=2026-11-23/hour=14');
    expect(partitionPath('Votes', undefined)).toBe('table=Votes/dt=unknown/hour=unknown');
  });

  it('round-trips a position range through the key, sorting numerically', () => {
    // arrange
    const first = keyPosition('99', undefined);
    const last = keyPosition('1000', 3);
    // act
    const key = objectKey('table=Votes/dt=2026-11-23/hour=14/shardId-1/', first, last);
    // assert
    expect(parseObjectRange(key)).toEqual({ first, last });
    expect(first < last).toBe(true);
  });

  it('puts the minute before the range and the digest after it', () => {
    // arrange
    const folder = 'table=Votes/dt=2026-11-23/hour=14/unknown/';
    const first = keyPosition('99', undefined);
    const last = keyPosition('1000', undefined);
    // act
    const base = minutePrefix(folder, Date.parse('2026-11-23T14:07:59Z'));
    const key = objectKey(base, first, last, '0123456789ab');
    // assert
    expect(base).toBe(`${folder}m07-`);
    expect(minutePrefix(folder, undefined)).toBe(`${folder}mxx-`);
    expect(key).toBe(`${folder}m07-${first}-${last}-0123456789ab.jsonl.gz`);
    expect(parseObjectRange(key)).toEqual({ first, last });
  });
});
