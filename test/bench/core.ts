/**
 * Core throughput against Powertools' batch processor, on the same 1000-record DynamoDB batch
 * (100 keys, ~300-byte items), in one run.
 *
 * Shardline: decode + dedup + keyed dispatch (per-key order) + checkpoint tracking.
 * Powertools: processPartialResponse with BatchProcessor(EventType.DynamoDBStreams).
 *
 * Run: npx tsx --expose-gc test/bench/core.ts   (--expose-gc for the dedup memory rows)
 */
import {
  EventType,
  BatchProcessor as PowertoolsBatchProcessor,
  processPartialResponse,
} from '@aws-lambda-powertools/batch';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  BatchProcessor,
  type ChangeRecord,
  CheckpointTracker,
  DEFAULT_MAX_EVENT_IDS,
  DEFAULT_MAX_KEY_VERSIONS,
  Deduper,
  decodeDynamoDBRecordSafely,
} from '@shardline/core';
import { makeDynamoDBEvent } from '@shardline/testing';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import {
  type BenchCase,
  type EachCase,
  measure,
  measureEach,
  rate,
  table,
  voteBatch,
} from './harness.js';

const RECORDS = 1000;
const KEYS = 100;
const CONCURRENCY = 10;

const batch = voteBatch(RECORDS, KEYS);
const event = makeDynamoDBEvent(batch);
const context = { getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
const itemBytes = JSON.stringify(batch[0]!.dynamodb!.NewImage).length;

/**
 * Core on a batch (by default the shared one): decode, dedup, keyed dispatch, checkpoint
 * tracking. `deduper` gives the dedup window (default: a new one per call, as a new processor has).
 */
function shardline(
  handler: (r: ChangeRecord) => unknown,
  deduper?: () => Deduper,
): BenchCase & EachCase<DynamoDBRecord[]> {
  return {
    name: '',
    records: RECORDS,
    run: async (input: DynamoDBRecord[] = batch) => {
      const streamId = input[0]!.eventSourceARN!;
      const records = input.map((r) =>
        decodeDynamoDBRecordSafely(r as never, { streamId, shardId: 'shardId-1' }),
      );
      const tracker = new CheckpointTracker();
      const processor = new BatchProcessor({
        handler,
        concurrency: CONCURRENCY,
        ...(deduper ? { deduper: deduper() } : {}),
      });
      const result = await processor.process(records, { tracker });
      if (result.succeeded !== RECORDS) throw new Error('bench batch did not fully succeed');
    },
  };
}

function powertools(
  handler: (r: DynamoDBRecord) => Promise<unknown>,
  processInParallel: boolean,
): BenchCase {
  return {
    name: '',
    records: RECORDS,
    run: async () => {
      const response = await processPartialResponse(
        event,
        handler,
        new PowertoolsBatchProcessor(EventType.DynamoDBStreams),
        {
          context,
          processInParallel,
        },
      );
      if (response.batchItemFailures.length) throw new Error('bench batch did not fully succeed');
    },
  };
}

const sleep1 = () => new Promise<void>((r) => setTimeout(r, 1));

let nextEventId = 0;
/** The batch with event ids never seen before, as the next batch of a long-running shard. */
const newBatch = (): DynamoDBRecord[] =>
  batch.map((r) => ({ ...r, eventID: `evt-${(nextEventId++).toString(16).padStart(32, '0')}` }));

/** Shards whose dedup windows the memory rows fill, for a per-shard average. */
const MEMORY_SHARDS = 20;

/**
 * Heap plus typed-array bytes that full dedup windows hold, per shard, in MB: `MEMORY_SHARDS`
 * dedupers, each sent as many done records as both its windows hold (every record a new event
 * id and a new item), measured after a forced GC. `undefined` without `--expose-gc`.
 */
function dedupMemoryPerShardMB(eventId: (shard: number, i: number) => string): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  const used = () => {
    gc();
    gc();
    const memory = process.memoryUsage();
    return memory.heapUsed + memory.arrayBuffers;
  };
  const before = used();
  const dedupers: Deduper[] = [];
  const records = Math.max(DEFAULT_MAX_EVENT_IDS, DEFAULT_MAX_KEY_VERSIONS);
  for (let shard = 0; shard < MEMORY_SHARDS; shard++) {
    const deduper = new Deduper();
    for (let i = 0; i < records; i++) {
      deduper.remember({
        eventId: eventId(shard, i),
        version: BigInt(1_764_000_000_000_000 + i),
        tableName: 'Votes',
        marshalledKeys: { UserID: { S: `user-${shard}-${i}` } },
      });
    }
    dedupers.push(deduper);
  }
  const after = used();
  if (dedupers.some((d) => d.size.eventIds !== DEFAULT_MAX_EVENT_IDS)) {
    throw new Error('a memory-bench dedup window is not full');
  }
  return (after - before) / MEMORY_SHARDS / 1e6;
}

/** A DynamoDB Streams `eventID`: 32 hex digits, a new string per record as a parsed event has. */
const dynamoDBEventId = (shard: number, i: number) =>
  `${shard.toString(16).padStart(8, '0')}${i.toString(16).padStart(24, '0')}`;
/** A Kinesis record's event id, `shardId:sequenceNumber` (56 digits). */
const kinesisEventId = (shard: number, i: number) =>
  `shardId-${String(shard).padStart(12, '0')}:4959033827149025660855969253836157109592157598${String(i).padStart(10, '0')}`;

async function main(): Promise<void> {
  console.log(
    `Core vs Powertools batch: ${RECORDS} DynamoDB records, ${KEYS} keys, ~${itemBytes}-byte items (old and new image), Node ${process.version}`,
  );

  // 1. No-op handler.
  const noop = await measure([
    { ...shardline(() => {}), name: 'shardline' },
    { ...powertools(async () => {}, true), name: 'powertools' },
  ]);
  // 2. Handler that reads the new image (Shardline decodes lazily; Powertools does not decode).
  const reads = await measure([
    { ...shardline((r) => r.newImage), name: 'shardline' },
    {
      ...powertools(async (r) => unmarshall(r.dynamodb!.NewImage as never), true),
      name: 'powertools',
    },
  ]);
  // 3. Handler that awaits 1 ms (I/O), concurrency c across keys, per-key order kept.
  const sleepCost = await measure([{ name: 'sleep', records: 1, run: sleep1 }], {
    rounds: 5,
    minRoundMs: 200,
    warmup: 5,
  });
  const io = await measure(
    [
      { ...shardline(sleep1), name: 'shardline' },
      { ...powertools(sleep1, true), name: 'powertools-parallel' },
      { ...powertools(sleep1, false), name: 'powertools-sequential' },
    ],
    { rounds: 3, minRoundMs: 400, warmup: 2 },
  );
  // 4. A full dedup window (a warm container, a worker after its first 100,000 records)
  // against an empty one: every record then also evicts the oldest id.
  const full = new Deduper();
  for (let i = 0; i < DEFAULT_MAX_EVENT_IDS / RECORDS; i++) {
    await shardline(
      () => {},
      () => full,
    ).run(newBatch());
  }
  const dedup = await measureEach(
    [
      {
        ...shardline(
          () => {},
          () => full,
        ),
        name: 'full',
      },
      { ...shardline(() => {}), name: 'empty' },
    ],
    newBatch,
  );
  const perKey = RECORDS / KEYS;
  const idealNominal = RECORDS / (Math.max(perKey, RECORDS / CONCURRENCY) * 0.001);
  const measuredSleepMs = 1000 / sleepCost.get('sleep')!;
  const idealMeasured =
    RECORDS / (Math.max(perKey, RECORDS / CONCURRENCY) * (measuredSleepMs / 1000));

  const memoryDynamoDB = dedupMemoryPerShardMB(dynamoDBEventId);
  const memoryKinesis = dedupMemoryPerShardMB(kinesisEventId);
  const mb = (value: number | undefined) =>
    value === undefined ? 'run with --expose-gc' : `${value.toFixed(2)} MB per shard`;

  const s = (m: Map<string, number>, k: string) => m.get(k)!;
  table([
    ['case', 'shardline', 'peer', 'ratio', 'target'],
    [
      'no-op handler',
      rate(s(noop, 'shardline')),
      `${rate(s(noop, 'powertools'))} (powertools)`,
      `${(s(noop, 'shardline') / s(noop, 'powertools')).toFixed(2)}x`,
      '>= 1.5x',
    ],
    [
      'reads newImage',
      rate(s(reads, 'shardline')),
      `${rate(s(reads, 'powertools'))} (powertools + unmarshall)`,
      `${(s(reads, 'shardline') / s(reads, 'powertools')).toFixed(2)}x`,
      '-',
    ],
    [
      'full dedup window',
      rate(s(dedup, 'full')),
      `${rate(s(dedup, 'empty'))} (the same with an empty window)`,
      `${(s(dedup, 'full') / s(dedup, 'empty')).toFixed(2)}x`,
      '>= 0.8x',
    ],
    [
      'dedup memory, full',
      mb(memoryDynamoDB),
      `${DEFAULT_MAX_EVENT_IDS} DynamoDB eventIDs + ${DEFAULT_MAX_KEY_VERSIONS} item versions`,
      '',
      '<= 1 MB',
    ],
    [
      '',
      mb(memoryKinesis),
      `${DEFAULT_MAX_EVENT_IDS} Kinesis shard:sequence ids + ${DEFAULT_MAX_KEY_VERSIONS} item versions`,
      '',
      '',
    ],
    [
      `1 ms I/O, c=${CONCURRENCY}`,
      rate(s(io, 'shardline')),
      `${rate(idealNominal)} (ideal, 1 ms)`,
      `${(s(io, 'shardline') / idealNominal).toFixed(2)}`,
      '>= 0.8',
    ],
    [
      '',
      '',
      `${rate(idealMeasured)} (ideal, measured sleep ${measuredSleepMs.toFixed(2)} ms)`,
      `${(s(io, 'shardline') / idealMeasured).toFixed(2)}`,
      '',
    ],
    [
      '',
      '',
      `${rate(s(io, 'powertools-parallel'))} (powertools parallel: no per-key order)`,
      `${(s(io, 'shardline') / s(io, 'powertools-parallel')).toFixed(2)}x`,
      '',
    ],
    [
      '',
      '',
      `${rate(s(io, 'powertools-sequential'))} (powertools sequential: order kept)`,
      `${(s(io, 'shardline') / s(io, 'powertools-sequential')).toFixed(2)}x`,
      '',
    ],
  ]);
}

await main();
