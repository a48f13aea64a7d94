import {
  type ChangeRecord,
  EventBus,
  InMemoryFailureDestination,
  InMemoryMetrics,
  silentLogger,
} from '@shardline/core';
import {
  makeDynamoDBEvent,
  makeDynamoDBRecord,
  makeKinesisDynamoDBRecord,
  makeKinesisEvent,
  makeKinesisRecord,
} from '@shardline/testing';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import { createLambdaHandler } from '../../src/index.js';
import { createKinesisHandler } from '../../src/kinesis.js';
import { fakeContext, permanentError } from '../helpers/lambda.js';

/** An order item; `status` decides whether the filter below keeps it. */
function order(id: string, status: string): DynamoDBRecord {
  return makeDynamoDBRecord({ keys: { id }, newImage: { id, status } });
}

const paidOnly = {
  Filters: [{ Pattern: JSON.stringify({ dynamodb: { NewImage: { status: { S: ['paid'] } } } }) }],
};
const quiet = { logger: silentLogger, retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 } };

describe('filters in the Lambda handler', () => {
  it('never gives filtered records to the handler, counts them, and reports no failure for them', async () => {
    // arrange
    const records = [order('a', 'open'), order('b', 'paid'), order('c', 'open')];
    const seen: string[] = [];
    const metrics = new InMemoryMetrics();
    const destination = new InMemoryFailureDestination();
    const handler = createDynamoDBHandler({
      ...quiet,
      metrics,
      failureDestination: destination,
      filters: paidOnly,
      handler: (r) => {
        if (r.newImage?.status !== 'paid') throw permanentError();
        seen.push(String(r.keys?.id));
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(['b']);
    expect(
      [...metrics.counters.entries()].filter(([k]) => k.startsWith('records_filtered_total')),
    ).toEqual([[expect.stringContaining('reason=filter'), 2]]);
    expect(destination.records).toEqual([]);
  });

  it('moves the checkpoint past filtered records: the failure reported is the first kept record that failed', async () => {
    // arrange
    const records = [order('a', 'open'), order('b', 'paid'), order('c', 'open')];
    const handler = createDynamoDBHandler({
      ...quiet,
      retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, onExhausted: 'block' },
      filters: paidOnly,
      handler: () => {
        throw permanentError();
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
    ]);
  });

  it('on a time-out, reports the unfinished kept record, not a filtered one before it', async () => {
    // arrange
    const records = [order('a', 'open'), order('b', 'paid')];
    const handler = createDynamoDBHandler({
      ...quiet,
      timeoutMarginMs: 100,
      filters: paidOnly,
      handler: () => new Promise(() => {}), // never settles
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(300));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
    ]);
  });

  it('filters before a tumbling-window fold, and emits record.filtered', async () => {
    // arrange
    const records = [order('a', 'open'), order('b', 'paid'), order('c', 'paid')];
    const events = new EventBus();
    const filtered: string[] = [];
    events.on('record.filtered', (e) => filtered.push(e.reason));
    const handler = createDynamoDBHandler<{ ids?: string[] }>({
      ...quiet,
      events,
      filters: paidOnly,
      windowHandler: (rs: readonly ChangeRecord[], window) => ({
        ids: [...(window.state.ids ?? []), ...rs.map((r) => String(r.keys?.id))],
      }),
    });
    const event = {
      ...makeDynamoDBEvent(records),
      window: { start: '2026-12-04T00:00:00Z', end: '2026-12-04T00:01:00Z' },
      state: {},
      isFinalInvokeForWindow: false,
      isWindowTerminatedEarly: false,
    };
    // act
    const response = await handler(event, fakeContext(10_000));
    // assert
    expect(response).toEqual({ state: { ids: ['b', 'c'] }, batchItemFailures: [] });
    expect(filtered).toEqual(['filter']);
  });
});

describe('TTL deletes in the Lambda handler', () => {
  const ttlRemove = makeDynamoDBRecord({ keys: { id: 'x' }, oldImage: { id: 'x' }, ttl: true });
  const userRemove = makeDynamoDBRecord({ keys: { id: 'y' }, oldImage: { id: 'y' } });

  it("skips TTL deletes (the documented userIdentity) with ttlDeletes: 'skip'", async () => {
    // arrange
    const seen: string[] = [];
    const handler = createLambdaHandler({
      ...quiet,
      ttlDeletes: 'skip',
      handler: (r) => void seen.push(String(r.keys?.id)),
    });
    // act
    const response = await handler(makeDynamoDBEvent([ttlRemove, userRemove]), fakeContext(10_000));
    // assert
    expect(ttlRemove.userIdentity).toEqual({
      type: 'Service',
      principalId: 'dynamodb.amazonaws.com',
    });
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual(['y']);
  });

  it('refuses ttlDeletes: { routeTo } with a windowHandler, saying what to use instead', () => {
    expect(() =>
      createDynamoDBHandler({
        ...quiet,
        ttlDeletes: { routeTo: { name: 'archive', write: async () => [] } },
        windowHandler: (_rs, w) => w.state,
      }),
    ).toThrow(/ttlDeletes: 'skip'/);
  });
});

describe('filters on Kinesis records', () => {
  it('match the JSON payload under data and the metadata (partitionKey); non-JSON payloads do not match data', async () => {
    // arrange
    const records = [
      makeKinesisRecord({ partitionKey: 'sensor-1', data: { temperature: 31 } }),
      makeKinesisRecord({ partitionKey: 'sensor-2', data: { temperature: 12 } }),
      makeKinesisRecord({ partitionKey: 'sensor-3', data: 'not json' }),
      makeKinesisRecord({ partitionKey: 'probe-4', data: { temperature: 40 } }),
    ];
    const seen: string[] = [];
    const handler = createKinesisHandler({
      ...quiet,
      filters: [
        { partitionKey: [{ prefix: 'sensor-' }], data: { temperature: [{ numeric: ['>', 30] }] } },
      ],
      handler: (r) => void seen.push(String(r.partitionKey)),
    });
    // act
    const response = await handler(makeKinesisEvent(records), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual(['sensor-1']);
  });

  it('match "Kinesis Data Streams for DynamoDB" payloads under data.dynamodb, in DynamoDB JSON', async () => {
    // arrange
    const at = 1_764_000_000_000;
    const records = [
      makeKinesisDynamoDBRecord({
        keys: { id: 'a' },
        newImage: { id: 'a', status: 'paid' },
        approximateCreationDateTime: at,
      }),
      makeKinesisDynamoDBRecord({
        keys: { id: 'b' },
        newImage: { id: 'b', status: 'open' },
        approximateCreationDateTime: at + 1,
      }),
    ];
    const seen: string[] = [];
    const handler = createKinesisHandler({
      ...quiet,
      payload: 'dynamodb',
      filters: [
        { data: { eventName: ['INSERT'], dynamodb: { NewImage: { status: { S: ['paid'] } } } } },
      ],
      handler: (r) => void seen.push(String(r.keys?.id)),
    });
    // act
    const response = await handler(makeKinesisEvent(records), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual(['a']);
  });
});

describe('global tables in the Lambda handler', () => {
  it('on a time-out without a deduper, knows which stripped records the handler finished', async () => {
    // arrange
    const records = [
      makeDynamoDBRecord({ keys: { id: 'a' }, newImage: { id: 'a', 'aws:rep:updateregion': 'x' } }),
      makeDynamoDBRecord({ keys: { id: 'b' }, newImage: { id: 'b', 'aws:rep:updateregion': 'x' } }),
    ];
    const handler = createDynamoDBHandler({
      ...quiet,
      deduper: false,
      timeoutMarginMs: 100,
      globalTables: { version: '2017.11.29' },
      handler: (r) => (r.keys?.id === 'a' ? undefined : new Promise(() => {})),
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(300));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
    ]);
  });

  it('2017.11.29: drops the bookkeeping MODIFY and hands images without aws:rep:*', async () => {
    // arrange: a user write in us-east-1, then the replicator stamping it
    const written = makeDynamoDBRecord({
      keys: { id: 'a' },
      oldImage: { id: 'a', n: 1 },
      newImage: { id: 'a', n: 2 },
      region: 'eu-west-1',
    });
    const stamped = makeDynamoDBRecord({
      keys: { id: 'a' },
      oldImage: { id: 'a', n: 2 },
      newImage: {
        id: 'a',
        n: 2,
        'aws:rep:updateregion': 'eu-west-1',
        'aws:rep:updatetime': 1764000000.5,
        'aws:rep:deleting': false,
      },
      region: 'eu-west-1',
    });
    const seen: unknown[] = [];
    const handler = createDynamoDBHandler({
      ...quiet,
      globalTables: { version: '2017.11.29' },
      handler: (r) => void seen.push([r.region, r.newImage]),
    });
    // act
    const response = await handler(makeDynamoDBEvent([written, stamped]), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([['eu-west-1', { id: 'a', n: 2 }]]);
  });
});
