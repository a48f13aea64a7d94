import { type ChangeRecord, ConfigurationError, decodeDynamoDBRecord } from '@shardline/core';
import {
  type MakeDynamoDBRecordOptions,
  makeDynamoDBRecord,
  streamArnFor,
} from '@shardline/testing';
import { describe, expect, it } from 'vitest';
import { countBy } from '../../src/index.js';

function change(options: Omit<MakeDynamoDBRecordOptions, 'keys'>): ChangeRecord {
  return decodeDynamoDBRecord(makeDynamoDBRecord({ keys: { voter: 'v1' }, ...options }) as never, {
    streamId: streamArnFor(),
    shardId: 'shard-1',
  });
}

describe('countBy', () => {
  const mapping = countBy({ attribute: 'vote', counter: 'num' });

  it.each([
    [
      'an INSERT adds one to the new value',
      { newImage: { vote: 'A' } },
      [{ key: { vote: 'A' }, add: { num: 1 } }],
    ],
    [
      'a MODIFY from A to B moves one from A to B',
      { oldImage: { vote: 'A' }, newImage: { vote: 'B' } },
      [
        { key: { vote: 'A' }, add: { num: -1 } },
        { key: { vote: 'B' }, add: { num: 1 } },
      ],
    ],
    [
      'a MODIFY that keeps the value does nothing',
      { oldImage: { vote: 'A', n: 1 }, newImage: { vote: 'A', n: 2 } },
      [],
    ],
    [
      'a REMOVE takes one from the old value',
      { eventName: 'REMOVE', oldImage: { vote: 'B' } },
      [{ key: { vote: 'B' }, add: { num: -1 } }],
    ],
    ['an item without the attribute is not counted', { newImage: { other: 1 } }, []],
    [
      'a MODIFY that adds the attribute only adds',
      { oldImage: {}, newImage: { vote: 'C' } },
      [{ key: { vote: 'C' }, add: { num: 1 } }],
    ],
  ] as const)('%s', (_name, options, expected) => {
    // arrange
    const record = change(options as Omit<MakeDynamoDBRecordOptions, 'keys'>);
    // act
    const deltas = mapping.deltas(record);
    // assert
    expect(deltas).toEqual(expected);
  });

  it('throws a ConfigurationError naming the view type when a REMOVE has no old image', () => {
    // arrange
    const record = change({
      eventName: 'REMOVE',
      oldImage: { vote: 'A' },
      streamViewType: 'NEW_IMAGE',
    });
    // act / assert
    expect(() => mapping.deltas(record)).toThrow(ConfigurationError);
    expect(() => mapping.deltas(record)).toThrow(/stream view NEW_IMAGE.*NEW_AND_OLD_IMAGES/);
  });

  it('uses summaryKey as the key attribute and declares the stream view it needs', () => {
    // arrange
    const byCandidate = countBy({ attribute: 'vote', summaryKey: 'candidate' });
    // act
    const deltas = byCandidate.deltas(change({ newImage: { vote: 'A' } }));
    // assert
    expect(deltas).toEqual([{ key: { candidate: 'A' }, add: { count: 1 } }]);
    expect(byCandidate.streamViewTypes).toEqual(['NEW_AND_OLD_IMAGES']);
  });

  it('rejects a counter named like the key', () => {
    // arrange / act / assert
    expect(() => countBy({ attribute: 'vote', counter: 'vote' })).toThrow(
      /pick another counter name/,
    );
  });
});
