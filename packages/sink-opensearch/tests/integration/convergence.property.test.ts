import { Client } from '@opensearch-project/opensearch';
import type { ChangeRecord } from '@shardline/core';
import { type OpenSearchDouble, startOpenSearchDouble } from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenSearchSink } from '../../src/index.js';
import { change, kinesisChange } from '../helpers/records.js';

// Invariant 4 of the design: the index ends equal to a single in-order application, however
// batches are replayed (DynamoDB Streams) or reordered (Kinesis Data Streams for DynamoDB).

const KEYS = ['a', 'b', 'c'];
const T0 = 1_731_924_555;

const operation = fc.record({
  key: fc.constantFrom(...KEYS),
  remove: fc.boolean(),
  /** Seconds after the previous change: 0 makes same-second ties, common on DynamoDB Streams. */
  gap: fc.constantFrom(0, 0, 1),
  value: fc.integer({ min: 0, max: 1000 }),
});

/** What a single in-order application leaves: the last change per key. */
function expected(ops: { key: string; remove: boolean; value: number }[]): Map<string, number> {
  const state = new Map<string, number>();
  for (const op of ops) {
    if (op.remove) state.delete(op.key);
    else state.set(op.key, op.value);
  }
  return state;
}

function actual(os: OpenSearchDouble, index: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const doc of os.documents(index).values()) {
    out.set(String(doc.source.id), Number(doc.source.value));
  }
  return out;
}

describe('OpenSearchSink convergence (property)', () => {
  let os: OpenSearchDouble;
  let client: Client;
  let run = 0;

  beforeAll(async () => {
    os = await startOpenSearchDouble();
    client = new Client({ node: os.url });
  });
  afterAll(async () => {
    await client.close();
    await os.stop();
  });

  it('DynamoDB Streams: a replay never moves a document back, at any point of the replay', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.integer({ min: 1, max: 10 }),
        async (ops, replayStarts, batchSize) => {
          // arrange
          const index = `ddb-${run++}`;
          const sink = new OpenSearchSink({ client, index });
          let t = T0;
          const records: ChangeRecord[] = ops.map((op) => {
            t += op.gap;
            return op.remove
              ? change({
                  keys: { id: op.key },
                  oldImage: { id: op.key },
                  approximateCreationDateTime: t,
                })
              : change({
                  keys: { id: op.key },
                  newImage: { id: op.key, value: op.value },
                  approximateCreationDateTime: t,
                });
          });
          const final = expected(ops);
          for (let i = 0; i < records.length; i += batchSize) {
            await sink.write(records.slice(i, i + batchSize), { attempt: 1 });
          }
          // act / assert: replays from earlier checkpoints (in-order suffixes, batch by batch)
          // leave the index at the final state after every batch, not only at the end.
          expect(actual(os, index)).toEqual(final);
          for (const start of replayStarts) {
            for (let i = start % records.length; i < records.length; i += batchSize) {
              await sink.write(records.slice(i, i + batchSize), { attempt: 1 });
              expect(actual(os, index)).toEqual(final);
            }
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('Kinesis: any delivery order and duplication ends equal to one in-order application', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 20 }).chain((ops) =>
          fc.tuple(
            fc.constant(ops),
            fc.shuffledSubarray(
              ops.map((_, i) => i),
              { minLength: ops.length, maxLength: ops.length },
            ),
            fc.array(fc.nat({ max: ops.length - 1 }), { maxLength: 5 }),
          ),
        ),
        async ([ops, order, duplicates]) => {
          // arrange: each change 1 ms after the previous one
          const index = `kds-${run++}`;
          const sink = new OpenSearchSink({ client, index });
          const records = ops.map((op, i) => {
            const options = {
              keys: { id: op.key },
              creationMs: T0 * 1000 + i,
              kinesisSequenceNumber: String(
                49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n +
                  BigInt(i),
              ),
            };
            return op.remove
              ? kinesisChange({ ...options, oldImage: { id: op.key } })
              : kinesisChange({ ...options, newImage: { id: op.key, value: op.value } });
          });
          // act: delivered shuffled, with some changes repeated
          for (const i of [...order, ...duplicates])
            await sink.write([records[i]!], { attempt: 1 });
          // assert
          expect(actual(os, index)).toEqual(expected(ops));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('Kinesis at MICROSECOND precision: changes of one ms, Kinesis numbers whose low digits do not grow, any order and duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(
            fc.record({
              op: operation,
              /** µs after the previous change: most in the same ms. */
              gapUs: fc.constantFrom(1, 7, 250, 1000),
              /** The low digits of its Kinesis number: random, as on Kinesis. */
              low: fc.bigInt({ min: 0n, max: 10n ** 20n - 1n }),
            }),
            { minLength: 2, maxLength: 20 },
          )
          .chain((changes) =>
            fc.tuple(
              fc.constant(changes),
              fc.shuffledSubarray(
                changes.map((_, i) => i),
                { minLength: changes.length, maxLength: changes.length },
              ),
              fc.array(fc.nat({ max: changes.length - 1 }), { maxLength: 5 }),
            ),
          ),
        async ([changes, order, duplicates]) => {
          // arrange: one Kinesis shard; numbers grow in their high digits, one per record
          const index = `kds-us-${run++}`;
          const sink = new OpenSearchSink({ client, index });
          let us = T0 * 1_000_000;
          const records = changes.map(({ op, gapUs, low }, i) => {
            us += gapUs;
            const options = {
              keys: { id: op.key },
              creationUs: us,
              kinesisSequenceNumber: String(
                (49_543_463_076_570_308_322_303_623_326n + BigInt(i)) * 10n ** 20n + low,
              ),
            };
            return op.remove
              ? kinesisChange({ ...options, oldImage: { id: op.key } })
              : kinesisChange({ ...options, newImage: { id: op.key, value: op.value } });
          });
          // act: delivered shuffled, with some changes repeated (a duplicate comes as a new
          // Kinesis record: same change, larger number)
          for (const i of order) await sink.write([records[i]!], { attempt: 1 });
          for (const i of duplicates) {
            const { op } = changes[i]!;
            const duplicate = kinesisChange({
              keys: { id: op.key },
              creationUs: T0 * 1_000_000 + changes.slice(0, i + 1).reduce((t, c) => t + c.gapUs, 0),
              kinesisSequenceNumber: `9${'0'.repeat(55)}`,
              ...(op.remove
                ? { oldImage: { id: op.key } }
                : { newImage: { id: op.key, value: op.value } }),
            });
            await sink.write([duplicate], { attempt: 1 });
          }
          // assert
          expect(actual(os, index)).toEqual(expected(changes.map((c) => c.op)));
        },
      ),
      { numRuns: 40, seed: 1150 },
    );
  });
});
