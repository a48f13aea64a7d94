import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CANONICAL_KEY_CACHE_SIZE,
  canonicalKey,
  comparePositions,
  compareSequenceNumbers,
  padSequenceNumber,
} from '../../src/index.js';

describe('sequence numbers', () => {
  it('compare as integers, not as strings, whatever their lengths', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 60n }),
        fc.bigInt({ min: 0n, max: 10n ** 60n }),
        (a, b) => {
          const expected = a < b ? -1 : a > b ? 1 : 0;
          expect(compareSequenceNumbers(a.toString(), b.toString())).toBe(expected);
        },
      ),
    );
    expect(compareSequenceNumbers('9', '10')).toBe(-1); // '9' > '10' as strings
  });

  it('order sub-sequences inside an aggregate after the plain record', () => {
    expect(
      comparePositions({ sequenceNumber: '5' }, { sequenceNumber: '5', subSequenceNumber: 0 }),
    ).toBeLessThan(0);
    expect(
      comparePositions(
        { sequenceNumber: '5', subSequenceNumber: 2 },
        { sequenceNumber: '5', subSequenceNumber: 1 },
      ),
    ).toBeGreaterThan(0);
  });

  it('pad to a fixed width so string order is numeric order', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        (a, b) => {
          const pa = padSequenceNumber(a.toString());
          const pb = padSequenceNumber(b.toString());
          expect(pa < pb).toBe(a < b);
        },
      ),
    );
    expect(() => padSequenceNumber('12a')).toThrow(/decimal digits/);
    expect(() => padSequenceNumber('123', 2)).toThrow(/longer than 2 digits/);
  });
});

describe('canonicalKey', () => {
  it('is independent of attribute order and keeps the type', () => {
    expect(canonicalKey({ b: { N: '1' }, a: { S: 'x' } })).toBe(
      canonicalKey({ a: { S: 'x' }, b: { N: '1' } }),
    );
    expect(canonicalKey({ id: { N: '1' } })).not.toBe(canonicalKey({ id: { S: '1' } }));
    expect(canonicalKey({ id: { B: 'AAE=' } })).toBe(
      canonicalKey({ id: { B: Uint8Array.of(0, 1) } }),
    );
    expect(canonicalKey({ UserID: { S: 'u1' } })).toBe('UserID=S:u1');
    expect(canonicalKey({ sk: { N: '7' }, pk: { S: 'user#1' } })).toBe('pk=S6:user#1,sk=N1:7');
  });

  it('keeps composite keys apart whatever their values contain', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (a, b, c, d) => {
        const left = canonicalKey({ pk: { S: a }, sk: { S: b } });
        const right = canonicalKey({ pk: { S: c }, sk: { S: d } });
        expect(left === right).toBe(a === c && b === d);
      }),
    );
  });

  it('gives the same string whether a key is built anew or taken from its cache', () => {
    // arrange: keys of one or two attributes whose values repeat (cache hits), of every type,
    // short and too long to cache, and an independent model of the documented format
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ minLength: 129 }));
    const attribute = fc.oneof(
      value.map((v) => ({ S: v })),
      value.map((v) => ({ N: v })),
      fc.constantFrom({ B: 'AAE=' }),
    );
    const keys = fc.oneof(
      fc.record({ name: fc.constantFrom('id', 'UserID'), attribute }).map((k) => ({
        [k.name]: k.attribute,
      })),
      fc
        .record({ pk: attribute, sk: attribute, order: fc.boolean() })
        .map(({ pk, sk, order }) => (order ? { pk, sk } : { sk, pk })),
    );
    const model = (key: Record<string, { S?: string; N?: string; B?: string }>) => {
      const parts = Object.keys(key)
        .sort()
        .map((name) => {
          const [type, v] = Object.entries(key[name]!)[0]!;
          return Object.keys(key).length === 1
            ? `${name}=${type}:${v}`
            : `${name}=${type}${v!.length}:${v}`;
        });
      return parts.join(',');
    };
    // act / assert
    fc.assert(
      fc.property(fc.array(keys, { minLength: 1, maxLength: 40 }), (batch) => {
        for (const key of [...batch, ...batch]) expect(canonicalKey(key)).toBe(model(key));
      }),
      { numRuns: 300 },
    );
  });

  it('stays exact after its cache fills and is emptied', () => {
    // arrange
    const values = Array.from({ length: CANONICAL_KEY_CACHE_SIZE + 10 }, (_, i) => `v${i}`);
    // act
    const first = values.map((v) => canonicalKey({ id: { S: v } }));
    const again = values.map((v) => canonicalKey({ id: { S: v } }));
    // assert
    expect(first[0]).toBe('id=S:v0');
    expect(again).toEqual(first);
    expect(new Set(again).size).toBe(values.length);
    expect(canonicalKey({ id: { N: 'v0' } })).toBe('id=N:v0');
    expect(canonicalKey({ other: { S: 'v0' } })).toBe('other=S:v0');
    const composite = values.map((v) => canonicalKey({ sk: { N: '1' }, pk: { S: v } }));
    expect(composite.at(-1)).toBe(`pk=S${values.at(-1)!.length}:${values.at(-1)},sk=N1:1`);
    expect(values.map((v) => canonicalKey({ pk: { S: v }, sk: { N: '1' } }))).toEqual(composite);
  });
});
