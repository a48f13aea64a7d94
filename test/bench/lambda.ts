/**
 * The Lambda runtime against Powertools' batch processor, on the same 1000-record DynamoDB
 * Streams event (100 keys, ~300-byte images), side by side in one run.
 *
 * Shardline: `createDynamoDBHandler` end to end (decode, dedup, keyed dispatch with per-key
 * order, retries, `batchItemFailures`), a fresh handler per invocation (a cold container).
 * Powertools: `processPartialResponse` with `BatchProcessor(EventType.DynamoDBStreams)`, in its
 * default parallel mode and in sequential mode (the only one that keeps order).
 *
 * The no-op case is also run with a freshly parsed copy of the event per invocation, as Lambda
 * hands them over: V8 caches a string's hash in the string, so the reused event hashes no key or
 * event id after the first invocation, and that row shows what a real invocation pays.
 *
 * The warm-container row is what a busy function runs most of its life: one handler (and one
 * Powertools processor) for the whole run, as a module-level handler lives in an execution
 * environment, and each call the next batch of the stream, parsed fresh, with event ids it has
 * not seen (40 batches in turn: 40,000 ids between repeats, four times the dedup window). Every
 * batch finishes whole, so with `remember: 'redelivered'` (the Lambda default) the dedup window
 * stays empty, as on a healthy stream; `remember: 'every-record'` fills it and evicts, and the
 * row is run that way too, to show what the window costs when it is used. Rows measured call by
 * call start each call on an empty young generation (see `measureEach`), so they time work, not
 * garbage collection: the warm row prints what each case allocates a call next to it.
 *
 * Run: npx tsx test/bench/lambda.ts
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
  decodeDynamoDBRecordSafely,
  silentLogger,
} from '@shardline/core';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import { makeDynamoDBEvent } from '@shardline/testing';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
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

const event = makeDynamoDBEvent(voteBatch(RECORDS, KEYS));
const context = {
  getRemainingTimeInMillis: () => 60_000,
  awsRequestId: 'bench',
} as unknown as Context;
const itemBytes = JSON.stringify(event.Records[0]!.dynamodb!.NewImage).length;
const eventJson = JSON.stringify(event);
/** A copy of the event as Lambda's runtime hands it over: parsed from JSON, no string reused. */
const freshEvent = (): DynamoDBStreamEvent => JSON.parse(eventJson);
/** The stream's next batches (new sequence numbers and event ids), as JSON, taken in turn. */
const nextBatches = Array.from({ length: 40 }, () =>
  JSON.stringify(makeDynamoDBEvent(voteBatch(RECORDS, KEYS))),
);
let nextBatch = 0;
const nextEvent = (): DynamoDBStreamEvent =>
  JSON.parse(nextBatches[nextBatch++ % nextBatches.length]!);

function shardline(
  handler: (r: ChangeRecord) => unknown,
): BenchCase & EachCase<DynamoDBStreamEvent> {
  return {
    name: '',
    records: RECORDS,
    run: async (input: DynamoDBStreamEvent = event) => {
      const lambda = createDynamoDBHandler({
        handler,
        concurrency: CONCURRENCY,
        logger: silentLogger,
      });
      const response = await lambda(input, context);
      if (response.batchItemFailures.length) throw new Error('bench batch did not fully succeed');
    },
  };
}

/** One Shardline handler for every call: a warm execution environment. */
function shardlineWarm(
  handler: (r: ChangeRecord) => unknown,
  remember?: 'every-record',
): EachCase<DynamoDBStreamEvent> {
  const lambda = createDynamoDBHandler({
    handler,
    concurrency: CONCURRENCY,
    logger: silentLogger,
    ...(remember ? { remember } : {}),
  });
  return {
    name: '',
    records: RECORDS,
    run: async (input: DynamoDBStreamEvent) => {
      const response = await lambda(input, context);
      if (response.batchItemFailures.length) throw new Error('bench batch did not fully succeed');
    },
  };
}

/** One Powertools processor for every call, created at module level as its docs show. */
function powertoolsWarm(
  handler: (r: DynamoDBRecord) => Promise<unknown>,
): EachCase<DynamoDBStreamEvent> {
  const processor = new PowertoolsBatchProcessor(EventType.DynamoDBStreams);
  return {
    name: '',
    records: RECORDS,
    run: async (input: DynamoDBStreamEvent) => {
      const response = await processPartialResponse(input, handler, processor, {
        context,
        processInParallel: true,
      });
      if (response.batchItemFailures.length) throw new Error('bench batch did not fully succeed');
    },
  };
}

/** Core alone (decode + BatchProcessor), to show what the Lambda layer adds. */
function core(handler: (r: ChangeRecord) => unknown): BenchCase {
  return {
    name: '',
    records: RECORDS,
    run: async () => {
      const streamId = event.Records[0]!.eventSourceARN!;
      const context = { streamId, shardId: 'unknown' };
      const records = event.Records.map((r) => decodeDynamoDBRecordSafely(r as never, context));
      const result = await new BatchProcessor({ handler, concurrency: CONCURRENCY }).process(
        records,
      );
      if (result.succeeded !== RECORDS) throw new Error('bench batch did not fully succeed');
    },
  };
}

function powertools(
  handler: (r: DynamoDBRecord) => Promise<unknown>,
  processInParallel: boolean,
): BenchCase & EachCase<DynamoDBStreamEvent> {
  return {
    name: '',
    records: RECORDS,
    run: async (input: DynamoDBStreamEvent = event) => {
      const response = await processPartialResponse(
        input,
        handler,
        new PowertoolsBatchProcessor(EventType.DynamoDBStreams),
        { context, processInParallel },
      );
      if (response.batchItemFailures.length) throw new Error('bench batch did not fully succeed');
    },
  };
}

const sleep1 = () => new Promise<void>((r) => setTimeout(r, 1));

async function main(): Promise<void> {
  console.log(
    `Lambda handler vs Powertools batch: ${RECORDS} DynamoDB records, ${KEYS} keys, ~${itemBytes}-byte images (old and new), concurrency ${CONCURRENCY}, Node ${process.version}`,
  );
  const noop = await measure([
    { ...shardline(() => {}), name: 'shardline' },
    { ...powertools(async () => {}, true), name: 'powertools' },
    { ...core(() => {}), name: 'core' },
  ]);
  const fresh = await measureEach(
    [
      { ...shardline(() => {}), name: 'shardline' },
      { ...powertools(async () => {}, true), name: 'powertools' },
    ],
    freshEvent,
  );
  const warmAllocated = new Map<string, number>();
  const warm = await measureEach(
    [
      { ...shardlineWarm(() => {}), name: 'shardline' },
      { ...powertoolsWarm(async () => {}), name: 'powertools' },
      { ...shardlineWarm(() => {}, 'every-record'), name: 'shardline-every-record' },
    ],
    nextEvent,
    { allocated: warmAllocated },
  );
  const kb = (name: string) => `${Math.round(warmAllocated.get(name)! / 1024)} KB`;
  const reads = await measure([
    { ...shardline((r) => r.newImage), name: 'shardline' },
    {
      ...powertools(async (r) => unmarshall(r.dynamodb!.NewImage as never), true),
      name: 'powertools',
    },
  ]);
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
  const perKey = RECORDS / KEYS;
  const slots = Math.max(perKey, RECORDS / CONCURRENCY);
  const idealNominal = RECORDS / (slots * 0.001);
  const measuredSleepMs = 1000 / sleepCost.get('sleep')!;
  const idealMeasured = RECORDS / (slots * (measuredSleepMs / 1000));
  const s = (m: Map<string, number>, k: string) => m.get(k)!;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  table([
    ['case', 'shardline', 'peer', 'ratio', 'target'],
    [
      'no-op handler',
      rate(s(noop, 'shardline')),
      `${rate(s(noop, 'powertools'))} (powertools, parallel)`,
      x(s(noop, 'shardline'), s(noop, 'powertools')),
      '>= 1.5x',
    ],
    [
      '',
      '',
      `${rate(s(noop, 'core'))} (Shardline core alone, no Lambda layer)`,
      x(s(noop, 'shardline'), s(noop, 'core')),
      '',
    ],
    [
      'no-op, fresh event',
      rate(s(fresh, 'shardline')),
      `${rate(s(fresh, 'powertools'))} (powertools, parallel; each call its own parsed event)`,
      x(s(fresh, 'shardline'), s(fresh, 'powertools')),
      '-',
    ],
    [
      'no-op, warm, next batch',
      rate(s(warm, 'shardline')),
      `${rate(s(warm, 'powertools'))} (powertools, parallel; one handler, each call the stream's next batch)`,
      x(s(warm, 'shardline'), s(warm, 'powertools')),
      '>= 2x',
    ],
    [
      '',
      '',
      `${rate(s(warm, 'shardline-every-record'))} (Shardline, remember: 'every-record': a full window)`,
      x(s(warm, 'shardline'), s(warm, 'shardline-every-record')),
      '',
    ],
    [
      '',
      '',
      `allocated a call: ${kb('shardline')} (Shardline), ${kb('powertools')} (powertools), ${kb('shardline-every-record')} (every-record)`,
      '',
      '',
    ],
    [
      'reads newImage',
      rate(s(reads, 'shardline')),
      `${rate(s(reads, 'powertools'))} (powertools + unmarshall)`,
      x(s(reads, 'shardline'), s(reads, 'powertools')),
      '-',
    ],
    [
      `1 ms I/O, c=${CONCURRENCY}`,
      rate(s(io, 'shardline')),
      `${rate(idealNominal)} (ideal per-key-serial, 1 ms)`,
      (s(io, 'shardline') / idealNominal).toFixed(2),
      '>= 0.8',
    ],
    [
      '',
      '',
      `${rate(idealMeasured)} (ideal, measured sleep ${measuredSleepMs.toFixed(2)} ms)`,
      (s(io, 'shardline') / idealMeasured).toFixed(2),
      '',
    ],
    [
      '',
      '',
      `${rate(s(io, 'powertools-parallel'))} (powertools parallel: no per-key order)`,
      x(s(io, 'shardline'), s(io, 'powertools-parallel')),
      '',
    ],
    [
      '',
      '',
      `${rate(s(io, 'powertools-sequential'))} (powertools sequential: order kept)`,
      x(s(io, 'shardline'), s(io, 'powertools-sequential')),
      '',
    ],
  ]);
}

await main();
