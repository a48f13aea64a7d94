import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, Deduper } from '../../src/index.js';

describe('Deduper', () => {
  it('never drops the first occurrence, and drops a repeat of an applied record', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.integer({ min: 0, max: 40 }), applied: fc.boolean() }), {
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 50 }),
        (events, window) => {
          // arrange
          const deduper = new Deduper({ maxEventIds: window });
          const appliedIds = new Set<string>();
          for (const { id, applied } of events) {
            const record = { eventId: `e${id}`, orderingKey: 'k', version: undefined };
            // act
            const reason = deduper.check(record);
            // assert: an id never applied before is never dropped
            if (!appliedIds.has(record.eventId)) expect(reason).toBeUndefined();
            if (reason === undefined && applied) {
              deduper.remember(record);
              appliedIds.add(record.eventId);
            }
          }
          expect(deduper.size.eventIds).toBeLessThanOrEqual(window);
        },
      ),
    );
  });

  it('drops a change older than the newest applied change of its key (reordering sources)', () => {
    const deduper = new Deduper();
    deduper.remember({ eventId: 'b', orderingKey: 'k', version: 20n });
    expect(deduper.check({ eventId: 'a', orderingKey: 'k', version: 10n })).toBe('stale');
    expect(deduper.check({ eventId: 'c', orderingKey: 'k', version: 30n })).toBeUndefined();
    expect(deduper.check({ eventId: 'd', orderingKey: 'other', version: 1n })).toBeUndefined();
  });

  it('keeps at most maxKeyVersions keys', () => {
    const deduper = new Deduper({ maxKeyVersions: 3 });
    for (let i = 0; i < 10; i++)
      deduper.remember({ eventId: `e${i}`, orderingKey: `k${i}`, version: 1n });
    expect(deduper.size.keyVersions).toBe(3);
  });

  it('names a bad window size in its error', () => {
    expect(() => new Deduper({ maxEventIds: -1 })).toThrow(ConfigurationError);
    expect(() => new Deduper({ maxEventIds: -1 })).toThrow(/maxEventIds must be a whole number/);
  });
});
