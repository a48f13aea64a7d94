import type { NumberValue } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
  decodeDynamoDBRecordSafely,
} from '../../src/index.js';

const streamId = 'arn:aws:dynamodb:us-west-2:111122223333:table/T/stream/2015-05-11T21:21:33.291';
const context = { streamId, shardId: 'shardId-00000001573689847184-864758bb' };

/** The documented Lambda DynamoDB sample record (Lambda developer guide), with richer images. */
function sample(
  overrides: Partial<DynamoDBStreamRecordLike['dynamodb']> = {},
  top: Partial<DynamoDBStreamRecordLike> = {},
): DynamoDBStreamRecordLike {
  return {
    eventID: '1',
    eventName: 'MODIFY',
    eventVersion: '1.0',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-west-2',
    eventSourceARN: streamId,
    dynamodb: {
      ApproximateCreationDateTime: 1693997155.0,
      Keys: { Id: { N: '101' } },
      NewImage: {
        Id: { N: '101' },
        Message: { S: 'This item has changed' },
        Tags: { SS: ['a', 'b'] },
        Scores: { NS: ['1', '2.5'] },
        Blob: { B: 'AAEC' },
        Blobs: { BS: ['AQ==', 'Ag=='] },
        Nested: { M: { list: { L: [{ N: '1' }, { S: 'x' }, { NULL: true }, { BOOL: false }] } } },
        Big: { N: '123456789012345678901234567890' },
        Precise: { N: '0.1234567890123456789' },
        Safe: { N: '9007199254740991' },
      },
      OldImage: { Id: { N: '101' }, Message: { S: 'New item!' } },
      SequenceNumber: '222',
      SizeBytes: 59,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      ...overrides,
    },
    ...top,
  } as DynamoDBStreamRecordLike;
}

describe('decodeDynamoDBRecord', () => {
  it('decodes the documented Lambda record: envelope, keys, both images', () => {
    // act
    const record = decodeDynamoDBRecord(sample(), context);
    // assert
    expect(record).toMatchObject({
      source: 'dynamodb-streams',
      streamId,
      shardId: context.shardId,
      sequenceNumber: '222',
      eventId: '1',
      eventName: 'MODIFY',
      tableName: 'T',
      streamViewType: 'NEW_AND_OLD_IMAGES',
      sizeBytes: 59,
      isTtlDelete: false,
      approximateCreationTimeMs: 1693997155000,
      version: undefined,
    });
    expect(record.keys).toEqual({ Id: 101 });
    expect(record.oldImage).toEqual({ Id: 101, Message: 'New item!' });
    expect(record.orderingKey).toBe('Id=N:101');
  });

  it('decodes sets, binary, nested maps and lists', () => {
    const image = decodeDynamoDBRecord(sample(), context).newImage!;
    expect(image.Tags).toEqual(new Set(['a', 'b']));
    expect(image.Scores).toEqual(new Set([1, 2.5]));
    expect(Buffer.from(image.Blob as Uint8Array)).toEqual(Buffer.from([0, 1, 2]));
    expect(
      [...(image.Blobs as Set<Uint8Array>)].map((b) => Buffer.from(b).toString('hex')),
    ).toEqual(['01', '02']);
    expect(image.Nested).toEqual({ list: [1, 'x', null, false] });
  });

  it('keeps numbers beyond double precision exact, as NumberValue, and safe ones as number', () => {
    const image = decodeDynamoDBRecord(sample(), context).newImage!;
    expect((image.Big as NumberValue).toString()).toBe('123456789012345678901234567890');
    expect((image.Precise as NumberValue).toString()).toBe('0.1234567890123456789');
    expect(image.Safe).toBe(9007199254740991);
  });

  it('flags a REMOVE made by TTL (userIdentity dynamodb.amazonaws.com)', () => {
    const ttl = decodeDynamoDBRecord(
      sample(
        { NewImage: undefined },
        {
          eventName: 'REMOVE',
          userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
        },
      ),
      context,
    );
    const user = decodeDynamoDBRecord(
      sample({ NewImage: undefined }, { eventName: 'REMOVE' }),
      context,
    );
    expect(ttl.isTtlDelete).toBe(true);
    expect(ttl.newImage).toBeUndefined();
    expect(user.isTtlDelete).toBe(false);
  });

  it.each([
    ['Lambda', { type: 'Service', principalId: 'dynamodb.amazonaws.com' }, true],
    ['API / SDK v3', { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' }, true],
    ['principal only', { principalId: 'dynamodb.amazonaws.com' }, false],
    ['type only', { type: 'Service', principalId: 'someone' }, false],
    ['IAM user', { type: 'IAMUser', principalId: 'dynamodb.amazonaws.com' }, false],
    ['null', null, false],
  ])(
    'isTtlDelete needs both type Service and principal dynamodb.amazonaws.com (%s)',
    (_shape, userIdentity, expected) => {
      // arrange
      const raw = sample({ NewImage: undefined }, { eventName: 'REMOVE', userIdentity });
      // act
      const record = decodeDynamoDBRecord(raw, context);
      // assert
      expect(record.isTtlDelete).toBe(expected);
    },
  );

  it('a MODIFY is never a TTL delete, whatever its userIdentity', () => {
    // arrange
    const raw = sample(
      {},
      { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } },
    );
    // act / assert
    expect(decodeDynamoDBRecord(raw, context).isTtlDelete).toBe(false);
  });

  it('exposes the awsRegion of the record as region', () => {
    // act
    const record = decodeDynamoDBRecord(sample(), context);
    // assert
    expect(record.region).toBe('us-west-2');
  });

  it('decodes KEYS_ONLY and NEW_IMAGE stream views', () => {
    const keysOnly = decodeDynamoDBRecord(
      sample({ NewImage: undefined, OldImage: undefined, StreamViewType: 'KEYS_ONLY' }),
      context,
    );
    const newOnly = decodeDynamoDBRecord(
      sample({ OldImage: undefined, StreamViewType: 'NEW_IMAGE' }),
      context,
    );
    expect(keysOnly.streamViewType).toBe('KEYS_ONLY');
    expect(keysOnly.newImage).toBeUndefined();
    expect(keysOnly.oldImage).toBeUndefined();
    expect(keysOnly.keys).toEqual({ Id: 101 });
    expect(newOnly.newImage?.Message).toBe('This item has changed');
    expect(newOnly.oldImage).toBeUndefined();
  });

  it('reads the SDK v3 GetRecords shape, where the creation time is a Date', () => {
    const record = decodeDynamoDBRecord(
      sample({ ApproximateCreationDateTime: new Date('2026-11-23T10:00:00Z') }),
      context,
    );
    expect(record.approximateCreationTimeMs).toBe(Date.parse('2026-11-23T10:00:00Z'));
  });

  it('gives a version from the creation time when the source reorders (µs precision)', () => {
    const record = decodeDynamoDBRecord(sample({ ApproximateCreationDateTime: 1731924555370 }), {
      ...context,
      creationTimeUnit: 'ms',
      versionFromCreationTime: true,
    });
    expect(record.version).toBe(1731924555370000n);
  });

  it('throws a DecodeError naming the shard and sequence number for a malformed envelope', () => {
    const bad = sample({}, { eventName: 'UPSERT' });
    expect(() => decodeDynamoDBRecord(bad, context)).toThrow(DecodeError);
    expect(() => decodeDynamoDBRecord(bad, context)).toThrow(
      /record 222 of shard shardId-00000001573689847184-864758bb: eventName "UPSERT"/,
    );
    for (const sequenceNumber of [
      'abc',
      '',
      '12a4',
      '12 4',
      '-12',
      '1.5',
      '\u0661\u0662',
      '12/4',
      '12:4',
      '12\n',
    ]) {
      expect(() =>
        decodeDynamoDBRecord(sample({ SequenceNumber: sequenceNumber }), context),
      ).toThrow(/not a decimal string/);
    }
    expect(() => decodeDynamoDBRecord(sample({ Keys: {} }), context)).toThrow(/no Keys/);
  });

  it('fails lazily, with a DecodeError, on an image with an unknown attribute type', () => {
    const record = decodeDynamoDBRecord(
      sample({ NewImage: { Id: { N: '101' }, Odd: { Q: 'x' } as never } }),
      context,
    );
    expect(record.keys).toEqual({ Id: 101 });
    expect(() => record.newImage).toThrow(DecodeError);
    expect(() => record.newImage).toThrow(/record 222 of shard .*invalid DynamoDB image/);
  });

  it('safely wraps a malformed record so it carries its error and keeps its place', () => {
    const record = decodeDynamoDBRecordSafely(sample({}, { eventName: 'UPSERT' }), context);
    expect(record.decodeError).toBeInstanceOf(DecodeError);
    expect(record.sequenceNumber).toBe('222');
    expect(record.orderingKey).toBe('Id=N:101');
  });
});
