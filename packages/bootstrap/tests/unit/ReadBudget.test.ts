import { describe, expect, it } from 'vitest';
import { pageLimitFor, ReadBudget } from '../../src/index.js';

/** A clock that moves only when told, and a sleep that moves it. */
function fakeTime() {
  let now = 1_000_000;
  return {
    clock: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('ReadBudget', () => {
  it('holds consumption to the rate plus one burst, whatever the pages cost', () => {
    // arrange: 10 units/s; pages that cost 0.8 to 1.5 times what was reserved
    const time = fakeTime();
    const budget = new ReadBudget({ unitsPerSecond: 10, clock: time.clock });
    let consumed = 0;
    const start = time.clock();

    // act: each page reserves half the bucket, waiting (in fake time) until it is there
    for (let page = 0; page < 500; page++) {
      const wanted = 5;
      while (budget.available < wanted) time.advance(10);
      const reserved = Math.min(wanted, budget.burstUnits);
      expect(budget.available).toBeGreaterThanOrEqual(reserved);
      const cost = reserved * (0.8 + ((page * 7) % 8) / 10);
      // reserve resolves at once when the units are there; settle with the real cost
      void budget.reserve(reserved);
      budget.settle(reserved, cost);
      consumed += cost;
    }

    // assert
    const seconds = (time.clock() - start) / 1000;
    expect(consumed).toBeLessThanOrEqual(10 * seconds + 10 + 5 * 1.5);
    expect(consumed).toBeGreaterThan(10 * seconds * 0.9);
  });

  it('starts empty, so a bootstrap gets no head start over the table', () => {
    const time = fakeTime();
    const budget = new ReadBudget({ unitsPerSecond: 4, clock: time.clock });
    expect(budget.available).toBe(0);
    time.advance(250);
    expect(budget.available).toBe(1);
    time.advance(10_000);
    expect(budget.available).toBe(4);
  });

  it('refuses a rate that is not above 0', () => {
    expect(() => new ReadBudget({ unitsPerSecond: 0 })).toThrow(
      /unitsPerSecond must be a number above 0/,
    );
  });
});

describe('pageLimitFor', () => {
  it('asks for one item until an item cost is known, then what the units buy', () => {
    expect(pageLimitFor(5, 0, 1000)).toBe(1);
    expect(pageLimitFor(5, 0.125, 1000)).toBe(40);
    expect(pageLimitFor(5, 0.001, 1000)).toBe(1000);
    expect(pageLimitFor(0.5, 2, 1000)).toBe(1);
  });
});
