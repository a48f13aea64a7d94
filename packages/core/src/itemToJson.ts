import { NumberValueImpl } from '@aws-sdk/util-dynamodb';

/**
 * JSON for values as Shardline decodes DynamoDB items: a `NumberValue` (a number too long for a
 * double) becomes its exact decimal string, a bigint its decimal string, binary (`Uint8Array`,
 * `Buffer`) base64, and a set an array. Every sink that writes JSON (OpenSearch documents, S3
 * archive lines, SNS messages, failure destinations) uses this one function.
 *
 * @example
 * itemToJson({ big: NumberValueImpl.from('12345678901234567890'), tags: new Set(['a']) })
 * // '{"big":"12345678901234567890","tags":["a"]}'
 */
export function itemToJson(value: unknown): string {
  return JSON.stringify(value, itemJsonReplacer);
}

/** The `JSON.stringify` replacer behind {@link itemToJson}. */
export function itemJsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // `value` already went through toJSON (a Buffer's is {type, data}); the holder has the original.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof NumberValueImpl) return original.toString();
  if (original instanceof Uint8Array) return Buffer.from(original).toString('base64');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Set) return [...value];
  return value;
}
