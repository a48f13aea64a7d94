import { Client } from '@opensearch-project/opensearch';
import { BatchProcessor, bootstrapRecord, type ChangeRecord } from '@shardline/core';
import {
  type DynamoDBLocalServer,
  deliverLikeLambda,
  type OpenSearchDouble,
  recordTableHistory,
  startDynamoDBLocal,
  startOpenSearchDouble,
  type TableHistory,
} from '@shardline/testing';
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

  it('a bootstrap read at any point and delivered at any point never replaces what the stream wrote', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 20 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 5 }),
        async (ops, readAfter, deliverAt, batchSize) => {
          // arrange: the stream's changes, and the items a Scan saw after `readAfter` of them
          // (read within the second of the last change it saw, before the next one)
          const index = `boot-${run++}`;
          const sink = new OpenSearchSink({ client, index });
          let t = T0;
          const times: number[] = [];
          const records: ChangeRecord[] = ops.map((op) => {
            t += op.gap;
            times.push(t);
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
          const seen = readAfter % (ops.length + 1);
          const readAtMs = (seen === 0 ? T0 : times[seen - 1]!) * 1000 + 500;
          const scanned = [...expected(ops.slice(0, seen))].map(([id, value]) =>
            bootstrapRecord(
              { id: { S: id }, value: { N: String(value) } },
              { tableName: 'T', keySchema: ['id'], bootstrapId: 'b', shardId: 'scan-0', readAtMs },
            ),
          );
          // act: the stream in batches, the bootstrap's page delivered between any two of them
          const batches: ChangeRecord[][] = [];
          for (let i = 0; i < records.length; i += batchSize)
            batches.push(records.slice(i, i + batchSize));
          batches.splice(deliverAt % (batches.length + 1), 0, scanned);
          for (const batch of batches)
            if (batch.length > 0) await sink.write(batch, { attempt: 1 });
          // assert
          expect(actual(os, index)).toEqual(expected(ops));
        },
      ),
      { numRuns: 40, seed: 1207 },
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

describe('OpenSearchSink on a multi-shard DynamoDB stream delivered like Lambda (property)', () => {
  let os: OpenSearchDouble;
  let client: Client;
  let ddb: DynamoDBLocalServer;
  let history: TableHistory;
  let run = 0;

  beforeAll(async () => {
    [os, ddb] = await Promise.all([startOpenSearchDouble(), startDynamoDBLocal()]);
    client = new Client({ node: os.url });
    history = await recordTableHistory({ source: ddb.clientConfig, tableName: 'Items', seed: 9 });
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await os?.stop();
    await ddb?.stop();
  });

  it('documents end equal to the table: concurrent PF lanes, redeliveries, replays in any order, deletes and re-creates', async () => {
    // arrange: DynamoDB Local's changes through 4 shards, a rollover and a split, read as Lambda
    // reads them (no shard id); the table's items at the end are what the index must hold
    const expectedDocs = new Map([...history.items].map(([id, item]) => [id, item.value]));
    const removes = history.shards
      .flatMap((s) => s.records)
      .filter((r) => r.eventName === 'REMOVE');
    expect(removes.length).toBeGreaterThan(10);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 3, 10),
        fc.integer({ min: 1, max: 20 }),
        fc.integer(),
        async (parallelizationFactor, maxBatchSize, seed) => {
          const index = `lambda-${run++}`;
          const sink = new OpenSearchSink({ client, index });
          // act: every invocation its own BatchProcessor (its own execution environment)
          const report = await deliverLikeLambda(
            history.shards,
            async (batch: readonly ChangeRecord[]) => {
              const processor = new BatchProcessor({ sink, deduper: false });
              const result = await processor.process(batch);
              return result.firstNotDone === -1 ? batch.length : result.firstNotDone;
            },
            { seed, parallelizationFactor, maxBatchSize, replayChance: 0.15 },
          );
          // assert
          const docs = new Map<string, string>();
          for (const doc of os.documents(index).values()) {
            docs.set(String(doc.source.id), String(doc.source.value));
          }
          expect(docs).toEqual(expectedDocs);
          expect(report.replayed).toBeGreaterThan(0);
          if (parallelizationFactor > 1) expect(report.maxConcurrent).toBeGreaterThan(4);
        },
      ),
      { numRuns: 8, seed: 1150 },
    );
  });
});
