import { readFileSync } from 'node:fs';
import type { ChangeRecord, DynamoDBStreamRecordLike } from '@shardline/core';
import { decodeDynamoDBRecord } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import { decodeDynamoDBEvent, LAMBDA_UNKNOWN_SHARD_ID } from '../../src/index.js';

// Raw GetRecords bodies captured from DynamoDB Local by test/fixtures/capture.ts.
const fixture = JSON.parse(
  readFileSync(
    new URL('../../../../test/fixtures/dynamodb-local.getrecords.json', import.meta.url),
    'utf8',
  ),
) as {
  streams: Record<
    'NEW_AND_OLD_IMAGES' | 'NEW_IMAGE' | 'KEYS_ONLY',
    { streamArn: string; shardId: string; getRecords: { Records: DynamoDBStreamRecordLike[] } }
  >;
};

/** The captured records of one view as a Lambda event (wire format plus eventSourceARN). */
function lambdaEvent(view: keyof typeof fixture.streams, extra: object = {}) {
  const { streamArn, getRecords } = fixture.streams[view];
  return {
    Records: getRecords.Records.map((r) => ({ ...r, eventSourceARN: streamArn })),
    ...extra,
  };
}

/** What the SDK v3 makes of the same wire record: Dates and bytes instead of numbers and base64. */
function sdkShape(record: DynamoDBStreamRecordLike): DynamoDBStreamRecordLike {
  const revive = (value: unknown, key?: string): unknown => {
    if ((key === 'B' || key === 'BS') && value !== undefined) {
      return Array.isArray(value)
        ? value.map((b) => new Uint8Array(Buffer.from(b as string, 'base64')))
        : new Uint8Array(Buffer.from(value as string, 'base64'));
    }
    if (Array.isArray(value)) return value.map((v) => revive(v));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v, k)]));
    }
    return value;
  };
  const copy = revive(record) as DynamoDBStreamRecordLike;
  const seconds = record.dynamodb!.ApproximateCreationDateTime as number;
  copy.dynamodb!.ApproximateCreationDateTime = new Date(seconds * 1000);
  return copy;
}

const numberText = (value: unknown) => String(value);

/** Bytes as plain arrays (the wire path yields Buffers, the SDK path Uint8Arrays), numbers as text. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (value instanceof Set) return { set: [...value].map(normalize) };
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object' && value.constructor === Object) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return typeof value === 'object' && value !== null ? String(value) : value;
}

describe('decoding records captured from DynamoDB Local', () => {
  it('decodes a NEW_AND_OLD_IMAGES stream: every attribute type, exact big numbers, binary', () => {
    // arrange
    const event = lambdaEvent('NEW_AND_OLD_IMAGES');
    // act
    const [insert, modify, remove] = decodeDynamoDBEvent(event) as [
      ChangeRecord,
      ChangeRecord,
      ChangeRecord,
    ];
    // assert
    expect([insert.eventName, modify.eventName, remove.eventName]).toEqual([
      'INSERT',
      'MODIFY',
      'REMOVE',
    ]);
    expect(insert.keys).toEqual({ pk: 'user#1', sk: 7 });
    expect(insert.orderingKey).toBe('pk=S6:user#1,sk=N1:7');
    const item = insert.newImage!;
    expect(item).toMatchObject({
      name: 'Ada',
      small: 42,
      decimal: 3.14,
      flag: false,
      nothing: null,
    });
    expect(numberText(item.big)).toBe('123456789012345678901234567890');
    expect(numberText(item.precise)).toBe('0.12345678901234567890123456789');
    expect([...(item.blob as Uint8Array)]).toEqual([0, 1, 2, 250, 255]);
    expect(item.tags).toEqual(new Set(['a', 'b']));
    expect([...(item.scores as Set<unknown>)].map(numberText).sort()).toEqual([
      '1',
      '99999999999999999999',
    ]);
    expect([...(item.blobs as Set<Uint8Array>)].map((b) => [...b])).toEqual([[1], [2, 3]]);
    const nested = item.nested as { list: unknown[]; deeper: { big: unknown; bin: Uint8Array } };
    expect(nested.list).toEqual(['x', 1, true, null]);
    expect(numberText(nested.deeper.big)).toBe('98765432109876543210');
    expect([...nested.deeper.bin]).toEqual([9]);
    expect(insert.oldImage).toBeUndefined();
    expect(modify.oldImage).toMatchObject({ small: 42, tags: new Set(['a', 'b']) });
    expect(modify.newImage).toMatchObject({ small: 43, tags: new Set(['c']) });
    expect(remove.newImage).toBeUndefined();
    expect(remove.oldImage).toMatchObject({ small: 43 });
    expect(remove.isTtlDelete).toBe(false);
  });

  it('decodes the SDK v3 shape of the same records to the same changes', () => {
    // arrange
    const { streamArn, shardId, getRecords } = fixture.streams.NEW_AND_OLD_IMAGES;
    const context = { streamId: streamArn, shardId };
    // act
    const fromWire = getRecords.Records.map((r) => decodeDynamoDBRecord(r, context));
    const fromSdk = getRecords.Records.map((r) => decodeDynamoDBRecord(sdkShape(r), context));
    // assert
    expect(fromSdk.map((r) => normalize(r.newImage))).toEqual(
      fromWire.map((r) => normalize(r.newImage)),
    );
    expect(fromSdk.map((r) => normalize(r.oldImage))).toEqual(
      fromWire.map((r) => normalize(r.oldImage)),
    );
    expect(normalize(fromSdk[0]!.newImage)).toMatchObject({ blob: { bytes: [0, 1, 2, 250, 255] } });
    expect(fromSdk.map((r) => r.approximateCreationTimeMs)).toEqual(
      getRecords.Records.map((r) => (r.dynamodb!.ApproximateCreationDateTime as number) * 1000),
    );
    expect(fromSdk.map((r) => r.sequenceNumber)).toEqual(fromWire.map((r) => r.sequenceNumber));
  });

  it('decodes a NEW_IMAGE stream: new images only', () => {
    // arrange
    const event = lambdaEvent('NEW_IMAGE');
    // act
    const records = decodeDynamoDBEvent(event);
    // assert
    expect(records.map((r) => r.streamViewType)).toEqual(['NEW_IMAGE', 'NEW_IMAGE', 'NEW_IMAGE']);
    expect(records.map((r) => r.newImage?.small)).toEqual([42, 43, undefined]);
    expect(records.map((r) => r.oldImage)).toEqual([undefined, undefined, undefined]);
  });

  it('decodes a KEYS_ONLY stream: keys and no images', () => {
    // arrange
    const event = lambdaEvent('KEYS_ONLY');
    // act
    const records = decodeDynamoDBEvent(event);
    // assert
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    expect(records.map((r) => r.keys)).toEqual(Array(3).fill({ pk: 'user#1', sk: 7 }));
    expect(records.every((r) => r.newImage === undefined && r.oldImage === undefined)).toBe(true);
    expect(records.every((r) => r.decodeError === undefined)).toBe(true);
  });

  it.each([
    ['Lambda', { type: 'Service', principalId: 'dynamodb.amazonaws.com' }],
    ['SDK v3', { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' }],
  ])('marks a REMOVE made by TTL (%s userIdentity shape)', (_shape, userIdentity) => {
    // arrange: DynamoDB Local runs no TTL; the captured REMOVE gets the identity TTL deletes carry
    const { streamArn, getRecords } = fixture.streams.NEW_AND_OLD_IMAGES;
    const remove = { ...getRecords.Records[2]!, userIdentity, eventSourceARN: streamArn };
    // act
    const [record] = decodeDynamoDBEvent({ Records: [remove] });
    // assert
    expect(record!.eventName).toBe('REMOVE');
    expect(record!.isTtlDelete).toBe(true);
    expect(record!.oldImage).toMatchObject({ name: 'Ada' });
  });

  it('takes the stream from eventSourceARN and the shard from a tumbling-window event', () => {
    // arrange
    const plain = lambdaEvent('KEYS_ONLY');
    const windowed = lambdaEvent('KEYS_ONLY', { shardId: 'shardId-00000001-abc' });
    // act
    const fromPlain = decodeDynamoDBEvent(plain);
    const fromWindow = decodeDynamoDBEvent(windowed);
    // assert
    expect(fromPlain[0]!.streamId).toBe(fixture.streams.KEYS_ONLY.streamArn);
    expect(fromPlain[0]!.tableName).toBe('fixture-keys-only');
    expect(fromPlain.map((r) => r.shardId)).toEqual(Array(3).fill(LAMBDA_UNKNOWN_SHARD_ID));
    expect(fromWindow.map((r) => r.shardId)).toEqual(Array(3).fill('shardId-00000001-abc'));
    expect(fromPlain[0]!.eventId).toBe(fixture.streams.KEYS_ONLY.getRecords.Records[0]!.eventID);
  });

  it('keeps a malformed record in the batch with its decode error instead of throwing', () => {
    // arrange
    const event = lambdaEvent('KEYS_ONLY');
    const broken = { ...event.Records[1]!, eventName: 'UPSERT' };
    // act
    const records = decodeDynamoDBEvent({ Records: [event.Records[0]!, broken] });
    // assert
    expect(records[0]!.decodeError).toBeUndefined();
    expect(records[1]!.decodeError?.message).toMatch(/eventName "UPSERT"/);
    expect(records[1]!.sequenceNumber).toBe(broken.dynamodb!.SequenceNumber);
  });
});
