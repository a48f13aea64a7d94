/**
 * JSON for DynamoDB items as Shardline decodes them: sets become arrays, binary values base64,
 * and numbers beyond a double's precision (`NumberValue`) and bigints decimal strings.
 */
export function serializeJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Set) return [...value];
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (
    value.constructor?.name === 'NumberValue' &&
    typeof (value as { value?: unknown }).value === 'string'
  ) {
    return (value as { value: string }).value;
  }
  return value;
}
