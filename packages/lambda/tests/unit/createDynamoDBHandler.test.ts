import {
  type ChangeRecord,
  Deduper,
  InMemoryFailureDestination,
  InMemoryMetrics,
  silentLogger,
} from '@shardline/core';
import { makeDynamoDBEvent, makeDynamoDBRecord, streamArnFor } from '@shardline/testing';
import type { DynamoDBRecord, DynamoDBStreamHandler } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import { createLambdaHandler } from '../../src/index.js';
import {
  fakeContext,
  permanentError,
  retriableError,
  VersionedMemorySink,
} from '../helpers/lambda.js';

function vote(user: string, n: number, sequenceNumber?: string): DynamoDBRecord {
  return makeDynamoDBRecord({
    keys: { UserID: user },
    newImage: { UserID: user, votes: n, note: 'x'.repeat(40) },
    ...(sequenceNumber ? { sequenceNumber } : {}),
  });
}

const quiet = { logger: silentLogger, retry: { baseDelayMs: 0, maxDelayMs: 0 } } as const;

describe('createDynamoDBHandler', () => {
  it('applies every record in per-key order and reports no failure', async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1), vote('a', 2), vote('b', 2), vote('a', 3)];
    const seen: string[] = [];
    const handler = createDynamoDBHandler({
      ...quiet,
      handler: async (record) => {
        seen.push(`${String(record.keys?.UserID)}${String(record.newImage?.votes)}`);
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(seen.filter((s) => s.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(seen.filter((s) => s.startsWith('b'))).toEqual(['b1', 'b2']);
  });

  it('reports only the lowest unfinished sequence number and stops the failed key', async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1), vote('a', 2), vote('b', 2), vote('a', 3)];
    const poison = records[2]!.dynamodb!.SequenceNumber!;
    const applied: string[] = [];
    const handler = createDynamoDBHandler({
      ...quiet,
      retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
      handler: (record) => {
        if (record.sequenceNumber === poison) throw permanentError();
        applied.push(record.sequenceNumber);
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: poison }]);
    const seq = records.map((r) => r.dynamodb!.SequenceNumber!);
    expect(applied).toEqual([seq[0], seq[1], seq[3]]);
  });

  it('parks a poison record whole in the failure destination and the next invocation proceeds', async () => {
    // arrange
    const destination = new InMemoryFailureDestination();
    const first = [vote('a', 1), vote('a', 2), vote('a', 3)];
    const second = [vote('a', 4)];
    const poison = first[1]!;
    const applied: unknown[] = [];
    const handler = createDynamoDBHandler({
      ...quiet,
      failureDestination: destination,
      handler: (record) => {
        if (record.sequenceNumber === poison.dynamodb!.SequenceNumber) throw retriableError();
        applied.push(record.newImage?.votes);
      },
    });
    // act
    const firstResponse = await handler(makeDynamoDBEvent(first), fakeContext(10_000));
    const secondResponse = await handler(makeDynamoDBEvent(second), fakeContext(10_000));
    // assert
    expect(firstResponse.batchItemFailures).toEqual([]);
    expect(secondResponse.batchItemFailures).toEqual([]);
    expect(applied).toEqual([1, 3, 4]);
    expect(destination.records).toHaveLength(1);
    const parked = destination.records[0]!;
    expect(parked.record).toEqual(poison);
    expect(parked).toMatchObject({
      source: 'dynamodb-streams',
      sequenceNumber: poison.dynamodb!.SequenceNumber,
      attempts: 3,
      error: { message: 'throttled', retriable: true },
    });
  });

  it('blocks the key instead of parking when onExhausted is block', async () => {
    // arrange
    const destination = new InMemoryFailureDestination();
    const records = [vote('a', 1), vote('a', 2), vote('b', 1)];
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      failureDestination: destination,
      retry: { maxAttempts: 1, onExhausted: 'block' },
      handler: (record) => {
        if (record.newImage?.votes === 1 && record.keys?.UserID === 'a') throw permanentError();
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[0]!.dynamodb!.SequenceNumber },
    ]);
    expect(destination.records).toHaveLength(0);
  });

  it('parks a record that cannot be decoded, with the reason, and keeps the shard moving', async () => {
    // arrange
    const destination = new InMemoryFailureDestination();
    const broken = vote('a', 1);
    delete broken.dynamodb!.Keys;
    const records = [broken, vote('b', 1)];
    const applied: string[] = [];
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      failureDestination: destination,
      handler: (record) => {
        applied.push(record.sequenceNumber);
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(applied).toEqual([records[1]!.dynamodb!.SequenceNumber]);
    expect(destination.records[0]).toMatchObject({
      record: broken,
      error: { name: 'DecodeError', retriable: false },
    });
  });

  it('returns before the time runs out, reporting (not parking) the record that keeps failing', async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1), vote('b', 2)];
    const destination = new InMemoryFailureDestination();
    let calls = 0;
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      failureDestination: destination,
      timeoutMarginMs: 100,
      retry: { maxAttempts: 1_000_000, baseDelayMs: 5, maxDelayMs: 20 },
      handler: (record) => {
        if (record.keys?.UserID === 'b') {
          calls++;
          throw retriableError();
        }
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(400));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
    ]);
    expect(calls).toBeGreaterThan(1);
    // Out of time is not out of attempts: the record is redelivered, not parked.
    expect(destination.records).toHaveLength(0);
  });

  it('starts no slow synchronous record after the deadline and reports the first unstarted one', async () => {
    // arrange: 40 records of one key, each busy for 20 ms, and 100 ms before the deadline
    const records = Array.from({ length: 40 }, (_, i) => vote('a', i));
    const started: number[] = [];
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      timeoutMarginMs: 1000,
      handler: (record) => {
        started.push(Date.now());
        const until = Date.now() + 20;
        while (Date.now() < until) {
          // a CPU-bound handler that no timer can interrupt
        }
        return record;
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records), fakeContext(1100));
    // assert: 100 ms hold at most 5 records of 20 ms, one more for the clock's granularity
    expect(started.length).toBeLessThanOrEqual(6);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[started.length]!.dynamodb!.SequenceNumber },
    ]);
  });

  it.each([
    { dedup: 'on', deduper: undefined },
    { dedup: 'off', deduper: false as const },
  ])(
    'answers when a call hangs past the time limit, keeping what finished (dedup $dedup)',
    async ({ deduper }) => {
      // arrange
      const records = [vote('a', 1), vote('b', 1), vote('a', 2)];
      const handler = createDynamoDBHandler({
        logger: silentLogger,
        ...(deduper === false ? { deduper } : {}),
        timeoutMarginMs: 100,
        handler: (record) =>
          record.keys?.UserID === 'b' ? new Promise<void>(() => {}) : Promise.resolve(),
      });
      // act
      const response = await handler(makeDynamoDBEvent(records), fakeContext(300));
      // assert
      expect(response.batchItemFailures).toEqual([
        { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
      ]);
    },
  );

  it('drops the redelivered tail after answering at the time limit (a finished record is remembered at once)', async () => {
    // arrange: b1 hangs the first time; a2, after it in the batch, finishes before the answer
    const records = [vote('a', 1), vote('b', 1), vote('a', 2)];
    const applied: string[] = [];
    let hang = true;
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      timeoutMarginMs: 100,
      handler: (record) => {
        if (record.keys?.UserID === 'b' && hang) return new Promise<void>(() => {});
        applied.push(record.sequenceNumber);
        return undefined;
      },
    });
    const first = await handler(makeDynamoDBEvent(records), fakeContext(300));
    hang = false;
    // act: Lambda redelivers from the reported record, in the same warm environment
    const second = await handler(makeDynamoDBEvent(records.slice(1)), fakeContext(10_000));
    // assert: a2 applied once, b1 applied on the redelivery
    expect(first.batchItemFailures).toEqual([
      { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
    ]);
    expect(second.batchItemFailures).toEqual([]);
    expect(applied).toEqual(
      [records[0]!, records[2]!, records[1]!].map((r) => r.dynamodb!.SequenceNumber),
    );
  });

  it('drops the redelivery of a record that finished after the answer at the time limit', async () => {
    // arrange: b1 finishes only after the handler answered without it
    const records = [vote('a', 1), vote('b', 1), vote('a', 2)];
    const applied: string[] = [];
    let release: (() => void) | undefined;
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      timeoutMarginMs: 100,
      handler: (record) => {
        if (record.keys?.UserID === 'b' && !release) {
          return new Promise<void>((resolve) => {
            release = () => {
              applied.push(record.sequenceNumber);
              resolve();
            };
          });
        }
        applied.push(record.sequenceNumber);
        return undefined;
      },
    });
    const first = await handler(makeDynamoDBEvent(records), fakeContext(300));
    release!();
    await new Promise((resolve) => setTimeout(resolve, 10));
    // act: Lambda redelivers from the reported record (b1), in the same warm environment
    const second = await handler(makeDynamoDBEvent(records.slice(1)), fakeContext(10_000));
    // assert: every record applied once
    expect(first.batchItemFailures).toEqual([
      { itemIdentifier: records[1]!.dynamodb!.SequenceNumber },
    ]);
    expect(second.batchItemFailures).toEqual([]);
    expect([...applied].sort()).toEqual(records.map((r) => r.dynamodb!.SequenceNumber).sort());
  });

  it('remembers nothing of a batch that finishes whole, and what a batch with a failure applied', async () => {
    // arrange
    const deduper = new Deduper();
    const failA = true;
    const handler = createDynamoDBHandler({
      ...quiet,
      deduper,
      retry: { maxAttempts: 1 },
      handler: (record) => {
        if (record.keys?.UserID === 'a' && failA) throw permanentError();
      },
    });
    const healthy = [vote('c', 1), vote('d', 1), vote('c', 2)];
    const failing = [vote('b', 1), vote('a', 1), vote('b', 2), vote('e', 1)];
    // act + assert: Lambda moves past a batch that finishes whole, so nothing is kept for it
    expect((await handler(makeDynamoDBEvent(healthy))).batchItemFailures).toEqual([]);
    expect(deduper.size.eventIds).toBe(0);
    // b1, b2 and e1 succeeded; Lambda sends a1 on again, and b2 and e1 with it (and b1 with a
    // KPL aggregate), so all three are kept
    const response = await handler(makeDynamoDBEvent(failing));
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: failing[1]!.dynamodb!.SequenceNumber },
    ]);
    expect(deduper.size.eventIds).toBe(3);
    for (const i of [0, 2, 3]) {
      const eventId = failing[i]!.eventID!;
      expect(
        deduper.check({ eventId, version: undefined, tableName: '', marshalledKeys: {} }),
      ).toBe('seen');
    }
  });

  it("drops a whole batch sent twice to the same environment with remember: 'every-record'", async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1), vote('a', 2)];
    const applied: string[] = [];
    const handler = createDynamoDBHandler({
      ...quiet,
      remember: 'every-record',
      handler: (record) => {
        applied.push(record.sequenceNumber);
      },
    });
    // act: at-least-once delivery sends a batch that finished whole once more
    await handler(makeDynamoDBEvent(records));
    await handler(makeDynamoDBEvent(records));
    // assert
    expect(applied).toHaveLength(records.length);
  });

  it('leaves an idempotent sink as after one delivery when the same event is replayed', async () => {
    // arrange
    const records = Array.from({ length: 30 }, (_, i) => vote(`u${i % 7}`, i));
    const once = new VersionedMemorySink();
    const twice = new VersionedMemorySink();
    const coldStarts = [
      createDynamoDBHandler({ logger: silentLogger, sink: twice }),
      createDynamoDBHandler({ logger: silentLogger, sink: twice }),
    ];
    // act
    await createDynamoDBHandler({ logger: silentLogger, sink: once })(makeDynamoDBEvent(records));
    for (const handler of coldStarts) await handler(makeDynamoDBEvent(records));
    // assert
    expect(twice.snapshot()).toEqual(once.snapshot());
    expect(twice.applied).toEqual(once.applied);
  });

  it('drops the redelivered tail of a warm container instead of applying it again', async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1), vote('b', 2)];
    const applied: string[] = [];
    let failA = true;
    const handler = createDynamoDBHandler({
      ...quiet,
      retry: { maxAttempts: 1 },
      handler: (record) => {
        if (record.keys?.UserID === 'a' && failA) throw permanentError();
        applied.push(record.sequenceNumber);
      },
    });
    const first = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    failA = false;
    // act: Lambda redelivers from the reported record
    const second = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert
    expect(first.batchItemFailures).toHaveLength(1);
    expect(second.batchItemFailures).toEqual([]);
    expect([...applied].sort()).toEqual(records.map((r) => r.dynamodb!.SequenceNumber).sort());
  });

  it('runs a per-key batch handler once per key with that key in order', async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1), vote('a', 2)];
    const groups: unknown[][] = [];
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      keyBatchHandler: (group: ChangeRecord[]) => {
        groups.push(group.map((r) => `${String(r.keys?.UserID)}${String(r.newImage?.votes)}`));
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(groups).toEqual(expect.arrayContaining([['a1', 'a2'], ['b1']]));
  });

  it('reports from the first record when the sink flush fails', async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1)];
    const inner = new VersionedMemorySink();
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      sink: {
        name: 'buffering',
        write: (batch) => inner.write(batch),
        flush: async () => {
          throw retriableError('upload failed');
        },
      },
    });
    // act
    const response = await handler(makeDynamoDBEvent(records));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[0]!.dynamodb!.SequenceNumber },
    ]);
  });

  it('writes a redelivery again after a failed flush (the deduper did not remember it)', async () => {
    // arrange
    const records = [vote('a', 1), vote('b', 1)];
    const written: string[] = [];
    let failFlush = true;
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      sink: {
        name: 'buffering',
        write: async (batch) => {
          for (const r of batch) written.push(r.eventId);
          return batch.map(() => ({ status: 'ok' as const }));
        },
        flush: async () => {
          if (failFlush) throw retriableError('upload failed');
        },
      },
    });
    await handler(makeDynamoDBEvent(records));
    failFlush = false;
    written.length = 0;
    // act: Lambda redelivers the batch from the first reported record
    const response = await handler(makeDynamoDBEvent(records));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(written).toHaveLength(2);
  });

  it('counts records in the metrics it is given', async () => {
    // arrange
    const metrics = new InMemoryMetrics();
    const handler = createDynamoDBHandler({ logger: silentLogger, metrics, handler: () => {} });
    // act
    await handler(makeDynamoDBEvent([vote('a', 1), vote('b', 1)]));
    // assert
    expect(metrics.counter('records_out_total', { stream: streamArnFor(), shard: 'unknown' })).toBe(
      2,
    );
  });

  it('rejects a handler wired to another event source, naming it and the fix', async () => {
    // arrange
    const handler = createDynamoDBHandler({ logger: silentLogger, handler: () => {} });
    const event = { Records: [{ eventSource: 'aws:sqs' }] } as never;
    // act
    const call = handler(event);
    // assert
    await expect(call).rejects.toThrow(/eventSource "aws:sqs".*createLambdaHandler/);
  });

  it('rejects options that give no or several processing modes', () => {
    // act
    const none = () => createLambdaHandler({});
    const two = () => createLambdaHandler({ handler: () => {}, sink: new VersionedMemorySink() });
    // assert
    expect(none).toThrow(
      /exactly one of handler, keyBatchHandler, sink or windowHandler .*\(got none\)/,
    );
    expect(two).toThrow(/got handler, sink/);
  });

  it('is assignable to the @types/aws-lambda DynamoDB stream handler type', () => {
    // arrange
    const handler: DynamoDBStreamHandler = createDynamoDBHandler({ handler: () => {} });
    // assert
    expect(typeof handler).toBe('function');
  });
});
