import type { AttributeValue } from './AttributeValue.js';

/**
 * A canonical, stable string for a DynamoDB primary key, used as ordering key and default
 * document id: `name=T:value` for a single-attribute key, and for a composite key the
 * attributes sorted by name, each `name=T<length>:value`, joined by `,`. The type tag keeps
 * `{id: {N: "1"}}` and `{id: {S: "1"}}` apart; the length prefix makes composite keys
 * unambiguous whatever the values contain; binary values are base64.
 *
 * Why not JSON: this runs once per record on the hot path, and the key must be hashed for
 * per-key dispatch; plain concatenation costs a fraction of `JSON.stringify`.
 *
 * @example
 * canonicalKey({ UserID: { S: 'u1' } })                  // 'UserID=S:u1'
 * canonicalKey({ sk: { N: '7' }, pk: { S: 'user#1' } })  // 'pk=S6:user#1,sk=N1:7'
 */
export function canonicalKey(keys: Record<string, AttributeValue>): string {
  let single: string | undefined;
  let count = 0;
  for (const name in keys) {
    single = name;
    if (++count > 1) break;
  }
  if (count === 1) {
    const [type, value] = typedValue(keys[single!]!);
    return `${single}=${type}:${value}`;
  }
  const names = Object.keys(keys).sort();
  let out = '';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const [type, value] = typedValue(keys[name]!);
    out += `${i > 0 ? ',' : ''}${name}=${type}${value.length}:${value}`;
  }
  return out;
}

function typedValue(value: AttributeValue): [string, string] {
  // Key attributes are S, N or B only (a DynamoDB rule); anything else is encoded generically.
  if (value.S !== undefined) return ['S', value.S];
  if (value.N !== undefined) return ['N', value.N];
  if (value.B !== undefined) {
    const bytes = value.B;
    return ['B', typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64')];
  }
  return ['?', JSON.stringify(value)];
}
