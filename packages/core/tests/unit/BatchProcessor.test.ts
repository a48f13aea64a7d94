import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  BatchProcessor,
  type ChangeRecord,
  ConfigurationError,
  DecodeError,
  Deduper,
  EventBus,
  InMemoryFailureDestination,
  ShardlineError,
  type Sink,
  SUCCEEDED,
  undecodableRecord,
} from '../../src/index.js';
import { DeltaCountSink, ReplicaSink, ScriptedSink } from '../helpers/memorySinks.js';
import { batchOf, kinesisDynamoDBChange } from '../helpers/records.js';

const fastRetry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe('BatchProcessor, handler mode', () => {
  it('retries a transient failure and succeeds', async () => {
    // arrange
    const records = batchOf(['a', 'b']);
    let calls = 0;
    const processor = new BatchProcessor({
      retry: fastRetry,
      handler: (r) => {
        if (r.orderingKey === records[0]!.orderingKey && ++calls < 3) throw new Error('flaky');
      },
    });
    // act
    const result = await processor.process(records);
    // assert
    expect(result.succeeded).toBe(2);
    expect(calls).toBe(3);
    expect(result.firstNotDone).toBe(-1);
  });

  it('parks a poison record whole in the failure destination and lets its key go on', async () => {
    const records = batchOf(['a', 'a', 'b']);
    const destination = new InMemoryFailureDestination();
    const applied: string[] = [];
    const processor = new BatchProcessor({
      retry: fastRetry,
      failureDestination: destination,
      handler: (r) => {
        if (r.sequenceNumber === records[0]!.sequenceNumber) throw new Error('poison');
        applied.push(r.sequenceNumber);
      },
    });
    const result = await processor.process(records);
    expect(result.outcomes.map((o) => o.status)).toEqual(['parked', 'succeeded', 'succeeded']);
    expect(destination.records).toHaveLength(1);
    expect(destination.records[0]).toMatchObject({
      sequenceNumber: records[0]!.sequenceNumber,
      shardId: 'shardId-1',
      attempts: 3,
      error: { name: 'Error', message: 'poison', retriable: true },
      record: {
        eventID: records[0]!.eventId,
        dynamodb: { SequenceNumber: records[0]!.sequenceNumber },
      },
    });
    expect(applied.sort()).toEqual([records[1]!.sequenceNumber, records[2]!.sequenceNumber]);
  });

  it('blocks the key after the last attempt when there is no failure destination', async () => {
    const records = batchOf(['a', 'b', 'a']);
    const processor = new BatchProcessor({
      retry: fastRetry,
      handler: (r) => {
        if (r.sequenceNumber === records[0]!.sequenceNumber) throw new Error('down');
      },
    });
    const result = await processor.process(records);
    expect(result.outcomes.map((o) => o.status)).toEqual(['failed', 'succeeded', 'blocked']);
    expect(result.firstNotDone).toBe(0);
  });

  it('does not retry a non-retriable error', async () => {
    let calls = 0;
    const processor = new BatchProcessor({
      retry: fastRetry,
      handler: () => {
        calls++;
        throw new ShardlineError('validation failed', { retriable: false });
      },
    });
    const result = await processor.process(batchOf(['a']));
    expect(calls).toBe(1);
    expect(result.outcomes[0]).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('drops records already applied in an earlier batch (redelivery)', async () => {
    const records = batchOf(['a', 'b']);
    const applied: string[] = [];
    const processor = new BatchProcessor({ handler: (r) => void applied.push(r.sequenceNumber) });
    await processor.process(records);
    const again = await processor.process(records);
    expect(again.duplicates).toBe(2);
    expect(applied).toHaveLength(2);
  });

  it('does not treat a failed record as seen: its redelivery runs', async () => {
    const records = batchOf(['a']);
    let fail = true;
    const processor = new BatchProcessor({
      retry: { maxAttempts: 1 },
      handler: () => {
        if (fail) throw new Error('down');
      },
    });
    expect((await processor.process(records)).failed).toBe(1);
    fail = false;
    expect((await processor.process(records)).succeeded).toBe(1);
  });

  it('stops starting records and retries at the deadline, reporting them not done', async () => {
    const processor = new BatchProcessor({
      retry: { maxAttempts: 100, baseDelayMs: 50, maxDelayMs: 50 },
      handler: () => {
        throw new Error('always');
      },
    });
    const result = await processor.process(batchOf(['a', 'b']), { deadline: Date.now() + 20 });
    expect(result.succeeded).toBe(0);
    expect(result.firstNotDone).toBe(0);
    expect(result.outcomes.every((o) => o.status === 'failed' || o.status === 'blocked')).toBe(
      true,
    );
  });

  it('leaves a record failed, not parked, when the deadline stops its retries', async () => {
    // arrange
    const destination = new InMemoryFailureDestination();
    const processor = new BatchProcessor({
      failureDestination: destination,
      retry: { maxAttempts: 100, baseDelayMs: 50, maxDelayMs: 50 },
      handler: () => {
        throw new ShardlineError('throttled', { retriable: true });
      },
    });
    const groups = new BatchProcessor({
      failureDestination: destination,
      retry: { maxAttempts: 100, baseDelayMs: 50, maxDelayMs: 50 },
      keyBatchHandler: () => {
        throw new ShardlineError('throttled', { retriable: true });
      },
    });
    // act
    const result = await processor.process(batchOf(['a']), { deadline: Date.now() + 20 });
    const grouped = await groups.process(batchOf(['a', 'a']), { deadline: Date.now() + 20 });
    // assert
    expect(result.outcomes[0]?.status).toBe('failed');
    expect(grouped.outcomes.map((o) => o.status)).toEqual(['failed', 'blocked']);
    expect(destination.records).toHaveLength(0);
  });

  it('parks an undecodable record at once, with its reason, without calling the handler', async () => {
    const good = batchOf(['a']);
    const location = { streamId: 's', shardId: 'shardId-1', sequenceNumber: '5' };
    const bad = undecodableRecord(
      { junk: true },
      { source: 'kinesis', ...location },
      new DecodeError('payload is not JSON', location),
    );
    const destination = new InMemoryFailureDestination();
    let calls = 0;
    const processor = new BatchProcessor({
      failureDestination: destination,
      handler: () => void calls++,
    });
    const result = await processor.process([bad, ...good]);
    expect(result.outcomes.map((o) => o.status)).toEqual(['parked', 'succeeded']);
    expect(calls).toBe(1);
    expect(destination.records[0]?.error).toMatchObject({ name: 'DecodeError', retriable: false });
    expect(destination.records[0]?.error.message).toMatch(
      /record 5 of shard shardId-1: payload is not JSON/,
    );
  });

  it('runs a per-key batch handler once per key with the key records in order', async () => {
    const records = batchOf(['a', 'b', 'a']);
    const seen: string[][] = [];
    const processor = new BatchProcessor({
      keyBatchHandler: (group) => void seen.push(group.map((r) => r.sequenceNumber)),
    });
    const result = await processor.process(records);
    expect(result.succeeded).toBe(3);
    expect(seen).toContainEqual([records[0]!.sequenceNumber, records[2]!.sequenceNumber]);
  });

  it('starts no per-key batch once the caller aborted: the keys not started are blocked', async () => {
    // arrange: one key at a time; the caller gives up while the first key's batch runs
    const records = batchOf(['a', 'b', 'a', 'c']);
    const controller = new AbortController();
    const seen: string[] = [];
    const processor = new BatchProcessor({
      concurrency: 1,
      keyBatchHandler: async (group) => {
        seen.push(group[0]!.orderingKey);
        controller.abort();
      },
    });
    // act
    const result = await processor.process(records, { signal: controller.signal });
    // assert: a ran (and succeeded); b and c never started
    expect(seen).toEqual([records[0]!.orderingKey]);
    expect(result.outcomes).toEqual([
      { status: 'succeeded' },
      { status: 'blocked', reason: 'aborted' },
      { status: 'succeeded' },
      { status: 'blocked', reason: 'aborted' },
    ]);
    expect(result.firstNotDone).toBe(1);
  });

  it('requires exactly one of handler, keyBatchHandler, sink', () => {
    expect(() => new BatchProcessor({})).toThrow(ConfigurationError);
    expect(() => new BatchProcessor({ handler: () => {}, sink: new ScriptedSink() })).toThrow(
      /exactly one .* \(got 2\)/,
    );
  });
});

describe('BatchProcessor, sink mode', () => {
  /** Writes `records` to `sink`, the caller aborting during the first retry's backoff. */
  const processAbortingInBackoff = (sink: ScriptedSink, records: ChangeRecord[]) => {
    const controller = new AbortController();
    const events = new EventBus();
    events.on('record.retried', () => queueMicrotask(() => controller.abort()));
    const processor = new BatchProcessor({
      sink,
      events,
      retry: { maxAttempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    return processor.process(records, { signal: controller.signal });
  };

  it('retries only the failed records of a write', async () => {
    const records = batchOf(['a', 'b', 'c']);
    const sink = new ScriptedSink();
    sink.failRecord(records[1]!.sequenceNumber, 2);
    const result = await new BatchProcessor({ sink, retry: fastRetry }).process(records);
    expect(result.succeeded).toBe(3);
    expect(sink.writes).toEqual([3, 1, 1]);
  });

  it('bisects a batch whose write throws, isolating the poison record', async () => {
    const records = batchOf(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    const sink = new ScriptedSink();
    sink.poison(records[5]!.sequenceNumber);
    const destination = new InMemoryFailureDestination();
    const result = await new BatchProcessor({
      sink,
      retry: fastRetry,
      failureDestination: destination,
    }).process(records);
    expect(result.succeeded).toBe(7);
    expect(result.parked).toBe(1);
    expect(destination.records.map((r) => r.sequenceNumber)).toEqual([records[5]!.sequenceNumber]);
    expect(sink.applied).toHaveLength(7);
  });

  it('drops a record repeated within one batch', async () => {
    const [first] = batchOf(['a']);
    const sink = new ScriptedSink();
    const result = await new BatchProcessor({ sink }).process([first!, first!]);
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'duplicate']);
    expect(sink.applied).toHaveLength(1);
  });

  it('returns the retried records failed when the caller aborts during the backoff', async () => {
    // arrange: b fails once (retriable); the caller gives up while the processor waits to retry
    const records = batchOf(['a', 'b', 'c']);
    const sink = new ScriptedSink();
    sink.failRecord(records[1]!.sequenceNumber, 1);
    // act
    const result = await processAbortingInBackoff(sink, records);
    // assert: no throw; b stays failed (the checkpoint before it), a and c succeeded
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(result.firstNotDone).toBe(1);
    expect(sink.writes).toEqual([3]);
  });

  it('writes no later chunk once the caller aborted during a backoff: those records are blocked', async () => {
    // arrange: chunks of two; b (first chunk) fails once; the caller gives up during its backoff
    const records = batchOf(['a', 'b', 'c', 'd']);
    const sink = new (class extends ScriptedSink {
      readonly maxBatchSize = 2;
    })();
    sink.failRecord(records[1]!.sequenceNumber, 1);
    // act
    const result = await processAbortingInBackoff(sink, records);
    // assert: c and d were not started, so nothing of them is written after the abort
    expect(result.outcomes.map((o) => o.status)).toEqual([
      'succeeded',
      'failed',
      'blocked',
      'blocked',
    ]);
    expect(result.outcomes[2]).toEqual({ status: 'blocked', reason: 'aborted' });
    expect(sink.writes).toEqual([2]);
    expect(sink.applied).toEqual([records[0]!.sequenceNumber]);
  });

  it('writes no later record of a key whose record failed in an earlier chunk', async () => {
    // arrange: chunks of 2; a's first record fails for good (no failure destination)
    const records = batchOf(['a', 'b', 'a', 'c']);
    const scripted = new ScriptedSink();
    scripted.failRecord(records[0]!.sequenceNumber, 1, false);
    const sink: Sink = { name: 'chunked', maxBatchSize: 2, write: (r) => scripted.write(r) };
    // act
    const result = await new BatchProcessor({ sink, retry: { maxAttempts: 1 } }).process(records);
    // assert: a's second record is not written ahead of the first, which is redelivered
    expect(result.outcomes).toEqual([
      expect.objectContaining({ status: 'failed' }),
      SUCCEEDED,
      { status: 'blocked', reason: 'key-failed', blockedBy: records[0]!.sequenceNumber },
      SUCCEEDED,
    ]);
    expect(scripted.applied).toEqual([records[1]!.sequenceNumber, records[3]!.sequenceNumber]);
    expect(result.firstNotDone).toBe(0);
  });

  it('writes no later record of the key of an undecodable record that stays failed', async () => {
    // arrange: no failure destination, so the undecodable record stays failed
    const [good, other] = batchOf(['a', 'b']);
    const location = { streamId: 's', shardId: 'shardId-1', sequenceNumber: '1' };
    const bad = undecodableRecord(
      { junk: true },
      { source: 'kinesis', ...location, orderingKey: good!.orderingKey },
      new DecodeError('payload is not JSON', location),
    );
    const sink = new ScriptedSink();
    // act
    const result = await new BatchProcessor({ sink }).process([bad, good!, other!]);
    // assert
    expect(result.outcomes.map((o) => o.status)).toEqual(['failed', 'blocked', 'succeeded']);
    expect(sink.applied).toEqual([other!.sequenceNumber]);
  });

  it('rejects a sink that returns the wrong number of results', async () => {
    const sink = { name: 'broken', write: async () => [] };
    const result = await new BatchProcessor({
      sink,
      retry: { maxAttempts: 1, bisectOnError: false },
    }).process(batchOf(['a']));
    expect(result.outcomes[0]).toMatchObject({ status: 'failed' });
    if (result.outcomes[0]?.status === 'failed') {
      expect(result.outcomes[0].error.message).toMatch(/returned 0 results for 1 records/);
    }
  });
});

describe("BatchProcessor, remember: 'redelivered'", () => {
  it('remembers a batch only when it leaves a record unfinished, then every record it applied', async () => {
    // arrange
    const deduper = new Deduper();
    const sink = new ScriptedSink();
    const processor = new BatchProcessor({
      sink,
      deduper,
      remember: 'redelivered',
      retry: { maxAttempts: 1 },
    });
    const healthy = batchOf(['a', 'b', 'c']);
    const failing = batchOf(['a', 'b', 'c'], 10);
    sink.failRecord(failing[1]!.sequenceNumber, 1, false);
    // act
    const whole = await processor.process(healthy);
    const remembered = deduper.size.eventIds;
    const partial = await processor.process(failing);
    // assert
    expect(whole.firstNotDone).toBe(-1);
    expect(remembered).toBe(0);
    expect(partial.firstNotDone).toBe(1);
    expect(failing.map((r) => deduper.check(r))).toEqual(['seen', undefined, 'seen']);
  });

  it('remembers what succeeded when the caller aborted the batch, though it finished', async () => {
    // arrange: the caller gives up (answers) while the last record runs, which then succeeds
    const deduper = new Deduper();
    const controller = new AbortController();
    const records = batchOf(['a', 'b']);
    const processor = new BatchProcessor({
      deduper,
      remember: 'redelivered',
      handler: (r) => {
        if (r === records[1]) controller.abort();
      },
    });
    // act
    const result = await processor.process(records, { signal: controller.signal });
    // assert
    expect(result.firstNotDone).toBe(-1);
    expect(records.map((r) => deduper.check(r))).toEqual(['seen', 'seen']);
  });

  it("leaves no abort listener on the caller's signal once a batch ends, in every mode", async () => {
    // arrange: one long-lived signal (a worker's shard run) over many batches
    const signal = new AbortController().signal;
    const processors = [
      new BatchProcessor({ remember: 'redelivered', handler: async () => {} }),
      new BatchProcessor({ remember: 'redelivered', keyBatchHandler: async () => {} }),
      new BatchProcessor({ remember: 'redelivered', sink: new ScriptedSink() }),
      new BatchProcessor({
        handler: () => {
          throw new ShardlineError('a handler that always fails');
        },
        retry: { maxAttempts: 1 },
      }),
    ];
    // act
    for (const processor of processors) await processor.process(batchOf(['a', 'b']), { signal });
    // assert
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('remembers a record that finishes after the caller aborted at once, before the batch ends', async () => {
    // arrange: a finishes after the abort, while b still runs (the batch does not end)
    const deduper = new Deduper();
    const controller = new AbortController();
    const records = batchOf(['a', 'b']);
    let finishA!: () => void;
    let finishB!: () => void;
    const processor = new BatchProcessor({
      deduper,
      remember: 'redelivered',
      handler: (r) =>
        new Promise<void>((resolve) => {
          if (r === records[0]) finishA = resolve;
          else finishB = resolve;
        }),
    });
    const running = processor.process(records, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 0));
    // act
    controller.abort();
    finishA();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const whileRunning = records.map((r) => deduper.check(r));
    finishB();
    await running;
    // assert: the caller may have answered, and the source may send a again before b ends
    expect(whileRunning).toEqual(['seen', undefined]);
    expect(records.map((r) => deduper.check(r))).toEqual(['seen', 'seen']);
  });

  it('remembers a change of a source that repeats changes as soon as it is done', async () => {
    // arrange: one change of "Kinesis Data Streams for DynamoDB", sent twice in one batch
    const change = kinesisDynamoDBChange({
      key: 'a',
      sequenceNumber: 1,
      createdAtMicros: 1_764_000_000_000_000,
    });
    const applied: string[] = [];
    const processor = new BatchProcessor({
      remember: 'redelivered',
      handler: (r) => {
        applied.push(r.eventId);
      },
    });
    // act
    const result = await processor.process([change, { ...change }]);
    // assert
    expect(result.duplicates).toBe(1);
    expect(applied).toEqual([change.eventId]);
  });

  it.each(['every-record', 'redelivered'] as const)(
    'drops a repeated change from the group a per-key batch handler gets (remember %s)',
    async (remember) => {
      // arrange: one change sent twice in one batch (own sequence numbers, one event id), each
      // copy decoded as the source delivered it
      const delivery = (sequenceNumber: number) =>
        kinesisDynamoDBChange({ key: 'a', sequenceNumber, createdAtMicros: 1_764_000_000_000_000 });
      const change = delivery(1);
      const repeat = delivery(9);
      expect(repeat.eventId).toBe(change.eventId);
      const groups: string[][] = [];
      const processor = new BatchProcessor({
        remember,
        keyBatchHandler: (records) => {
          groups.push(records.map((r) => r.sequenceNumber));
        },
      });
      // act
      const result = await processor.process([change, repeat]);
      // assert
      expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'duplicate']);
      expect(groups).toEqual([[change.sequenceNumber]]);
    },
  );

  it('rejects a remember value it does not know, naming the ones it does', () => {
    expect(
      () =>
        new BatchProcessor({ handler: () => {}, remember: 'never' as unknown as 'redelivered' }),
    ).toThrow(/remember must be 'every-record' or 'redelivered', got "never"/);
  });
});

describe('BatchProcessor, stale changes from a source that reorders', () => {
  // One item's three changes, each adding 1 to n, delivered newest first: distinct changes (no
  // duplicate among them), only out of version order, as Kinesis Data Streams for DynamoDB may.
  const reordered = () => [
    kinesisDynamoDBChange({
      key: 'a',
      sequenceNumber: 1,
      createdAtMicros: 3_000,
      eventName: 'MODIFY',
      oldImage: { id: 'a', n: 2 },
      newImage: { id: 'a', n: 3 },
    }),
    kinesisDynamoDBChange({
      key: 'a',
      sequenceNumber: 2,
      createdAtMicros: 1_000,
      newImage: { id: 'a', n: 1 },
    }),
    kinesisDynamoDBChange({
      key: 'a',
      sequenceNumber: 3,
      createdAtMicros: 2_000,
      eventName: 'MODIFY',
      oldImage: { id: 'a', n: 1 },
      newImage: { id: 'a', n: 2 },
    }),
  ];

  it('applies every change to a delta sink, within one batch and across batches', async () => {
    // arrange
    const inOneBatch = new DeltaCountSink();
    const acrossBatches = new DeltaCountSink();
    const [newest, ...older] = reordered();
    // act
    const one = await new BatchProcessor({ sink: inOneBatch }).process(reordered());
    const processor = new BatchProcessor({ sink: acrossBatches });
    await processor.process([newest!]);
    const second = await processor.process(older);
    // assert: no delta lost, so the count is the sum of all three
    expect(one.outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(inOneBatch.totals.get('a')).toBe(3);
    expect(second.duplicates).toBe(0);
    expect(acrossBatches.totals.get('a')).toBe(3);
  });

  it('applies every change when the sink or handler does not say it is last-writer-wins', async () => {
    // arrange
    const sink = new ScriptedSink();
    const handled: string[] = [];
    const grouped: string[] = [];
    // act
    await new BatchProcessor({ sink }).process(reordered());
    await new BatchProcessor({ handler: (r) => void handled.push(r.eventId) }).process(reordered());
    await new BatchProcessor({
      keyBatchHandler: (group) => void grouped.push(...group.map((r) => r.eventId)),
    }).process(reordered());
    // assert
    expect(sink.applied).toHaveLength(3);
    expect(handled).toHaveLength(3);
    expect(grouped).toHaveLength(3);
  });

  it('still drops a redelivered change (same event id) for a delta sink', async () => {
    const sink = new DeltaCountSink();
    const processor = new BatchProcessor({ sink });
    await processor.process(reordered());
    const again = await processor.process(reordered());
    expect(again.outcomes.map((o) => o.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(sink.totals.get('a')).toBe(3);
  });

  it('drops the older changes for a last-writer-wins sink, so the newest state stays', async () => {
    const sink = new ReplicaSink();
    const result = await new BatchProcessor({ sink }).process(reordered());
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'duplicate', 'duplicate']);
    expect(result.outcomes[1]).toMatchObject({ reason: 'stale' });
    expect(sink.items.get('a')).toEqual({ id: 'a', n: 3 });
  });

  it('keys the stale check by item, not by a custom ordering key shared by two items', async () => {
    // arrange: items a and b of one poll share the ordering key; b's change is older than a's
    const byPoll = () => 'poll-1';
    const changes = () => [
      kinesisDynamoDBChange({
        key: 'a',
        sequenceNumber: 1,
        createdAtMicros: 2_000,
        newImage: { id: 'a', n: 1 },
        orderingKey: byPoll,
      }),
      kinesisDynamoDBChange({
        key: 'b',
        sequenceNumber: 2,
        createdAtMicros: 1_000,
        newImage: { id: 'b', n: 1 },
        orderingKey: byPoll,
      }),
    ];
    const [first, second] = changes();
    const sink = new ReplicaSink();
    const acrossBatches = new ReplicaSink();
    const handled: string[] = [];
    // act
    const inBatch = await new BatchProcessor({ sink }).process(changes());
    const processor = new BatchProcessor({ sink: acrossBatches });
    await processor.process([first!]);
    const later = await processor.process([second!]);
    await new BatchProcessor({
      effect: 'last-writer-wins',
      handler: (r) => void handled.push(String(r.keys?.id)),
    }).process(changes());
    // assert: b's change is not stale, it is another item's first change
    expect(first!.orderingKey).toBe(second!.orderingKey);
    expect(inBatch.outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
    expect(later.outcomes.map((o) => o.status)).toEqual(['succeeded']);
    expect([...acrossBatches.items.keys()]).toEqual(['a', 'b']);
    expect(handled).toEqual(['a', 'b']);
  });

  it('names a bad effect in its error', () => {
    expect(
      () =>
        new BatchProcessor({
          sink: { name: 'odd', effect: 'lww' as never, write: async () => [] },
        }),
    ).toThrow(/effect must be one of 'last-writer-wins', 'delta', 'every-change', got "lww"/);
  });
});
