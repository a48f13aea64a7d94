/**
 * One warm Lambda handler (`remember: 'redelivered'`, the default) against a model of the event
 * source mapping that sends every batch again from the checkpoint it reports: random failures,
 * calls that hang past the time limit and finish (or fail) later, while the next invocations
 * run, parked records, KPL aggregates (reported whole), and a buffering sink whose flushes fail
 * or end late. The properties:
 *
 * 1. A record already applied (its handler call or sink write finished ok; for the buffering
 *    sink, a flush that took it ended well) or parked is never handed to the handler or sink
 *    again: the deduper drops it.
 * 2. Nothing that was not applied is dropped: once the mapping reads past the last record,
 *    every record was applied or parked.
 *
 * Time is faked (seeded and fast): a hung call finishes at a random time on the fake clock,
 * before the answer at the time limit or during a later invocation.
 */
import {
  type ChangeRecord,
  EventBus,
  InMemoryFailureDestination,
  type SinkRecordResult,
  silentLogger,
} from '@shardline/core';
import {
  makeDynamoDBEvent,
  makeDynamoDBRecord,
  makeKinesisEvent,
  makeKinesisRecord,
  seededRandom,
} from '@shardline/testing';
import type { DynamoDBRecord, KinesisStreamRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import { createKinesisHandler } from '../../src/kinesis.js';
import type { LambdaHandlerOptions, StreamBatchResponse } from '../../src/types.js';
import { fakeContext, kplAggregate, permanentError, retriableError } from '../helpers/lambda.js';

type Mode = 'handler' | 'keyBatchHandler' | 'sink' | 'buffering-sink';
type Source = 'dynamodb' | 'kinesis-kpl';

/** The stream: Lambda records in order, each holding the user records (ids) it carries. */
interface Stream {
  readonly source: Source;
  readonly lambdaRecords: readonly (DynamoDBRecord | KinesisStreamRecord)[];
  readonly identifiers: readonly string[];
  readonly ids: readonly string[];
  /** The key of each user record. */
  readonly keys: ReadonlyMap<string, string>;
}

const KEYS = 5;
const REMAINING_MS = 100;
const MARGIN_MS = 20;

/** Keys a DynamoDB scenario with record selection leaves out (`filters`). */
const FILTERED_KEY = `k${KEYS - 1}`;
const keptKeys = {
  Filters: [
    {
      Pattern: JSON.stringify({
        dynamodb: { NewImage: { pk: { S: Array.from({ length: KEYS - 1 }, (_, k) => `k${k}`) } } },
      }),
    },
  ],
};

async function buildStream(source: Source, random: () => number, length: number): Promise<Stream> {
  const lambdaRecords: (DynamoDBRecord | KinesisStreamRecord)[] = [];
  const identifiers: string[] = [];
  const ids: string[] = [];
  const keys = new Map<string, string>();
  let next = 0;
  const newId = () => {
    const id = `u${next++}`;
    const key = `k${Math.floor(random() * KEYS)}`;
    ids.push(id);
    keys.set(id, key);
    return { id, key };
  };
  while (lambdaRecords.length < length) {
    if (source === 'dynamodb') {
      const { id, key } = newId();
      // A global table's replication attribute, which record selection strips.
      const newImage = { pk: key, id, 'aws:rep:updateregion': 'us-east-1' };
      const record = makeDynamoDBRecord({ keys: { pk: key }, newImage });
      lambdaRecords.push(record);
      identifiers.push(record.dynamodb!.SequenceNumber!);
    } else {
      const users = Array.from(
        { length: random() < 0.5 ? 1 : 2 + Math.floor(random() * 3) },
        newId,
      );
      const record =
        users.length === 1
          ? makeKinesisRecord({ partitionKey: users[0]!.key, data: users[0]!.id })
          : await aggregated(users);
      lambdaRecords.push(record);
      identifiers.push(record.kinesis.sequenceNumber);
    }
  }
  return { source, lambdaRecords, identifiers, ids, keys };
}

async function aggregated(users: readonly { id: string; key: string }[]) {
  const aggregate = await kplAggregate(users.map((u) => ({ partitionKey: u.key, data: u.id })));
  return makeKinesisRecord({ partitionKey: aggregate.partitionKey, data: aggregate.data });
}

function keyOf(record: ChangeRecord): string {
  return record.source === 'kinesis' ? record.orderingKey : String(record.keys?.pk);
}

function idOf(record: ChangeRecord): string {
  return record.source === 'kinesis'
    ? Buffer.from(record.data!).toString()
    : String(record.newImage?.id);
}

/** What one call (of a record, a key's group, or a sink write) does. */
type Fate = 'ok' | 'fail' | 'hang-ok' | 'hang-fail';

/** What a scenario went through, to see that the faults happened. */
interface Stats {
  /** Answers given at the time limit with a call still running. */
  timeLimit: number;
  /** Calls that ended well after their invocation had answered. */
  lateApplied: number;
  /** Records dropped as already applied. */
  dropped: number;
  /** Retries within a batch. */
  retried: number;
  /** Records left out by record selection. */
  filtered: number;
}

/**
 * Runs one scenario; returns what broke the properties (empty when none did).
 */
async function run(
  seed: number,
  source: Source,
  mode: Mode,
  park: boolean,
  stats: Stats,
): Promise<string[]> {
  const random = seededRandom(seed);
  const stream = await buildStream(source, random, 40);
  // Every other DynamoDB scenario selects records: a key filtered out, replication stripped.
  const select = source === 'dynamodb' && seed % 2 === 0;
  const filteredIds = new Set(
    select ? stream.ids.filter((id) => stream.keys.get(id) === FILTERED_KEY) : [],
  );
  vi.useFakeTimers();
  const applied = new Set<string>();
  let answers = 0;
  const deliveries = new Map<string, number>();
  const broken: string[] = [];
  const destination = new InMemoryFailureDestination();
  // Which user record each (sequence, sub-sequence) is, to read the failure destination.
  const idAt = new Map<string, string>();
  const positionOf = (r: { sequenceNumber: string; subSequenceNumber?: number | undefined }) =>
    `${r.sequenceNumber}/${r.subSequenceNumber ?? ''}`;
  const parked = () => new Set(destination.records.map((f) => idAt.get(positionOf(f))));

  /** The fate of a call of `records`; records delivered often enough always succeed. */
  const fate = (records: readonly ChangeRecord[]): Fate => {
    const parkedNow = parked();
    for (const r of records) {
      const id = idOf(r);
      idAt.set(positionOf(r), id);
      // A record applied (or parked) before is never handed out again.
      if (applied.has(id)) broken.push(`${id} handed out again after it was applied`);
      if (parkedNow.has(id)) broken.push(`${id} handed out again after it was parked`);
      if (select && keyOf(r) === FILTERED_KEY) broken.push(`${id} handed out though filtered`);
      if (select && r.newImage?.['aws:rep:updateregion'] !== undefined)
        broken.push(`${id} handed out with its replication attribute`);
    }
    const worn = records.every((r) => (deliveries.get(idOf(r)) ?? 0) >= 4);
    for (const r of records) deliveries.set(idOf(r), (deliveries.get(idOf(r)) ?? 0) + 1);
    if (worn) return 'ok';
    const x = random();
    return x < 0.1 ? 'fail' : x < 0.2 ? 'hang-ok' : x < 0.25 ? 'hang-fail' : 'ok';
  };
  // A buffering sink's writes land in its buffer, and are applied when a flush ends well.
  let buffer: string[] = [];
  /** Carries out `fate` for `records`; applies them (or buffers them) when it ends well. */
  const perform = (fate: Fate, records: readonly ChangeRecord[]): unknown => {
    const apply = () => {
      for (const r of records) {
        if (mode === 'buffering-sink') buffer.push(idOf(r));
        else applied.add(idOf(r));
      }
    };
    if (fate === 'fail') throw random() < 0.5 ? permanentError() : retriableError();
    if (fate === 'ok') {
      if (random() < 0.5) return apply();
      return Promise.resolve().then(apply);
    }
    // Finishes at a random time: before the answer at the time limit, or during later calls.
    const at = Math.floor(random() * REMAINING_MS * 3);
    const answeredBefore = answers;
    return new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        if (fate === 'hang-fail') reject(permanentError('failed late'));
        else {
          if (answers > answeredBefore) stats.lateApplied++;
          apply();
          resolve();
        }
      }, at);
    });
  };

  /** A buffering sink's flush: what it took from the buffer is applied when it ends well. */
  const flush = async (): Promise<void> => {
    const taken = buffer;
    buffer = [];
    const x = random();
    const fate: Fate = x < 0.1 ? 'fail' : x < 0.25 ? 'hang-ok' : x < 0.3 ? 'hang-fail' : 'ok';
    if (fate === 'fail') throw retriableError('upload failed');
    if (fate !== 'ok') {
      await new Promise<void>((resolve, reject) =>
        setTimeout(
          () => (fate === 'hang-fail' ? reject(retriableError('upload failed late')) : resolve()),
          Math.floor(random() * REMAINING_MS * 3),
        ),
      );
    }
    for (const id of taken) applied.add(id);
  };

  const events = new EventBus();
  events.on('record.duplicate', () => {
    stats.dropped++;
  });
  events.on('record.retried', () => {
    stats.retried++;
  });
  events.on('record.filtered', () => {
    stats.filtered++;
  });
  const common = {
    events,
    logger: silentLogger,
    timeoutMarginMs: MARGIN_MS,
    concurrency: 3,
    // The backoff's jitter drawn from the seed too, so that a run repeats exactly.
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 5, random: seededRandom(seed + 1) },
    ...(select ? { filters: keptKeys, globalTables: { version: '2017.11.29' as const } } : {}),
    ...(park ? { failureDestination: destination } : {}),
  } as const;
  const modeOptions: Pick<LambdaHandlerOptions, 'handler' | 'keyBatchHandler' | 'sink'> =
    mode === 'handler'
      ? { handler: (r) => perform(fate([r]), [r]) }
      : mode === 'keyBatchHandler'
        ? { keyBatchHandler: (rs) => perform(fate(rs), rs) }
        : {
            sink: {
              name: 'model',
              maxBatchSize: 3,
              ...(mode === 'buffering-sink' ? { flush } : {}),
              write: async (rs): Promise<SinkRecordResult[]> => {
                // One fate per record; a write hangs when one of its records does.
                const fates = rs.map((r) => fate([r]));
                const results = fates.map((f): SinkRecordResult => {
                  if (f !== 'fail' && f !== 'hang-fail') return { status: 'ok' };
                  const retriable = random() < 0.5;
                  const error = retriable ? retriableError() : permanentError();
                  return { status: 'failed', error, retriable };
                });
                const okOnes = rs.filter((_, i) => results[i]!.status === 'ok');
                const hang = fates.some((f) => f === 'hang-ok' || f === 'hang-fail');
                await perform(hang ? 'hang-ok' : 'ok', okOnes);
                return results;
              },
            },
          };
  const handle = (source === 'dynamodb'
    ? createDynamoDBHandler({ ...common, ...modeOptions })
    : createKinesisHandler({ ...common, ...modeOptions })) as unknown as (
    event: unknown,
    context: unknown,
  ) => Promise<StreamBatchResponse>;

  // The event source mapping: batches from the checkpoint, resumed at the lowest reported item.
  let checkpoint = 0;
  for (let invocation = 0; checkpoint < stream.lambdaRecords.length; invocation++) {
    if (invocation > 400) {
      broken.push(`no progress past record ${checkpoint}`);
      break;
    }
    const size = 1 + Math.floor(random() * 8);
    const batch = stream.lambdaRecords.slice(checkpoint, checkpoint + size);
    const event =
      source === 'dynamodb'
        ? makeDynamoDBEvent(batch as DynamoDBRecord[])
        : makeKinesisEvent(batch as KinesisStreamRecord[]);
    let answered = false;
    const answer = handle(event, fakeContext(REMAINING_MS)).finally(() => {
      answered = true;
      answers++;
    });
    await vi.advanceTimersByTimeAsync(REMAINING_MS - MARGIN_MS);
    if (!answered) stats.timeLimit++;
    await vi.advanceTimersByTimeAsync(MARGIN_MS);
    const response = await answer;
    const reported = response.batchItemFailures.map((f) =>
      stream.identifiers.indexOf(f.itemIdentifier),
    );
    if (reported.some((i) => i < checkpoint || i >= checkpoint + batch.length)) {
      broken.push(`reported ${JSON.stringify(response.batchItemFailures)} outside the batch`);
      break;
    }
    checkpoint = reported.length === 0 ? checkpoint + batch.length : Math.min(...reported);
  }
  // Calls still running finish; then every record must have been applied or parked.
  await vi.advanceTimersByTimeAsync(REMAINING_MS * 4);
  const parkedIds = parked();
  for (const id of stream.ids) {
    if (!applied.has(id) && !parkedIds.has(id) && !filteredIds.has(id))
      broken.push(`${id} never applied nor parked`);
  }
  vi.useRealTimers();
  return broken;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("remember: 'redelivered' under redeliveries, time-outs and late calls (property)", () => {
  const cases: { source: Source; mode: Mode; park: boolean }[] = [];
  for (const source of ['dynamodb', 'kinesis-kpl'] as const)
    for (const mode of ['handler', 'keyBatchHandler', 'sink', 'buffering-sink'] as const)
      for (const park of [false, true]) cases.push({ source, mode, park });

  it.each(cases)(
    'applies every record once and drops none unapplied ($source, $mode, park $park)',
    async ({ source, mode, park }) => {
      const broken: string[] = [];
      const stats: Stats = { timeLimit: 0, lateApplied: 0, dropped: 0, retried: 0, filtered: 0 };
      for (let seed = 1; seed <= 24; seed++) {
        for (const problem of await run(seed, source, mode, park, stats)) {
          broken.push(`seed ${seed}: ${problem}`);
        }
      }
      expect(broken).toEqual([]);
      expect(stats.timeLimit).toBeGreaterThan(0);
      expect(stats.lateApplied).toBeGreaterThan(0);
      expect(stats.dropped).toBeGreaterThan(0);
      expect(stats.retried).toBeGreaterThan(0);
      if (source === 'dynamodb') expect(stats.filtered).toBeGreaterThan(0);
    },
  );
});
