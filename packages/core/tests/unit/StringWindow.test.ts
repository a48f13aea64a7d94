import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, StringWindow, sampledHash, stringHash } from '../../src/index.js';

type Op =
  | { kind: 'set'; key: string; value: number }
  | { kind: 'delete'; key: string }
  | { kind: 'check'; key: string };

/** Keys from a small pool (so they repeat), some long (the arena grows), some wide (> U+00FF). */
const key = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((n) => `k${n}`),
  fc.integer({ min: 0, max: 10 }).map((n) => `${'x'.repeat(100)}${n}`),
  fc.integer({ min: 0, max: 10 }).map((n) => `€${n}`),
  fc.integer({ min: 0, max: 10 }).map((n) => `¬${n}`), // U+00AC: the low byte of '€' (U+20AC)
  fc.constant(''),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.double() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('check' as const), key }) },
);

/**
 * Two distinct keys with one hash: the collision case a 32-bit hash must survive. The sampled
 * hash skips character 1 of a 32-character key, so those collide by construction; whole-key
 * hashes are searched for (a birthday search, about 80,000 keys).
 */
function collidingKeys(hash: (key: string) => number): [string, string] {
  if (hash === sampledHash) return [`a1${'0'.repeat(30)}`, `a2${'0'.repeat(30)}`];
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const k = `evt-${i}`;
    const h = hash(k);
    const other = seen.get(h);
    if (other !== undefined) return [other, k];
    seen.set(h, k);
  }
}

/** Switches `window` to whole-key hashes, through keys of one sampled hash. */
function forceWholeKeys(window: StringWindow): void {
  for (let n = 0; n < 40; n++) window.set(`r${String(n).padStart(2, '0')}${'s'.repeat(50)}`, 0);
  expect(window.hashesWholeKeys).toBe(true);
}

describe('StringWindow', () => {
  it('holds the live entries of its ring (set moves a key to the newest end, the oldest go first), and never a key it was not given or that was deleted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.array(op, { maxLength: 300 }), (max, ops) => {
        // arrange: the model is the ring, oldest first, with dead places left by set and delete.
        // A growth rebuild drops dead places, so the window may keep a live key the ring has
        // already pushed out: it holds at least the ring's live keys, at most `max`, and only
        // keys set and not deleted since, with their last value.
        const window = new StringWindow(max);
        let ring: { key: string; value: number; dead: boolean }[] = [];
        const latest = new Map<string, number>();
        const keys = new Set<string>();
        for (const o of ops) {
          keys.add(o.key);
          // act
          if (o.kind === 'set') {
            window.set(o.key, o.value);
            if (max > 0) latest.set(o.key, o.value);
            for (const e of ring) if (e.key === o.key) e.dead = true;
            if (max > 0) {
              if (ring.length === max) ring = ring.slice(1);
              ring.push({ key: o.key, value: o.value, dead: false });
            }
          } else if (o.kind === 'delete') {
            const held = window.has(o.key);
            const live = ring.some((e) => e.key === o.key && !e.dead);
            expect(window.delete(o.key)).toBe(held);
            if (live) expect(held).toBe(true);
            latest.delete(o.key);
            for (const e of ring) if (e.key === o.key) e.dead = true;
          }
          // assert
          const live = ring.filter((e) => !e.dead);
          for (const e of live) expect(window.get(e.key)).toBe(e.value);
          let held = 0;
          for (const k of keys) {
            if (window.has(k)) {
              held++;
              expect(window.get(k)).toBe(latest.get(k));
            } else expect(window.get(k)).toBeUndefined();
          }
          expect(window.size).toBe(held);
          expect(window.size).toBeGreaterThanOrEqual(live.length);
          expect(window.size).toBeLessThanOrEqual(max);
        }
      }),
    );
  });

  it.each([
    ['sampled', sampledHash, 100],
    ['whole-key', stringHash, 100],
  ])(
    'tells apart two keys of one %s hash: a collision never makes an unseen key look held',
    (_, hash) => {
      // arrange
      const [a, b] = collidingKeys(hash);
      expect(hash(a)).toBe(hash(b));
      const window = new StringWindow(100);
      if (hash === stringHash) forceWholeKeys(window);
      // act
      window.set(a, 1);
      // assert
      expect(window.has(b)).toBe(false);
      window.set(b, 2);
      expect([window.get(a), window.get(b)]).toEqual([1, 2]);
      window.delete(a);
      expect([window.has(a), window.get(b)]).toEqual([false, 2]);
    },
  );

  it('keeps the newest maxEntries keys when full, through its growth and many wraps of its arena', () => {
    // arrange: more entries than a new window has room for (it grows 1024 → 2048 → 4096 → 5000)
    const window = new StringWindow(5000);
    const keyOf = (i: number) => `${i}:${'y'.repeat(i % 70)}`;
    // act: 20 windows' worth of keys of varying length (the arena wraps and grows)
    for (let i = 0; i < 100_000; i++) window.set(keyOf(i), i);
    // assert
    expect(window.size).toBe(5000);
    for (let i = 95_000; i < 100_000; i++) expect(window.get(keyOf(i))).toBe(i);
    expect(window.has(keyOf(94_999))).toBe(false);
  });

  it('while growing, holds only keys set and not deleted since, with their last value, and at most maxEntries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1025, max: 2500 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 4 })), {
          minLength: 3000,
          maxLength: 5000,
        }),
        (max, ops) => {
          // arrange: the model holds every key set and not deleted since, unbounded
          const window = new StringWindow(max);
          const model = new Map<string, number>();
          const wrong: string[] = [];
          // Some keys wide (held as strings), one empty: each kind among the batched copies.
          const keyOf = (n: number) => (n === 0 ? '' : n % 7 === 0 ? `€-${n}` : `id-${n}`);
          ops.forEach(([n, action], i) => {
            const key = keyOf(n);
            // act: one op in five deletes
            if (action === 0) {
              window.delete(key);
              model.delete(key);
              if (window.has(key)) wrong.push(`${key} held after delete`);
            } else {
              window.set(key, i);
              model.set(key, i);
              if (window.get(key) !== i) wrong.push(`${key} not held right after set`);
            }
            if (window.size > max) wrong.push(`size ${window.size} > ${max}`);
          });
          // assert
          for (let n = 0; n <= 4000; n++) {
            const key = keyOf(n);
            const held = window.get(key);
            if (held !== undefined && held !== model.get(key)) wrong.push(`${key} = ${held}`);
          }
          expect(wrong).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('hashes whole keys once keys differ only where the sample does not look, and still finds each', () => {
    // arrange: 53-character keys that differ only in characters 1 and 2 (unsampled)
    const keyOf = (n: number) => `p${String(n).padStart(2, '0')}${'q'.repeat(50)}`;
    expect(sampledHash(keyOf(1))).toBe(sampledHash(keyOf(2)));
    const window = new StringWindow(1000);
    // act
    for (let n = 0; n < 100; n++) window.set(keyOf(n), n);
    // assert
    expect(window.hashesWholeKeys).toBe(true);
    for (let n = 0; n < 100; n++) expect(window.get(keyOf(n))).toBe(n);
    expect(window.has(`p100${'q'.repeat(49)}`)).toBe(false);
    window.delete(keyOf(50));
    expect([window.has(keyOf(50)), window.get(keyOf(51))]).toEqual([false, 51]);
  });

  it('adds a key only when it is not held, keeping its place and value', () => {
    // arrange
    const window = new StringWindow(2);
    window.set('a', 5);
    // act
    const added = [window.add('a'), window.add('b'), window.add('c')];
    // assert: 'a' kept its value and its place, so it was the oldest and 'c' pushed it out
    expect(added).toEqual([false, true, true]);
    expect([window.has('a'), window.get('b'), window.get('c')]).toEqual([false, 0, 0]);
  });

  it('keeps windows apart: a new window holds nothing of what another was given', () => {
    // arrange: empty windows start on shared empty arrays
    const first = new StringWindow(10);
    const second = new StringWindow(10);
    // act
    first.set('a', 1);
    first.delete('a');
    first.set('b', 2);
    // assert
    expect([second.has('a'), second.has('b'), second.size, new StringWindow(10).has('b')]).toEqual([
      false,
      false,
      0,
      false,
    ]);
    second.set('c', 3);
    expect([first.get('b'), first.has('c'), second.get('c')]).toEqual([2, false, 3]);
  });

  it('holds nothing with maxEntries 0, and names a bad size', () => {
    const none = new StringWindow(0);
    none.set('a', 1);
    expect([none.has('a'), none.size]).toEqual([false, 0]);
    expect(() => new StringWindow(-1)).toThrow(ConfigurationError);
    expect(() => new StringWindow(1.5)).toThrow(/whole number of 0 or more entries, got 1.5/);
  });
});

describe('StringWindow hashing mode', () => {
  it('keeps sampled hashes for random event ids, however long linear probing makes a run', () => {
    // arrange: DynamoDB-like eventIDs (32 random hex characters), seeded, through a full window
    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const id = () =>
      Array.from({ length: 4 }, () => random().toString(16).padStart(8, '0')).join('');
    const window = new StringWindow(10_000, false);
    // act: 200,000 ids, 20 times the window (the old rule, a probe run over 32, switched here)
    for (let i = 0; i < 200_000; i++) window.add(id());
    // assert
    expect(window.hashesWholeKeys).toBe(false);
    expect(window.size).toBe(10_000);
  });
});

describe('StringWindow growth', () => {
  it('keeps every live key through growth, with dead entries, short and wide keys between runs of characters', () => {
    // arrange: distinct keys of mixed lengths, some deleted, some wide, added until the window is full
    // and evicting (growth rebuilds copy the arena a run of entries at a time)
    const window = new StringWindow(5000, false);
    const live = new Set<string>();
    const order: string[] = [];
    let seed = 11;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    // act
    for (let i = 0; i < 12_000; i++) {
      const kind = random() % 20;
      const key = kind === 0 ? `€${i}` : kind === 1 ? `${i}` : `${'k'.repeat(random() % 60)}:${i}`;
      if (window.add(key)) {
        live.add(key);
        order.push(key);
      }
      if (random() % 7 === 0 && order.length > 0) {
        const victim = order[random() % order.length]!;
        window.delete(victim);
        live.delete(victim);
      }
      // the model forgets what the window's ring passed: its oldest entries beyond 5000
      while (order.length > 5000) live.delete(order.shift()!);
      // assert, as it grows and once full: the window holds every live key of the model
      if (i % 250 === 249) {
        const wrong: string[] = [];
        for (const key of live) if (!window.has(key)) wrong.push(`missing ${key} after ${i}`);
        // (a growth rebuild drops dead entries, so the window may hold older keys than the
        // model's last 5000; it never misses a newer one, nor holds one never added)
        expect(wrong.slice(0, 5)).toEqual([]);
        expect(window.has(`never:${i}`)).toBe(false);
      }
    }
  });
});
