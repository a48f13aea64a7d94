import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  KeyedDispatcher,
  type RecordOutcome,
  SUCCEEDED,
} from '../../src/index.js';
import { batchOf } from '../helpers/records.js';

const failedOutcome = (message: string): RecordOutcome => ({
  status: 'failed',
  error: new Error(message),
  attempts: 1,
});

describe('KeyedDispatcher', () => {
  it('keeps per-key order and stops a key at its first failure, for any batch, concurrency and failure set', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        fc.func(fc.boolean()),
        fc.array(fc.nat({ max: 3 }), { minLength: 60, maxLength: 60 }),
        async (keys, concurrency, shouldFail, delays) => {
          // arrange
          const records = batchOf(keys);
          const applied: { key: string; seq: bigint }[] = [];
          const dispatcher = new KeyedDispatcher({ concurrency });
          // act
          const outcomes = await dispatcher.dispatch(records, async (record, index) => {
            await new Promise((r) => setTimeout(r, delays[index]));
            if (shouldFail(record.sequenceNumber)) return failedOutcome('boom');
            applied.push({ key: record.orderingKey, seq: BigInt(record.sequenceNumber) });
            return SUCCEEDED;
          });
          // assert: effects of one key are in sequence order
          const lastByKey = new Map<string, bigint>();
          for (const effect of applied) {
            const last = lastByKey.get(effect.key);
            expect(last === undefined || last < effect.seq).toBe(true);
            lastByKey.set(effect.key, effect.seq);
          }
          // assert: after a key fails, its later records are blocked and not applied
          const failedAt = new Map<string, bigint>();
          records.forEach((record, i) => {
            const outcome = outcomes[i]!;
            const failedSeq = failedAt.get(record.orderingKey);
            if (failedSeq !== undefined) {
              expect(outcome).toMatchObject({ status: 'blocked', reason: 'key-failed' });
              expect(applied.some((a) => a.seq === BigInt(record.sequenceNumber))).toBe(false);
            } else if (outcome.status === 'failed') {
              failedAt.set(record.orderingKey, BigInt(record.sequenceNumber));
            } else {
              expect(outcome.status).toBe('succeeded');
            }
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('runs different keys concurrently, up to the limit', async () => {
    // arrange
    const records = batchOf(['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd']);
    let running = 0;
    let peak = 0;
    const dispatcher = new KeyedDispatcher({ concurrency: 3 });
    // act
    await dispatcher.dispatch(records, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return SUCCEEDED;
    });
    // assert
    expect(peak).toBe(3);
  });

  it('after a batch goes async, starts the remaining keys in order, never more than the limit at once', async () => {
    // arrange: keys a-c finish synchronously, the rest await; 'e' twice (a chain of two)
    const records = batchOf(['a', 'b', 'c', 'd', 'e', 'f', 'e', 'g', 'h', 'i']);
    const started: string[] = [];
    let running = 0;
    let peak = 0;
    const dispatcher = new KeyedDispatcher({ concurrency: 2 });
    // act
    const outcomes = await dispatcher.dispatch(records, (record) => {
      const key = record.orderingKey.slice(-1); // 'id=S:a' → 'a'
      started.push(key);
      if (key < 'd') return SUCCEEDED;
      running++;
      peak = Math.max(peak, running);
      return new Promise((resolve) =>
        setTimeout(() => {
          running--;
          resolve(SUCCEEDED);
        }, 2),
      );
    });
    // assert
    expect(peak).toBe(2);
    expect(outcomes.every((o) => o === SUCCEEDED)).toBe(true);
    expect(started.filter((k) => k !== 'e').join('')).toBe('abcdfghi');
    expect(started.filter((k) => k === 'e')).toHaveLength(2);
  });

  it('rejects a concurrency that is not a whole number of at least 1', () => {
    expect(() => new KeyedDispatcher({ concurrency: 0 })).toThrow(ConfigurationError);
    expect(() => new KeyedDispatcher({ concurrency: 1.5 })).toThrow(
      /whole number of at least 1, got 1.5/,
    );
  });

  it('groups a per-key batch handler by key, in shard order', async () => {
    const records = batchOf(['a', 'b', 'a', 'c', 'a']);
    const groups: string[][] = [];
    const outcomes = await new KeyedDispatcher().dispatchGroups(records, async (group) => {
      groups.push(group.map((r) => r.sequenceNumber));
      return group.map(() => SUCCEEDED);
    });
    expect(outcomes.every((o) => o.status === 'succeeded')).toBe(true);
    expect(groups).toContainEqual([
      records[0]!.sequenceNumber,
      records[2]!.sequenceNumber,
      records[4]!.sequenceNumber,
    ]);
  });
});
