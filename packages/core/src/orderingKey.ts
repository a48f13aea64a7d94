import type { AttributeValue } from './AttributeValue.js';

/**
 * A canonical, stable string for a DynamoDB primary key, used as ordering key and document id:
 * attribute names sorted, each value with its type tag, so `{id: {N: "1"}}` and
 * `{id: {S: "1"}}` differ and attribute order in the wire format does not matter.
 *
 * @example
 * canonicalKey({ pk: { S: 'user#1' }, sk: { N: '7' } }) // '[["pk","S","user#1"],["sk","N","7"]]'
 */
export function canonicalKey(keys: Record<string, AttributeValue>): string {
  const names = Object.keys(keys);
  if (names.length === 1) {
    const name = names[0]!;
    return `[${encodeKeyPart(name, keys[name]!)}]`;
  }
  names.sort();
  let out = '[';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (i > 0) out += ',';
    out += encodeKeyPart(name, keys[name]!);
  }
  return `${out}]`;
}

function encodeKeyPart(name: string, value: AttributeValue): string {
  // Key attributes are S, N or B only (DynamoDB rule); other types are encoded generically.
  if (value.S !== undefined) return `[${JSON.stringify(name)},"S",${JSON.stringify(value.S)}]`;
  if (value.N !== undefined) return `[${JSON.stringify(name)},"N",${JSON.stringify(value.N)}]`;
  if (value.B !== undefined) {
    const bytes = value.B as Uint8Array | string;
    const b64 = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64');
    return `[${JSON.stringify(name)},"B",${JSON.stringify(b64)}]`;
  }
  return `[${JSON.stringify(name)},"?",${JSON.stringify(value)}]`;
}
