/**
 * Serializes a document to JSON the way OpenSearch can index it: DynamoDB sets become arrays,
 * binary values base64 strings, and numbers beyond a double's precision (kept exact as
 * `NumberValue` by Shardline's decoder) and bigints become decimal strings, which OpenSearch
 * coerces into numeric fields without loss of the text.
 */
export function serializeDocument(document: unknown): string {
  return JSON.stringify(document, replacer);
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Set) return [...value];
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (isNumberValue(value)) return value.value;
  return value;
}

function isNumberValue(value: object): value is { value: string } {
  return (
    value.constructor?.name === 'NumberValue' &&
    typeof (value as { value?: unknown }).value === 'string'
  );
}
