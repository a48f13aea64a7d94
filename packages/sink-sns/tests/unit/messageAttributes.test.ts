import { describe, expect, it } from 'vitest';
import { attributesByteSize, defaultMessageAttributes } from '../../src/index.js';
import { change } from '../helpers/records.js';

describe('defaultMessageAttributes', () => {
  it('carries event name, table and typed key attributes with names SNS accepts', () => {
    // arrange
    const record = change({
      keys: { 'tenant id': 't1', 'order#': 7 },
      oldImage: { 'tenant id': 't1', 'order#': 7 },
    });
    // act
    const attributes = defaultMessageAttributes(record);
    // assert
    expect(attributes).toEqual({
      eventName: { DataType: 'String', StringValue: 'REMOVE' },
      table: { DataType: 'String', StringValue: 'Orders' },
      'key.tenant_id': { DataType: 'String', StringValue: 't1' },
      'key.order_': { DataType: 'Number', StringValue: '7' },
    });
    expect(Object.keys(attributes).every((name) => /^[A-Za-z0-9_.-]+$/.test(name))).toBe(true);
  });

  it('counts name, type and value bytes as SNS does', () => {
    expect(attributesByteSize({ ab: { DataType: 'String', StringValue: 'xyz' } })).toBe(2 + 6 + 3);
  });
});
