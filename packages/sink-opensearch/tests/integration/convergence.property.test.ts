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
});
