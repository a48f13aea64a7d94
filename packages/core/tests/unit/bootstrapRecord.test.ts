import { describe, expect, it } from 'vitest';
import { bootstrapRecord, decodeDynamoDBRecord } from '../../src/index.js';

const AT = Date.UTC(2026, 11, 7, 10, 0, 0, 250);
const options = {
  tableName: 'Users',
  keySchema: ['UserID', 'Since'],
  bootstrapId: 'users-2026-12',
  shardId: 'scan-3',
  readAtMs: AT,
};
const item = { UserID: { S: 'u1' }, Since: { N: '2020' }, Name: { S: 'Ada' } };

describe('bootstrapRecord', () => {
  it('is an INSERT of the item as read, marked bootstrap, at the read time', () => {
    // act
    const record = bootstrapRecord(item, options);

    // assert
    expect(record.bootstrap).toBe(true);
    expect(record.eventName).toBe('INSERT');
    expect(record.keys).toEqual({ UserID: 'u1', Since: 2020 });
    expect(record.newImage).toEqual({ UserID: 'u1', Since: 2020, Name: 'Ada' });
    expect(record.oldImage).toBeUndefined();
    expect(record.approximateCreationTimeMs).toBe(AT);
    expect(record.version).toBeUndefined();
    expect(record.shardId).toBe('scan-3');
    expect(record.streamId).toBe('bootstrap:Users');
    expect(record.tableName).toBe('Users');
    expect(record.decodeError).toBeUndefined();
  });

  it('gives an item the same position in every bootstrap, and ids that name the bootstrap', () => {
    // act
    const a = bootstrapRecord(item, options);
    const b = bootstrapRecord(
      { ...item, Name: { S: 'changed' } },
      {
        ...options,
        bootstrapId: 'other',
        shardId: 'export-0',
        readAtMs: AT + 5000,
      },
    );
    const other = bootstrapRecord({ ...item, UserID: { S: 'u2' } }, options);

    // assert
    expect(a.sequenceNumber).toMatch(/^\d+$/);
    expect(b.sequenceNumber).toBe(a.sequenceNumber);
    expect(other.sequenceNumber).not.toBe(a.sequenceNumber);
    expect(a.eventId).toBe(`bootstrap:users-2026-12:${a.sequenceNumber}`);
    expect(b.eventId).toBe(`bootstrap:other:${a.sequenceNumber}`);
    expect(a.orderingKey).toBe(b.orderingKey);
  });

  it('stays a bootstrap record when its raw record is decoded again (a parked record replayed)', () => {
    // arrange: through JSON, as a failure destination keeps it
    const raw = JSON.parse(JSON.stringify(bootstrapRecord(item, options).raw));

    // act
    const again = decodeDynamoDBRecord(raw, { streamId: 'bootstrap:Users', shardId: 'scan-3' });

    // assert
    expect(again.bootstrap).toBe(true);
    expect(again.newImage).toEqual({ UserID: 'u1', Since: 2020, Name: 'Ada' });
    expect(again.approximateCreationTimeMs).toBe(AT);
  });

  it('comes back undecodable, not thrown, when the item lacks a key attribute', () => {
    const record = bootstrapRecord({ UserID: { S: 'u1' } }, options);
    expect(record.decodeError).toBeDefined();
  });
});
