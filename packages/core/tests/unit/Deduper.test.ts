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
            const record = {
              eventId: `e${id}`,
              version: undefined,
              tableName: 'T',
              marshalledKeys: undefined,
            };
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

  const change = (eventId: string, id: string, version: bigint, tableName = 'Votes') => ({
    eventId,
    version,
    tableName,
    marshalledKeys: { id: { S: id } },
  });

  it('drops a change older than the newest applied change of its item, when asked to', () => {
    const deduper = new Deduper();
    deduper.remember(change('b', 'x', 20n));
    expect(deduper.check(change('a', 'x', 10n), 'drop')).toBe('stale');
    expect(deduper.check(change('c', 'x', 30n), 'drop')).toBeUndefined();
    expect(deduper.check(change('d', 'other', 1n), 'drop')).toBeUndefined();
    expect(deduper.check(change('e', 'x', 1n, 'Other'), 'drop')).toBeUndefined();
  });

  it('never calls a change stale unless asked to (delta targets need every change)', () => {
    const deduper = new Deduper();
    deduper.remember(change('b', 'x', 20n));
    expect(deduper.check(change('a', 'x', 10n))).toBeUndefined();
    expect(deduper.check(change('a', 'x', 10n), 'apply')).toBeUndefined();
    expect(deduper.check(change('b', 'x', 20n))).toBe('seen');
  });

  it('keeps at most maxKeyVersions items', () => {
    const deduper = new Deduper({ maxKeyVersions: 3 });
    for (let i = 0; i < 10; i++) deduper.remember(change(`e${i}`, `k${i}`, 1n));
    expect(deduper.size.keyVersions).toBe(3);
  });

  it('names a bad window size in its error', () => {
    expect(() => new Deduper({ maxEventIds: -1 })).toThrow(ConfigurationError);
    expect(() => new Deduper({ maxEventIds: -1 })).toThrow(/maxEventIds must be a whole number/);
  });
});
