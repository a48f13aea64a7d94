import type { AttributeValue } from './AttributeValue.js';

/**
 * How many canonical keys are kept for reuse (see {@link canonicalKey}); the cache is emptied
 * when it would grow past this.
 */
export const CANONICAL_KEY_CACHE_SIZE = 10_000;

/** Key values longer than this many characters are not cached (bounded memory per entry). */
const MAX_CACHED_VALUE_LENGTH = 128;

/** A cached key attribute: its canonical key when the key ends here, and the next attribute. */
interface KeyNode {
  key: string | undefined;
  next: AttributeLevel | undefined;
}

/** Cached key attributes by name, then type, then value. */
type AttributeLevel = Map<string, { S: Map<string, KeyNode>; N: Map<string, KeyNode> }>;

let cache: AttributeLevel = new Map();
let cachedKeys = 0;

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
 * Why a cache: a batch repeats its hot keys, and every record's key is hashed by the
 * dispatcher. A freshly concatenated string is hashed through V8's slow path (about 130 ns on
 * Node 20), the values as Lambda's JSON parser left them cost a fraction of that, and a cached
 * key's own hash is computed once. Keys of one or two S or N attributes (every DynamoDB primary
 * key that is not binary) are cached, at most {@link CANONICAL_KEY_CACHE_SIZE} of them, with
 * values up to 128 characters.
 *
 * @example
 * canonicalKey({ UserID: { S: 'u1' } })                  // 'UserID=S:u1'
 * canonicalKey({ sk: { N: '7' }, pk: { S: 'user#1' } })  // 'pk=S6:user#1,sk=N1:7'
 */
export function canonicalKey(keys: Record<string, AttributeValue>): string {
  let first: string | undefined;
  let second: string | undefined;
  let count = 0;
  for (const name in keys) {
    if (count === 0) first = name;
    else second = name;
    if (++count > 2) break;
  }
  if (count === 1) return cachedKey(keys, first!, undefined) ?? buildKey(keys);
  if (count === 2) {
    const inOrder = first! < second!;
    return (
      cachedKey(keys, inOrder ? first! : second!, inOrder ? second! : first!) ?? buildKey(keys)
    );
  }
  return buildKey(keys);
}

/** The key from the cache, or built and cached; `undefined` for keys the cache does not hold. */
function cachedKey(
  keys: Record<string, AttributeValue>,
  a: string,
  b: string | undefined,
): string | undefined {
  const attributeA = keys[a]!;
  const attributeB = b === undefined ? undefined : keys[b]!;
  // Check before walking: a path is only grown for a key that the cache will hold and count.
  if (!isCacheable(attributeA) || (attributeB !== undefined && !isCacheable(attributeB))) {
    return undefined;
  }
  let node = walk(a, attributeA, b, attributeB);
  if (node.key !== undefined) return node.key;
  const key = buildKey(keys);
  if (++cachedKeys > CANONICAL_KEY_CACHE_SIZE) {
    cache = new Map();
    cachedKeys = 1;
    node = walk(a, attributeA, b, attributeB);
  }
  node.key = key;
  return key;
}

function isCacheable(attribute: AttributeValue): boolean {
  const value = attribute.S ?? attribute.N;
  return value !== undefined && value.length <= MAX_CACHED_VALUE_LENGTH;
}

/** The cache node of the key's attributes, in name order; creates what is missing. */
function walk(
  a: string,
  attributeA: AttributeValue,
  b: string | undefined,
  attributeB: AttributeValue | undefined,
): KeyNode {
  const node = child(cache, a, attributeA);
  if (b === undefined) return node;
  node.next ??= new Map();
  return child(node.next, b, attributeB!);
}

function child(level: AttributeLevel, name: string, attribute: AttributeValue): KeyNode {
  let byType = level.get(name);
  if (byType === undefined) {
    byType = { S: new Map(), N: new Map() };
    level.set(name, byType);
  }
  const values = attribute.S !== undefined ? byType.S : byType.N;
  const value = (attribute.S ?? attribute.N)!;
  let node = values.get(value);
  if (node === undefined) {
    node = { key: undefined, next: undefined };
    values.set(value, node);
  }
  return node;
}

/** Builds the canonical key (see {@link canonicalKey}). */
function buildKey(keys: Record<string, AttributeValue>): string {
  const names = Object.keys(keys);
  if (names.length === 1) {
    const [type, value] = typedValue(keys[names[0]!]!);
    return `${names[0]}=${type}:${value}`;
  }
  names.sort();
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
