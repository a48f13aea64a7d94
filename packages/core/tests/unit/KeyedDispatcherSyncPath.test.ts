import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedDispatcher, type RecordOutcome, SUCCEEDED } from '../../src/index.js';
import { failed, ticks } from '../helpers/dispatch.js';

type Behaviour = 'sync-ok' | 'async-ok' | 'sync-fail' | 'async-fail';

const recordArb = fc.record({
  key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
  behaviour: fc.constantFrom<Behaviour>(
    'sync-ok',
    'sync-ok',
    'async-ok',
    'async-ok',
    'sync-fail',
    'async-fail',
  ),
  ticks: fc.nat(3),
});

/** The records of `specs` in shard order, with their ordering keys and sequence numbers. */
const keyed = <S extends { key: string }>(specs: readonly S[]) =>
  specs.map((s, i) => ({ orderingKey: s.key, sequenceNumber: String(100 + i), ...s }));

describe('KeyedDispatcher.dispatch with synchronous and asynchronous runners (property)', () => {
  it('keeps per-key order, stops a key after a failure, and never exceeds the concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        async (specs, concurrency) => {
          // arrange
          const records = keyed(specs);
          const dispatcher = new KeyedDispatcher({ concurrency });
          const ran: number[] = [];
          let inFlight = 0;
          let maxInFlight = 0;
          // act
          const outcomes = await dispatcher.dispatch(records, (record, index) => {
            ran.push(index);
            if (record.behaviour === 'sync-ok') return SUCCEEDED;
            if (record.behaviour === 'sync-fail') return failed();
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            return ticks(record.ticks).then(() => {
              inFlight--;
              return record.behaviour === 'async-ok' ? SUCCEEDED : failed();
            });
          });
          // assert
          expect(maxInFlight).toBeLessThanOrEqual(concurrency);
          for (const key of new Set(records.map((r) => r.orderingKey))) {
            const ofKey = records
              .map((r, i) => [r, i] as const)
              .filter(([r]) => r.orderingKey === key);
            const firstFailure = ofKey.findIndex(([r]) => r.behaviour.endsWith('fail'));
            const expectedRun = (
              firstFailure === -1 ? ofKey : ofKey.slice(0, firstFailure + 1)
            ).map(([, i]) => i);
            expect(ran.filter((i) => records[i]!.orderingKey === key)).toEqual(expectedRun);
            for (const [r, i] of ofKey.slice(
              firstFailure === -1 ? ofKey.length : firstFailure + 1,
            )) {
              expect(outcomes[i]).toEqual({
                status: 'blocked',
                reason: 'key-failed',
                blockedBy: ofKey[firstFailure]![0].sequenceNumber,
              });
              expect(r.orderingKey).toBe(key);
            }
          }
          expect(outcomes.every((o) => o !== undefined)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never starts a record after an abort, nor before the previous record of its key finished (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          // The runner aborts when this record starts or ends: in the synchronous part, on the
          // first promise, or while chains run.
          fc.record({
            spec: recordArb,
            abortAt: fc.constantFrom('none', 'none', 'none', 'start', 'end'),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.integer({ min: 1, max: 4 }),
        async (specs, concurrency) => {
          // arrange
          const records = keyed(specs.map((s) => ({ ...s.spec, abortAt: s.abortAt })));
          const controller = new AbortController();
          const ended = new Map<number, RecordOutcome>();
          let inFlight = 0;
          let maxInFlight = 0;
          // act
          const outcomes = await new KeyedDispatcher({ concurrency }).dispatch(
            records,
            (record, index) => {
              expect(controller.signal.aborted).toBe(false);
              for (let j = 0; j < index; j++) {
                if (records[j]!.orderingKey !== record.orderingKey) continue;
                expect(ended.get(j)?.status ?? 'unfinished').not.toMatch(/unfinished|failed/);
              }
              if (record.abortAt === 'start') controller.abort();
              const end = (outcome: RecordOutcome): RecordOutcome => {
                ended.set(index, outcome);
                if (record.abortAt === 'end') controller.abort();
                return outcome;
              };
              if (record.behaviour === 'sync-ok') return end(SUCCEEDED);
              if (record.behaviour === 'sync-fail') return end(failed());
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              return ticks(record.ticks).then(() => {
                inFlight--;
                return end(record.behaviour === 'async-ok' ? SUCCEEDED : failed());
              });
            },
            controller.signal,
          );
          // assert: a record that ran has its own outcome; one that did not is blocked
          expect(maxInFlight).toBeLessThanOrEqual(concurrency);
          records.forEach((_, i) => {
            const outcome = outcomes[i];
            if (ended.has(i)) expect(outcome).toBe(ended.get(i));
            else expect(outcome?.status).toBe('blocked');
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('blocks what has not started once the signal aborts', async () => {
    // arrange
    const controller = new AbortController();
    const records = ['a', 'a', 'b'].map((key, i) => ({
      orderingKey: key,
      sequenceNumber: String(i),
    }));
    // act
    const outcomes = await new KeyedDispatcher({ concurrency: 1 }).dispatch(
      records,
      () => {
        controller.abort();
        return SUCCEEDED;
      },
      controller.signal,
    );
    // assert
    expect(outcomes).toEqual([
      SUCCEEDED,
      { status: 'blocked', reason: 'aborted' },
      { status: 'blocked', reason: 'aborted' },
    ]);
  });

  it('runs a synchronous runner in shard order, and blocks a failed key behind its failure after an abort too', async () => {
    // arrange: a fails at once; the abort comes while c runs
    const controller = new AbortController();
    const records = ['a', 'b', 'a', 'c', 'b', 'a'].map((key, i) => ({
      orderingKey: key,
      sequenceNumber: String(i),
    }));
    const ran: string[] = [];
    // act
    const outcomes = await new KeyedDispatcher({ concurrency: 4 }).dispatch(
      records,
      (record) => {
        ran.push(record.sequenceNumber);
        if (record.orderingKey === 'c') controller.abort();
        return record.sequenceNumber === '0' ? failed() : SUCCEEDED;
      },
      controller.signal,
    );
    // assert
    expect(ran).toEqual(['0', '1', '3']);
    expect(outcomes.slice(1)).toEqual([
      SUCCEEDED,
      { status: 'blocked', reason: 'key-failed', blockedBy: '0' },
      SUCCEEDED,
      { status: 'blocked', reason: 'aborted' },
      { status: 'blocked', reason: 'key-failed', blockedBy: '0' },
    ]);
  });

  it('rejects when a runner throws instead of answering', async () => {
    // arrange
    const records = [{ orderingKey: 'a', sequenceNumber: '1' }];
    // act
    const attempt = new KeyedDispatcher({ concurrency: 2 }).dispatch(records, () => {
      throw new Error('runner bug');
    });
    // assert
    await expect(attempt).rejects.toThrow('runner bug');
  });
});
