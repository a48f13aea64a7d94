import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedDispatcher, type RecordOutcome, SUCCEEDED } from '../../src/index.js';
import { failed, ticks } from '../helpers/dispatch.js';

type Behaviour = 'sync-ok' | 'async-ok' | 'sync-fail' | 'async-fail';

// Few keys and records that stay in flight for several turns of the event loop: a key's later
// records are reached while it is in flight, so they wait in its queue.
const recordArb = fc.record({
  key: fc.constantFrom('a', 'b', 'c', 'd'),
  behaviour: fc.constantFrom<Behaviour>(
    'sync-ok',
    'async-ok',
    'async-ok',
    'async-ok',
    'sync-fail',
    'async-fail',
  ),
  ticks: fc.nat(6),
  // The runner aborts when this record starts or ends.
  abortAt: fc.constantFrom('none', 'none', 'none', 'none', 'none', 'none', 'start', 'end'),
});

const batchArb = fc.record({
  specs: fc.array(recordArb, { minLength: 1, maxLength: 50 }),
  // 1 (one record at a time) up to twice the number of keys.
  concurrency: fc.constantFrom(1, 1, 2, 3, 5, 8),
  keyCount: fc.integer({ min: 1, max: 4 }),
});

describe('KeyedDispatcher.dispatch, records waiting behind a key in flight (property)', () => {
  it('runs each key in order, blocks what follows a failure or an abort, starts in shard order, and never exceeds the concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(batchArb, async ({ specs, concurrency, keyCount }) => {
        // arrange: keys limited to the first `keyCount` letters
        const records = specs.map((s, i) => ({
          ...s,
          orderingKey: String.fromCharCode(97 + ((s.key.charCodeAt(0) - 97) % keyCount)),
          sequenceNumber: String(100 + i),
        }));
        // The previous record of each record's key, -1 for the first: a record may start once
        // that one ended well (and so, in turn, every earlier one of its key).
        const lastOfKey = new Map<string, number>();
        const previous = records.map((r, i) => {
          const before = lastOfKey.get(r.orderingKey) ?? -1;
          lastOfKey.set(r.orderingKey, i);
          return before;
        });
        const controller = new AbortController();
        const calls = new Array<number>(records.length).fill(0);
        const started: number[] = [];
        const ended = new Map<number, RecordOutcome>();
        let inFlight = 0;
        let maxInFlight = 0;
        // act
        const outcomes = await new KeyedDispatcher({ concurrency }).dispatch(
          records,
          (record, index) => {
            calls[index]!++;
            // assert at start: no abort yet, and the previous record of its key ended well
            expect(controller.signal.aborted).toBe(false);
            const before = previous[index]!;
            if (before !== -1) {
              expect(ended.get(before)?.status ?? 'unfinished').not.toMatch(/unfinished|failed/);
            }
            started.push(index);
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            if (record.abortAt === 'start') controller.abort();
            const end = (outcome: RecordOutcome): RecordOutcome => {
              inFlight--;
              ended.set(index, outcome);
              if (record.abortAt === 'end') controller.abort();
              return outcome;
            };
            if (record.behaviour === 'sync-ok') return end(SUCCEEDED);
            if (record.behaviour === 'sync-fail') return end(failed());
            return ticks(record.ticks).then(() =>
              end(record.behaviour === 'async-ok' ? SUCCEEDED : failed()),
            );
          },
          controller.signal,
        );
        // assert: at most `concurrency` at once, each record run at most once, one outcome each
        expect(maxInFlight).toBeLessThanOrEqual(concurrency);
        expect(calls.every((n) => n <= 1)).toBe(true);
        expect(outcomes).toHaveLength(records.length);
        // assert: per key, the records run are its first ones, up to and with the first that
        // failed; the rest are blocked behind that failure, or else aborted
        for (const key of new Set(records.map((r) => r.orderingKey))) {
          const ofKey = records.flatMap((r, i) => (r.orderingKey === key ? [i] : []));
          const ran = ofKey.filter((i) => ended.has(i));
          expect(ran).toEqual(ofKey.slice(0, ran.length));
          const failure = ran.find((i) => ended.get(i)!.status === 'failed');
          expect(failure === undefined || failure === ran.at(-1)).toBe(true);
          for (const i of ran) expect(outcomes[i]).toBe(ended.get(i));
          for (const i of ofKey.slice(ran.length)) {
            if (failure !== undefined) {
              expect(outcomes[i]).toEqual({
                status: 'blocked',
                reason: 'key-failed',
                blockedBy: records[failure]!.sequenceNumber,
              });
            } else {
              expect(controller.signal.aborted).toBe(true);
              expect(outcomes[i]).toEqual({ status: 'blocked', reason: 'aborted' });
            }
          }
        }
        // assert: starts keep shard order as far as per-key order allows: the first record of a
        // key waits for no other, so it starts before any later record starts
        const firstOfKey = records.flatMap((r, i) =>
          records.findIndex((o) => o.orderingKey === r.orderingKey) === i ? [i] : [],
        );
        for (const i of firstOfKey) {
          const startedAt = started.indexOf(i);
          const laterStarted = started.findIndex((j) => j > i);
          if (laterStarted !== -1) {
            expect(startedAt).not.toBe(-1);
            expect(startedAt).toBeLessThan(laterStarted);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('holds a key whose records repeat while it is in flight, and lets the other keys pass it', async () => {
    // arrange: 'a' takes long; 'b' and 'c' records pass a's queued records
    const keys = ['a', 'a', 'b', 'a', 'c', 'b'];
    const records = keys.map((key, i) => ({ orderingKey: key, sequenceNumber: String(i) }));
    const events: string[] = [];
    // act
    const outcomes = await new KeyedDispatcher({ concurrency: 2 }).dispatch(
      records,
      async (record, index) => {
        events.push(`start ${index}`);
        await ticks(record.orderingKey === 'a' ? 6 : 1);
        events.push(`end ${index}`);
        return SUCCEEDED;
      },
    );
    // assert: 1 and 3 wait for 0 and 1; 2, 4 and 5 start as soon as a worker is free
    expect(outcomes.every((o) => o === SUCCEEDED)).toBe(true);
    expect(events.filter((e) => e.startsWith('start'))).toEqual([
      'start 0',
      'start 2',
      'start 4',
      'start 5',
      'start 1',
      'start 3',
    ]);
    expect(events.indexOf('start 1')).toBeGreaterThan(events.indexOf('end 0'));
    expect(events.indexOf('start 3')).toBeGreaterThan(events.indexOf('end 1'));
  });
});
