import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import type { ChangeRecord } from '@shardline/core';

/**
 * The message attributes a change carries by default, for subscription filter policies:
 * `eventName` (INSERT, MODIFY, REMOVE), `table`, and one `key.<name>` per primary key attribute
 * (String, Number or Binary, as the key's type). Attribute names keep the characters SNS allows
 * (letters, digits, `_`, `-`, `.`); others become `_`.
 *
 * @example
 * // a filter policy that receives only removals of one tenant's items
 * { "eventName": ["REMOVE"], "key.tenant": ["t1"] }
 */
export function defaultMessageAttributes(
  record: ChangeRecord,
): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {
    eventName: { DataType: 'String', StringValue: record.eventName },
  };
  if (record.tableName) attributes.table = { DataType: 'String', StringValue: record.tableName };
  for (const [name, value] of Object.entries(record.marshalledKeys ?? {})) {
    const attributeName = `key.${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    if (value.S !== undefined)
      attributes[attributeName] = { DataType: 'String', StringValue: value.S };
    else if (value.N !== undefined)
      attributes[attributeName] = { DataType: 'Number', StringValue: value.N };
    else if (value.B !== undefined)
      attributes[attributeName] = {
        DataType: 'Binary',
        BinaryValue:
          typeof value.B === 'string' ? Buffer.from(value.B, 'base64') : (value.B as Uint8Array),
      };
  }
  return attributes;
}

/** Bytes SNS counts for attributes: each name, data type and value. */
export function attributesByteSize(attributes: Record<string, MessageAttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    if (value.StringValue !== undefined) size += Buffer.byteLength(value.StringValue);
    if (value.BinaryValue !== undefined) size += value.BinaryValue.length;
  }
  return size;
}
