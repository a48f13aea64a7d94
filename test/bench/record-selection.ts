/**
 * What filters, TTL choices and global tables options cost the core pipeline, on the shared
 * 1000-record DynamoDB batch (100 keys, ~300-byte items), each against the same pipeline without
 * any option, in one run; plus what a filter that leaves out most records saves against the
 * handler doing the same check itself (Powertools users filter in the handler).
 *
 * Run: npx tsx test/bench/record-selection.ts
 */
import {
  BatchProcessor,
  type BatchProcessorOptions,
  type ChangeRecord,
  CheckpointTracker,
  decodeDynamoDBRecordSafely,
} from '@shardline/core';
import { type BenchCase, measure, rate, table, voteBatch } from './harness.js';

const RECORDS = 1000;
const batch = voteBatch(RECORDS, 100);
const streamId = batch[0]!.eventSourceARN!;

function pipeline(
  name: string,
  options: Omit<BatchProcessorOptions, 'handler'>,
  handler: (r: ChangeRecord) => unknown = () => {},
): BenchCase {
  return {
    name,
    records: RECORDS,
    run: async () => {
      const records = batch.map((r) =>
        decodeDynamoDBRecordSafely(r as never, { streamId, shardId: 'shardId-1' }),
      );
      const processor = new BatchProcessor({ ...options, handler, concurrency: 10 });
      const result = await processor.process(records, { tracker: new CheckpointTracker() });
      if (result.firstNotDone !== -1) throw new Error('bench batch not done');
    },
  };
}

const everyRecord = [
  { eventName: ['MODIFY'], dynamodb: { NewImage: { UserID: { S: [{ prefix: 'user-' }] } } } },
];
// voteBatch's n runs 0…999: keeps about a third, reading DynamoDB JSON (no unmarshalling).
const fewRecords = [{ dynamodb: { NewImage: { n: { N: [{ numeric: ['<', 334] }] } } } }];

/** A handler that reads both images, as most do (images are decoded once, on first access). */
const readImages = (r: ChangeRecord) => r.newImage !== undefined && r.oldImage !== undefined;

async function main(): Promise<void> {
  const results = await measure([
    pipeline('none', {}),
    pipeline('filter keeps all', { filters: everyRecord }),
    pipeline('ttl skip', { ttlDeletes: 'skip' }),
    pipeline('2017 global tables', { globalTables: { version: '2017.11.29' } }, readImages),
    pipeline('reads both images', {}, readImages),
    pipeline('filter keeps a third', { filters: fewRecords }),
    pipeline('handler checks itself', {}, (r) => {
      if (Number(r.newImage?.n) >= 334) return;
    }),
  ]);
  const r = (k: string) => results.get(k)!;
  table([
    ['case', 'shardline', 'peer', 'ratio'],
    ...['filter keeps all', 'ttl skip'].map((k) => [
      k,
      rate(r(k)),
      `${rate(r('none'))} (no option)`,
      `${(r(k) / r('none')).toFixed(2)}x`,
    ]),
    [
      '2017 global tables, handler reads images',
      rate(r('2017 global tables')),
      `${rate(r('reads both images'))} (no option, same handler)`,
      `${(r('2017 global tables') / r('reads both images')).toFixed(2)}x`,
    ],
    [
      'filter keeps a third',
      rate(r('filter keeps a third')),
      `${rate(r('handler checks itself'))} (the handler tests newImage itself)`,
      `${(r('filter keeps a third') / r('handler checks itself')).toFixed(2)}x`,
    ],
  ]);
}

await main();
