import { compareSequenceNumbers, InMemoryFailureDestination, silentLogger } from '@shardline/core';
import { makeDynamoDBEvent, makeDynamoDBRecord } from '@shardline/testing';
import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import { fakeContext, permanentError, retriableError } from '../helpers/lambda.js';

/** A random batch: each record's key, whether it fails for good, and whether it flakes once. */
const batchArbitrary = fc.record({
  records: fc.array(
    fc.record({
      key: fc.integer({ min: 0, max: 5 }),
      fails: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
      flakesOnce: fc.boolean(),
      async: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  ),
  concurrency: fc.integer({ min: 1, max: 8 }),
});

/**
 * Lambda records for `spec`, in increasing sequence order. The second half has one digit more,
 * so only a numeric comparison finds the lowest.
 */
function buildEvent(spec: readonly { key: number }[]): DynamoDBRecord[] {
  const half = Math.ceil(spec.length / 2);
  return spec.map((s, i) =>
    makeDynamoDBRecord({
      keys: { id: `k${s.key}` },
      newImage: { id: `k${s.key}`, i },
      sequenceNumber: ((i < half ? 10n ** 20n : 10n ** 21n) + BigInt(i)).toString(),
    }),
  );
}

describe('batchItemFailures (property)', () => {
  it('reports the lowest sequence number not done and applies nothing of a key after its failure', async () => {
    await fc.assert(
      fc.asyncProperty(batchArbitrary, async ({ records: spec, concurrency }) => {
        // arrange
        const records = buildEvent(spec);
        const bySeq = new Map(records.map((r, i) => [r.dynamodb!.SequenceNumber!, i]));
        const flaked = new Set<number>();
        const applied: number[] = [];
        const handler = createDynamoDBHandler({
          logger: silentLogger,
          concurrency,
          retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
          handler: async (record) => {
            const i = bySeq.get(record.sequenceNumber)!;
            if (spec[i]!.async) await new Promise((r) => setTimeout(r, Math.random() * 2));
            if (spec[i]!.fails) throw permanentError();
            if (spec[i]!.flakesOnce && !flaked.has(i)) {
              flaked.add(i);
              throw retriableError();
            }
            applied.push(i);
          },
        });
        // act
        const response = await handler(makeDynamoDBEvent(records), fakeContext(60_000));
        // assert: the model — a record is done unless a failing record of its key precedes it
        const firstFailure = new Map<number, number>();
        spec.forEach((s, i) => {
          if (s.fails && !firstFailure.has(s.key)) firstFailure.set(s.key, i);
        });
        const notDone = spec
          .map((_, i) => i)
          .filter((i) => (firstFailure.get(spec[i]!.key) ?? Number.POSITIVE_INFINITY) <= i);
        const expected = notDone
          .map((i) => records[i]!.dynamodb!.SequenceNumber!)
          .sort(compareSequenceNumbers)
          .slice(0, 1)
          .map((itemIdentifier) => ({ itemIdentifier }));
        expect(response.batchItemFailures).toEqual(expected);
        const done = spec.map((_, i) => i).filter((i) => !notDone.includes(i));
        expect([...applied].sort((a, b) => a - b)).toEqual(done);
        for (const key of new Set(spec.map((s) => s.key))) {
          const ofKey = applied.filter((i) => spec[i]!.key === key);
          expect(ofKey).toEqual([...ofKey].sort((a, b) => a - b));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('parks every poison record and reports nothing when a failure destination is set', async () => {
    await fc.assert(
      fc.asyncProperty(batchArbitrary, async ({ records: spec, concurrency }) => {
        // arrange
        const records = buildEvent(spec);
        const destination = new InMemoryFailureDestination();
        const index = new Map(records.map((r, i) => [r.dynamodb!.SequenceNumber!, i]));
        const applied: number[] = [];
        const handler = createDynamoDBHandler({
          logger: silentLogger,
          concurrency,
          failureDestination: destination,
          retry: { maxAttempts: 1 },
          handler: (record) => {
            const i = index.get(record.sequenceNumber)!;
            if (spec[i]!.fails) throw permanentError();
            applied.push(i);
          },
        });
        // act
        const response = await handler(makeDynamoDBEvent(records), fakeContext(60_000));
        // assert
        expect(response.batchItemFailures).toEqual([]);
        const failing = spec.map((s, i) => (s.fails ? i : -1)).filter((i) => i >= 0);
        expect(
          destination.records.map((f) => index.get(f.sequenceNumber)).sort((a, b) => a! - b!),
        ).toEqual(failing);
        expect(applied.length + failing.length).toBe(spec.length);
      }),
      { numRuns: 100 },
    );
  });
});
