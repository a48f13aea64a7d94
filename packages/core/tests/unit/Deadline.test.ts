import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEADLINE_EXACT_WITHIN_MS, DEADLINE_MAX_STRIDE, Deadline } from '../../src/index.js';

/** A clock that the test moves, counting how often it is read. */
function fakeClock(startMs: number) {
  const clock = { now: startMs, reads: [] as number[] };
  vi.spyOn(Date, 'now').mockImplementation(() => {
    clock.reads.push(clock.now);
    return clock.now;
  });
  return clock;
}

describe('Deadline', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is reached at its time and stays reached', () => {
    // arrange
    const clock = fakeClock(1_000_000);
    const deadline = new Deadline(1_000_010);
    // act
    const before: boolean[] = [];
    for (let ms = 0; ms < 10; ms++) {
      before.push(deadline.reached());
      clock.now++;
    }
    const at = deadline.reached();
    clock.now -= 5; // a wall clock stepped back changes nothing
    // assert
    expect(before.every((reached) => !reached)).toBe(true);
    expect(at).toBe(true);
    expect(deadline.reached()).toBe(true);
    expect(deadline.allows(0)).toBe(false);
  });

  it('reads the clock before every record while records take a millisecond or more', () => {
    // arrange
    const clock = fakeClock(0);
    const deadline = new Deadline(60_000);
    // act
    for (let i = 0; i < 500; i++) {
      deadline.reached();
      clock.now += 1;
    }
    // assert
    expect(clock.reads).toHaveLength(500);
  });

  it('reads it once per stride of fast records, far from the deadline', () => {
    // arrange
    const clock = fakeClock(0);
    const deadline = new Deadline(60_000);
    // act: 10,000 records within one millisecond
    for (let i = 0; i < 10_000; i++) deadline.reached();
    // assert
    expect(clock.reads.length).toBeLessThan(10_000 / DEADLINE_MAX_STRIDE + 10);
    expect(clock.reads.length).toBeGreaterThanOrEqual(10_000 / DEADLINE_MAX_STRIDE);
  });

  it('reads it before every record near the deadline', () => {
    // arrange
    const clock = fakeClock(0);
    const deadline = new Deadline(DEADLINE_EXACT_WITHIN_MS);
    // act
    for (let i = 0; i < 100; i++) deadline.reached();
    // assert
    expect(clock.reads).toHaveLength(100);
  });

  it('lets a record start late only after a stride of fast records begun far from the deadline', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })), {
          minLength: 1,
          maxLength: 400,
        }),
        fc.integer({ min: 1, max: 20_000 }),
        (durations, at) => {
          // arrange
          vi.restoreAllMocks();
          const clock = fakeClock(0);
          const deadline = new Deadline(at);
          let callsSinceRead = 0;
          for (const duration of durations) {
            // act
            const readsBefore = clock.reads.length;
            const reached = deadline.reached();
            callsSinceRead = clock.reads.length > readsBefore ? 0 : callsSinceRead + 1;
            // assert
            if (clock.now >= at && !reached) {
              const lastRead = clock.reads.at(-1) ?? 0;
              expect(at - lastRead).toBeGreaterThan(DEADLINE_EXACT_WITHIN_MS);
              expect(callsSinceRead).toBeLessThan(DEADLINE_MAX_STRIDE);
            }
            if (clock.now < at) expect(reached).toBe(false);
            clock.now += duration;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
