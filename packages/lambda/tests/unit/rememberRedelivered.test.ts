/**
 * `remember: 'redelivered'` (the Lambda default) in one warm execution environment: every record
 * Lambda may send again after the answer (everything from the reported checkpoint on) that was
 * applied is dropped when it comes again, and nothing that was not applied is dropped.
 */
import { type ChangeRecord, type Sink, type SinkRecordResult, silentLogger } from '@shardline/core';
import { makeDynamoDBEvent, makeDynamoDBRecord } from '@shardline/testing';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import { fakeContext, retriableError } from '../helpers/lambda.js';

function vote(user: string, n: number): DynamoDBRecord {
  return makeDynamoDBRecord({ keys: { UserID: user }, newImage: { UserID: user, votes: n } });
}

const seqOf = (r: DynamoDBRecord) => r.dynamodb!.SequenceNumber!;

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Lets pending callbacks run (a macrotask later). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A sink that buffers what it acknowledges; `flush` makes it durable (or fails). */
class BufferingSink implements Sink {
  readonly name = 'buffering';
  readonly durable: string[] = [];
  readonly buffered: string[] = [];
  /** What each flush does: resolve (durable), or throw. */
  flushWith: (signal?: AbortSignal) => Promise<void> = async () => {};

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    for (const r of records) this.buffered.push(r.sequenceNumber);
    return records.map(() => ({ status: 'ok' as const }));
  }

  async flush(signal?: AbortSignal): Promise<void> {
    // What is buffered now is taken: lost if this flush fails, durable if it ends well.
    const pending = this.buffered.splice(0);
    await this.flushWith(signal);
    this.durable.push(...pending);
  }
}

describe("remember: 'redelivered' across warm invocations", () => {
  it('drops the redelivery of a record that finished after the answer while another call still hangs', async () => {
    // arrange: b1 finishes after the answer; c1 hangs on (the previous process() never ends)
    const records = [vote('a', 1), vote('b', 1), vote('c', 1)];
    const applied: string[] = [];
    const b = gate();
    const c = gate();
    let firstCall = true;
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      timeoutMarginMs: 100,
      handler: async (record) => {
        const user = record.keys?.UserID;
        if (firstCall && user === 'b') await b.promise;
        if (firstCall && user === 'c') {
          await c.promise;
          return;
        }
        applied.push(record.sequenceNumber);
      },
    });
    const first = await handler(makeDynamoDBEvent(records), fakeContext(300));
    firstCall = false;
    b.open();
    await settle();
    // act: Lambda redelivers from the reported record (b1), in the same warm environment
    const second = await handler(makeDynamoDBEvent(records.slice(1)), fakeContext(10_000));
    // assert: b1 applied once (after the answer), c1 applied by the redelivery
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[1]!) }]);
    expect(second.batchItemFailures).toEqual([]);
    expect(applied).toEqual([records[0]!, records[1]!, records[2]!].map(seqOf));
    c.open();
  });

  it.each(['handler', 'keyBatchHandler'] as const)(
    'does not retry a record that the call left running at the answer applied meanwhile (%s)',
    async (mode) => {
      // arrange: b1 hangs in the first invocation; in the redelivery its first try lets that
      // call end (in microtasks), then fails: the call ends before the backoff's timer
      const records = [vote('a', 1), vote('b', 1)];
      const calls: string[] = [];
      const applied: string[] = [];
      const hung = gate();
      let invocation = 1;
      const apply = async (record: ChangeRecord) => {
        calls.push(`${invocation}:${record.keys?.UserID}`);
        if (record.keys?.UserID === 'b') {
          if (invocation === 1) await hung.promise;
          else {
            hung.open();
            throw retriableError();
          }
        }
        applied.push(record.sequenceNumber);
      };
      const handler = createDynamoDBHandler({
        logger: silentLogger,
        timeoutMarginMs: 100,
        retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 50, random: () => 0.5 },
        ...(mode === 'handler'
          ? { handler: apply }
          : {
              keyBatchHandler: async (group: ChangeRecord[]) => {
                for (const record of group) await apply(record);
              },
            }),
      });
      const first = await handler(makeDynamoDBEvent(records), fakeContext(300));
      invocation = 2;
      // act: Lambda redelivers from b1; the first call of b1 ends while the retry waits
      const secondResponse = await handler(
        makeDynamoDBEvent(records.slice(1)),
        fakeContext(10_000),
      );
      // assert: b1 applied once, by the first call; no retry of it
      expect(first.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[1]!) }]);
      expect(secondResponse.batchItemFailures).toEqual([]);
      expect(applied).toEqual(records.map(seqOf));
      expect(calls).toEqual(['1:a', '1:b', '2:b']);
    },
  );

  it('does not write a record of a later sink chunk that the call left running at the answer applied meanwhile', async () => {
    // arrange: one record a write; a1 fails the first time, b1's write hangs past the answer;
    // in the redelivery, a1's write lets that write end
    const records = [vote('a', 1), vote('b', 1), vote('c', 1)];
    const written: string[] = [];
    const hung = gate();
    let invocation = 1;
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      timeoutMarginMs: 100,
      retry: { maxAttempts: 1 },
      sink: {
        name: 'one-at-a-time',
        maxBatchSize: 1,
        write: async ([record]) => {
          const user = record!.keys?.UserID;
          if (invocation === 1 && user === 'a') {
            return [{ status: 'failed', error: retriableError(), retriable: false }];
          }
          if (invocation === 1 && user === 'b') await hung.promise;
          if (invocation === 2 && user === 'a') {
            hung.open();
            await settle();
          }
          written.push(record!.sequenceNumber);
          return [{ status: 'ok' }];
        },
      },
    });
    const first = await handler(makeDynamoDBEvent(records), fakeContext(300));
    invocation = 2;
    // act: Lambda redelivers from a1; b1's first write ends while a1 is written again
    const secondResponse = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert: every record written once
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[0]!) }]);
    expect(secondResponse.batchItemFailures).toEqual([]);
    expect([...written].sort()).toEqual(records.map(seqOf).sort());
  });

  it('drops the redelivery of a batch whose flush became durable only after the answer', async () => {
    // arrange: every write succeeds; the flush ends (durable) after the handler answered
    const records = [vote('a', 1), vote('b', 1)];
    const sink = new BufferingSink();
    const late = gate();
    sink.flushWith = () => late.promise;
    const handler = createDynamoDBHandler({ logger: silentLogger, timeoutMarginMs: 100, sink });
    const first = await handler(makeDynamoDBEvent(records), fakeContext(300));
    late.open();
    await settle();
    sink.flushWith = async () => {};
    // act: Lambda redelivers the whole batch (nothing was proven done)
    const second = await handler(makeDynamoDBEvent(records), fakeContext(10_000));
    // assert: each record durable once, none written again
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[0]!) }]);
    expect(second.batchItemFailures).toEqual([]);
    expect(sink.durable).toEqual(records.map(seqOf));
  });

  it('does not drop a record whose late flush then fails, while the next invocation runs', async () => {
    // arrange: b1 fails the first time, so the batch is remembered (a1); the flush that holds
    // a1 ends only after the answer at the time limit, and fails
    const records = [vote('a', 1), vote('b', 1)];
    const sink = new BufferingSink();
    const late = gate();
    sink.flushWith = () => late.promise.then(() => Promise.reject(retriableError('upload failed')));
    let failB = true;
    const write = sink.write.bind(sink);
    sink.write = async (batch) => {
      if (failB && batch.some((r) => r.keys?.UserID === 'b')) {
        failB = false;
        await write(batch.filter((r) => r.keys?.UserID !== 'b'));
        return batch.map((r) =>
          r.keys?.UserID === 'b'
            ? { status: 'failed' as const, error: retriableError(), retriable: false }
            : { status: 'ok' as const },
        );
      }
      return write(batch);
    };
    const handler = createDynamoDBHandler({ logger: silentLogger, timeoutMarginMs: 100, sink });
    const first = await handler(makeDynamoDBEvent(records), fakeContext(300));
    sink.flushWith = async () => {};
    // act: Lambda redelivers the batch while the first flush is still running; it then fails
    const second = handler(makeDynamoDBEvent(records), fakeContext(10_000));
    await settle();
    late.open();
    const secondResponse = await second;
    // assert: a1 is durable (written again), not dropped as seen
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: seqOf(records[0]!) }]);
    expect(secondResponse.batchItemFailures).toEqual([]);
    expect([...sink.durable].sort()).toEqual(records.map(seqOf).sort());
  });

  it('writes a routed TTL delete again when the route sink flush failed', async () => {
    // arrange: the TTL delete goes to a buffering archive whose first flush fails
    const ttlRemove = makeDynamoDBRecord({ keys: { id: 'x' }, oldImage: { id: 'x' }, ttl: true });
    const archive = new BufferingSink();
    archive.flushWith = async () => {
      throw retriableError('upload failed');
    };
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      ttlDeletes: { routeTo: archive },
      handler: () => {},
    });
    const first = await handler(makeDynamoDBEvent([ttlRemove]), fakeContext(10_000));
    archive.flushWith = async () => {};
    // act: Lambda redelivers the delete
    const second = await handler(makeDynamoDBEvent([ttlRemove]), fakeContext(10_000));
    // assert: the archive holds it
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: seqOf(ttlRemove) }]);
    expect(second.batchItemFailures).toEqual([]);
    expect(archive.durable).toEqual([seqOf(ttlRemove)]);
  });
});
