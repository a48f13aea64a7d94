import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OldestEntries } from '../../src/index.js';

type Op =
  | { kind: 'add'; key: number }
  | { kind: 'refresh'; key: number }
  | { kind: 'delete'; key: number }
  | { kind: 'trim'; max: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), key: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ kind: fc.constant('refresh' as const), key: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ kind: fc.constant('trim' as const), max: fc.integer({ min: 0, max: 12 }) }),
);

describe('OldestEntries', () => {
  it('keeps exactly the newest entries, in insertion order, whatever else changes the map', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        // arrange: the model is the list of keys in insertion order
        const map = new Map<number, string>();
        const oldest = new OldestEntries(map);
        let model: number[] = [];
        for (const o of ops) {
          // act
          if (o.kind === 'add') {
            map.set(o.key, 'v');
            if (!model.includes(o.key)) model.push(o.key);
          } else if (o.kind === 'refresh') {
            map.delete(o.key);
            map.set(o.key, 'v');
            model = [...model.filter((k) => k !== o.key), o.key];
          } else if (o.kind === 'delete') {
            map.delete(o.key);
            model = model.filter((k) => k !== o.key);
          } else {
            oldest.trimTo(o.max);
            model = model.slice(Math.max(0, model.length - o.max));
          }
          // assert
          expect([...map.keys()]).toEqual(model);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('trims a Set first in, first out across many rounds', () => {
    // arrange
    const ids = new Set<string>();
    const oldest = new OldestEntries(ids);
    // act: a window of 1000 over 50,000 ids, trimmed after every add
    for (let i = 0; i < 50_000; i++) {
      ids.add(`id-${i}`);
      oldest.trimTo(1000);
    }
    // assert
    expect(ids.size).toBe(1000);
    expect(ids.has('id-48999')).toBe(false);
    expect(ids.has('id-49000')).toBe(true);
    expect([...ids][0]).toBe('id-49000');
  });
});
