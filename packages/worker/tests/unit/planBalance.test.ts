import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planBalance, type WorkerLoad } from '../../src/index.js';

/** Applies every worker's plan, computed from the same snapshot, as a fleet round would. */
function round(loads: WorkerLoad[], maxSteals: number): WorkerLoad[] {
  const next = new Map(loads.map((w) => [w.workerId, w.leaseCount]));
  for (const w of loads) {
    const plan = planBalance({ workers: loads, self: w.workerId, available: 0, maxSteals });
    for (const s of plan.steals) {
      next.set(s.victim, next.get(s.victim)! - s.count);
      next.set(w.workerId, next.get(w.workerId)! + s.count);
    }
  }
  return loads.map((w) => ({ workerId: w.workerId, leaseCount: next.get(w.workerId)! }));
}

const spread = (loads: WorkerLoad[]) =>
  Math.max(...loads.map((w) => w.leaseCount)) - Math.min(...loads.map((w) => w.leaseCount));

describe('planBalance', () => {
  it('moves nothing when the spread is already at most one', () => {
    // arrange
    const loads = [
      { workerId: 'a', leaseCount: 4 },
      { workerId: 'b', leaseCount: 3 },
      { workerId: 'c', leaseCount: 4 },
    ];
    // act
    const plans = loads.map((w) =>
      planBalance({ workers: loads, self: w.workerId, available: 0, maxSteals: 10 }),
    );
    // assert
    expect(plans.flatMap((p) => p.steals)).toEqual([]);
  });

  it('takes available leases before stealing', () => {
    const plan = planBalance({
      workers: [
        { workerId: 'a', leaseCount: 0 },
        { workerId: 'b', leaseCount: 6 },
      ],
      self: 'a',
      available: 4,
      maxSteals: 10,
    });
    expect(plan).toEqual({ target: 5, take: 4, steals: [] });
  });

  it('lets a new worker steal from every over-loaded worker at once, bounded per round', () => {
    const loads = Array.from({ length: 4 }, (_, i) => ({ workerId: `w${i}`, leaseCount: 10 }));
    loads.push({ workerId: 'z-new', leaseCount: 0 });
    const plan = planBalance({ workers: loads, self: 'z-new', available: 0, maxSteals: 100 });
    expect(plan.target).toBe(8);
    expect(plan.steals).toEqual([
      { victim: 'w0', count: 2 },
      { victim: 'w1', count: 2 },
      { victim: 'w2', count: 2 },
      { victim: 'w3', count: 2 },
    ]);
    const bounded = planBalance({ workers: loads, self: 'z-new', available: 0, maxSteals: 3 });
    expect(bounded.steals.reduce((n, s) => n + s.count, 0)).toBe(3);
  });

  it('converges to a spread of at most one, keeps the total, and never overshoots', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(60), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 20 }),
        (counts, maxSteals) => {
          // arrange
          let loads = counts.map((c, i) => ({
            workerId: `w${String(i).padStart(2, '0')}`,
            leaseCount: c,
          }));
          const total = counts.reduce((a, b) => a + b, 0);
          // act
          for (let r = 0; r < 200 && spread(loads) > 1; r++) {
            const before = loads;
            loads = round(loads, maxSteals);
            // assert: nobody is pushed below the smallest share by a round
            for (const w of loads)
              expect(w.leaseCount).toBeGreaterThanOrEqual(
                Math.min(
                  Math.floor(total / loads.length),
                  before.find((b) => b.workerId === w.workerId)!.leaseCount,
                ),
              );
          }
          expect(spread(loads)).toBeLessThanOrEqual(1);
          expect(loads.reduce((n, w) => n + w.leaseCount, 0)).toBe(total);
        },
      ),
    );
  });
});
