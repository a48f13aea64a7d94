import { describe, expect, it } from 'vitest';
import {
  BatchProcessor,
  type ChangeRecord,
  DecodeError,
  Deduper,
  decodeDynamoDBRecord,
  type FailedRecord,
  LazyAbort,
  type Sink,
  undecodableRecord,
} from '../../src/index.js';
import { batchOf, rawStreamRecord } from '../helpers/records.js';

// Every place a batch hands its caller's signal on must behave the same whether the caller gave
// an AbortSignal or a LazyAbort (Lambda since 068e4cf): the signal a handler, a per-key batch
// handler, a sink write, a retry, a backoff or a failure destination gets is aborted, with the
// caller's reason, when the caller aborts, whether it was read before the abort or after; and a
// record that finishes after the abort is remembered at once (`remember: 'redelivered'`).

type Kind = 'AbortSignal' | 'LazyAbort';
const KINDS: readonly Kind[] = ['AbortSignal', 'LazyAbort'];

function callerAbort(kind: Kind): {
  signal: AbortSignal | LazyAbort;
  abort: (reason: Error) => void;
} {
  if (kind === 'LazyAbort') {
    const lazy = new LazyAbort();
    return { signal: lazy, abort: (reason) => lazy.abort(reason) };
  }
  const controller = new AbortController();
  return { signal: controller.signal, abort: (reason) => controller.abort(reason) };
}

/** Resolves when `signal` aborts (a handler that waits for the time limit). */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve()));
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const TIME_LIMIT = new Error('the Lambda invocation is about to time out');

describe.each(KINDS)('a batch given a caller signal (%s)', (kind) => {
  it('hands every retry of a handler a signal that the caller aborts, and its backoff ends then', async () => {
    // arrange: a fails its first try, then its second waits for the time limit; b fails and
    // backs off for an hour (only the abort ends that wait)
    const caller = callerAbort(kind);
    const records = batchOf(['a', 'b']);
    const seen: (AbortSignal | undefined)[] = [];
    const processor = new BatchProcessor({
      remember: 'redelivered',
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
      handler: async (r, context) => {
        seen.push(context.signal);
        if (r === records[1]) {
          if (context.attempt === 1) throw new Error('b fails');
          throw new Error('b never gets here: its backoff is an hour');
        }
        if (context.attempt === 1) throw new Error('a fails once');
        await untilAborted(context.signal);
      },
    });
    const slowBackoff = new BatchProcessor({
      retry: { maxAttempts: 3, baseDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
      handler: async (_r, context) => {
        seen.push(context.signal);
        throw new Error('backs off for an hour');
      },
    });
    const running = processor.process(records, { signal: caller.signal });
    const backingOff = slowBackoff.process(batchOf(['c'], 3), { signal: caller.signal });
    await new Promise((resolve) => setTimeout(resolve, 30));
    // act
    caller.abort(TIME_LIMIT);
    const [result, backedOff] = await Promise.all([running, backingOff]);
    // assert
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'failed']);
    expect(backedOff.outcomes).toMatchObject([{ status: 'failed', attempts: 1 }]);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (const signal of seen) {
      expect(signal).toBeInstanceOf(AbortSignal);
      expect(signal!.aborted).toBe(true);
      expect(signal!.reason).toBe(TIME_LIMIT);
    }
  });

  it('hands a per-key batch handler and a sink the aborted signal, and writes no later chunk', async () => {
    // arrange
    const caller = callerAbort(kind);
    const seen: (AbortSignal | undefined)[] = [];
    const groups = new BatchProcessor({
      remember: 'redelivered',
      keyBatchHandler: async (_records, context) => {
        seen.push(context.signal);
        await untilAborted(context.signal);
      },
    });
    const written: string[] = [];
    const sink: Sink = {
      name: 'chunked',
      maxBatchSize: 2,
      write: async (records, context) => {
        seen.push(context.signal);
        await untilAborted(context.signal);
        written.push(...records.map((r) => r.sequenceNumber));
        return records.map(() => ({ status: 'ok' as const }));
      },
    };
    const chunks = new BatchProcessor({ remember: 'redelivered', sink });
    const runs = [
      groups.process(batchOf(['a', 'b']), { signal: caller.signal }),
      chunks.process(batchOf(['c', 'd', 'e', 'f']), { signal: caller.signal }),
    ];
    await tick();
    // act
    caller.abort(TIME_LIMIT);
    const [grouped, sunk] = await Promise.all(runs);
    // assert
    expect(grouped!.succeeded).toBe(2);
    expect(sunk!.outcomes.map((o) => o.status)).toEqual([
      'succeeded',
      'succeeded',
      'blocked',
      'blocked',
    ]);
    expect(written).toHaveLength(2);
    expect(seen).toHaveLength(3);
    for (const signal of seen) expect(signal?.reason).toBe(TIME_LIMIT);
  });

  it('hands the failure destination and a routed TTL delete sink the signal', async () => {
    // arrange: an undecodable record parked (its signal read before the abort), then a TTL
    // delete routed to its own sink, whose write waits for the time limit
    const caller = callerAbort(kind);
    const seen: (AbortSignal | undefined)[] = [];
    const parked: FailedRecord[] = [];
    const route: Sink = {
      name: 'ttl-archive',
      write: async (records, context) => {
        seen.push(context.signal);
        await untilAborted(context.signal);
        return records.map(() => ({ status: 'ok' as const }));
      },
    };
    const processor = new BatchProcessor({
      remember: 'redelivered',
      handler: () => {},
      ttlDeletes: { routeTo: route },
      failureDestination: {
        name: 'waiting-destination',
        send: async (records, signal) => {
          seen.push(signal);
          parked.push(...records);
        },
      },
    });
    const bad = undecodableRecord(
      { junk: true },
      { source: 'dynamodb-streams', streamId: 's', shardId: 'shardId-1', sequenceNumber: '7' },
      new DecodeError('not a record', { streamId: 's', shardId: 'shardId-1' }),
    );
    const ttl = ttlDelete('z', 9);
    const running = processor.process([bad, ttl], { signal: caller.signal });
    await new Promise((resolve) => setTimeout(resolve, 10));
    // act
    caller.abort(TIME_LIMIT);
    const result = await running;
    // assert
    expect(result.outcomes.map((o) => o.status)).toEqual(['parked', 'succeeded']);
    expect(parked).toHaveLength(1);
    expect(seen).toHaveLength(2);
    for (const signal of seen) expect(signal?.reason).toBe(TIME_LIMIT);
  });

  it.each(['handler', 'keyBatchHandler', 'sink'] as const)(
    'remembers a record that finishes after the abort at once (%s mode)',
    async (mode) => {
      // arrange: a finishes after the abort while b still runs (the batch has not ended)
      const caller = callerAbort(kind);
      const deduper = new Deduper();
      const records = batchOf(['a', 'b']);
      const finish = new Map<string, () => void>();
      const wait = (r: ChangeRecord) =>
        new Promise<void>((resolve) => finish.set(r.orderingKey, resolve));
      const processor = new BatchProcessor({
        deduper,
        remember: 'redelivered',
        ...(mode === 'handler' ? { handler: wait } : {}),
        ...(mode === 'keyBatchHandler' ? { keyBatchHandler: (group) => wait(group[0]!) } : {}),
        ...(mode === 'sink'
          ? {
              sink: {
                name: 'one-at-a-time',
                maxBatchSize: 1,
                write: async (batch) => {
                  await wait(batch[0]!);
                  return [{ status: 'ok' as const }];
                },
              },
            }
          : {}),
      });
      const running = processor.process(records, { signal: caller.signal });
      await tick();
      // act
      caller.abort(TIME_LIMIT);
      finish.get(records[0]!.orderingKey)!();
      await tick();
      const whileRunning = records.map((r) => deduper.check(r));
      finish.get(records[1]!.orderingKey)?.();
      await running;
      // assert: the caller may have answered; the source may send a again before b ends
      expect(whileRunning[0]).toBe('seen');
      expect(whileRunning[1]).toBeUndefined();
    },
  );
});

/** A TTL delete of item `key` (DynamoDB's Time to Live process removed it). */
function ttlDelete(key: string, sequenceNumber: number): ChangeRecord {
  const raw = rawStreamRecord({ key, sequenceNumber, eventName: 'REMOVE', oldImage: { id: key } });
  return decodeDynamoDBRecord(
    { ...raw, userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } },
    { streamId: raw.eventSourceARN!, shardId: 'shardId-1' },
  );
}
