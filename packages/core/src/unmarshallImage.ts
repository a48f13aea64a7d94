import { type NumberValue, NumberValueImpl, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from './AttributeValue.js';
import type { Item } from './ChangeRecord.js';
import { DecodeError, errorMessage, type RecordLocation } from './errors.js';

/**
 * Turns a DynamoDB number string into a JS value without losing precision: a `number` when the
 * string round-trips exactly through a double (the common case), otherwise a `NumberValue`
 * from `@aws-sdk/util-dynamodb`, which keeps the exact decimal string and marshals back to the
 * same `N` value. DynamoDB numbers have up to 38 digits; doubles keep about 15.
 */
export function convertNumber(value: string): number | NumberValue {
  const n = Number(value);
  if (Number.isFinite(n) && isExact(value, n)) return n;
  return NumberValueImpl.from(value);
}

function isExact(value: string, n: number): boolean {
  if (Number.isSafeInteger(n)) {
    // "007", "1.0" and "1e3" are still exactly n; only digits lost beyond 2^53 matter here.
    return !/^-?\d{16,}$/.test(value) || BigInt(value) === BigInt(n);
  }
  // A non-integer or large value is exact when printing the double gives back the same number.
  const printed = String(n);
  if (printed === value) return true;
  return Number(printed) === n && normalizeDecimal(printed) === normalizeDecimal(value);
}

function normalizeDecimal(value: string): string {
  let s = value.toLowerCase();
  if (s.includes('e')) {
    // Exponent forms: compare through the canonical double text only when it is short.
    return String(Number(s));
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  s = s.replace(/^(-?)0+(?=\d)/, '$1');
  return s;
}

/**
 * Unmarshals a stream image. Unknown attribute types or malformed values become a
 * {@link DecodeError} naming the shard and sequence number.
 */
export function unmarshallImage(
  image: Record<string, AttributeValue>,
  location: RecordLocation,
): Item {
  try {
    // Lambda events carry binary as base64 text; the unmarshaller wants bytes.
    return unmarshall(withBinaryBytes(image) as never, { wrapNumbers: convertNumber }) as Item;
  } catch (error) {
    throw new DecodeError(`invalid DynamoDB image (${errorMessage(error)})`, location, {
      cause: error,
    });
  }
}

function withBinaryBytes(image: Record<string, AttributeValue>): Record<string, AttributeValue> {
  let copy: Record<string, AttributeValue> | undefined;
  for (const name in image) {
    const value = image[name]!;
    const converted = convertBinary(value);
    if (converted !== value) {
      copy ??= { ...image };
      copy[name] = converted;
    }
  }
  return copy ?? image;
}

function convertBinary(value: AttributeValue): AttributeValue {
  if (typeof value.B === 'string') return { B: Buffer.from(value.B, 'base64') };
  if (value.BS?.some((b) => typeof b === 'string')) {
    return { BS: value.BS.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64') : b)) };
  }
  if (value.M) {
    const m = withBinaryBytes(value.M);
    return m === value.M ? value : { M: m };
  }
  if (value.L) {
    let changed = false;
    const l = value.L.map((v) => {
      const c = convertBinary(v);
      if (c !== v) changed = true;
      return c;
    });
    return changed ? { L: l } : value;
  }
  return value;
}
