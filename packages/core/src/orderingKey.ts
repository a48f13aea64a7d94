import type { AttributeValue } from './AttributeValue.js';

/**
 * How many single-attribute canonical keys are kept for reuse (see {@link canonicalKey}); the
 * cache is emptied when it would grow past this.
 */
export const CANONICAL_KEY_CACHE_SIZE = 10_000;

/** Key values longer than this many characters are not cached (bounded memory per entry). */
const MAX_CACHED_VALUE_LENGTH = 128;

/** Single-attribute canonical keys by attribute name, then type, then value. */
const singleKeys = new Map<string, { S: Map<string, string>; N: Map<string, string> }>();
let singleKeyCount = 0;

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
 * Why a cache for single-attribute keys: a batch repeats its hot keys, and every record's key is
 * hashed by the dispatcher. A freshly concatenated string is hashed through V8's slow path
 * (about 130 ns on Node 20), the value string as Lambda's JSON parser left it costs a fraction
 * of that, and the cached key's own hash is computed once. The cache holds at most
 * {@link CANONICAL_KEY_CACHE_SIZE} keys of values up to 128 characters.
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
    const attribute = keys[single!]!;
    if (attribute.S !== undefined) return singleKey(single!, 'S', attribute.S);
    if (attribute.N !== undefined) return singleKey(single!, 'N', attribute.N);
    const [type, value] = typedValue(attribute);
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

function singleKey(name: string, type: 'S' | 'N', value: string): string {
  if (value.length > MAX_CACHED_VALUE_LENGTH) return `${name}=${type}:${value}`;
  let byType = singleKeys.get(name);
  if (byType === undefined) {
    byType = { S: new Map(), N: new Map() };
    singleKeys.set(name, byType);
  }
  const values = byType[type];
  let key = values.get(value);
  if (key === undefined) {
    key = `${name}=${type}:${value}`;
    if (++singleKeyCount > CANONICAL_KEY_CACHE_SIZE) {
      for (const entry of singleKeys.values()) {
        entry.S.clear();
        entry.N.clear();
      }
      singleKeyCount = 1;
    }
    values.set(value, key);
  }
  return key;
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
