import { describe, expect, it } from 'vitest';
import {
  BatchProcessor,
  type ChangeRecord,
  type Checkpoint,
  EventBus,
  LeaseLostError,
  ShardConsumer,
  type ShardIterator,
  type ShardSource,
  SinkFlushError,
  type StartPosition,
} from '../../src/index.js';
import { batchOf } from '../helpers/records.js';

/** A one-shard source over an array, in pages, that can throw retriable errors first. */
function arraySource(
  records: ChangeRecord[],
  pageSize: number,
  options: { throttles?: number; open?: boolean } = {},
) {
  const opened: StartPosition[] = [];
  let throttles = options.throttles ?? 0;
  const source: ShardSource = {
    kind: 'dynamodb-streams',
    streamId: 'stream',
    listShards: async () => [],
    openShard: async (_shardId, from): Promise<ShardIterator> => {
      opened.push(from);
      let at =
        from.type === 'AFTER_SEQUENCE_NUMBER'
          ? records.findIndex((r) => r.sequenceNumber === from.sequenceNumber) + 1
          : 0;
      return {
        next: async () => {
          if (throttles > 0) {
            throttles--;
            throw Object.assign(new Error('Rate exceeded'), {
              name: 'LimitExceededException',
              $retryable: { throttling: true },
            });
          }
          const page = records.slice(at, at + pageSize);
          at += page.length;
          const ended = !options.open && at >= records.length;
          return { records: page, millisBehindLatest: 0, shardEnded: ended };
        },
      };
    },
  };
  return { source, opened };
}

const fast = {
  minReadIntervalMs: 0,
  idleDelayMs: 1,
  maxIdleDelayMs: 2,
  throttleBaseDelayMs: 1,
  maxBackoffMs: 2,
};

describe('ShardConsumer', () => {
  it('reads a shard to its end, processes every record once in order, and commits SHARD_END', async () => {
    // arrange
    const records = batchOf(Array.from({ length: 25 }, (_, i) => `k${i % 4}`));
    const { source } = arraySource(records, 7, { throttles: 2 });
    const applied: ChangeRecord[] = [];
    const commits: Checkpoint[] = [];
    const events = new EventBus();
    const throttled: number[] = [];
    events.on('shard.throttled', (e) => throttled.push(e.delayMs));
    const consumer = new ShardConsumer({
      ...fast,
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      processor: new BatchProcessor({ handler: (r) => void applied.push(r), concurrency: 3 }),
      commit: async (c) => void commits.push(c),
      commitEveryRecords: 10,
      events,
    });
    // act
    const result = await consumer.run();
    // assert
    expect(result).toMatchObject({
      ended: true,
      recordsRead: 25,
      lastSequenceNumber: records[24]!.sequenceNumber,
    });
    expect(applied.map((r) => r.sequenceNumber).sort()).toEqual(
      records.map((r) => r.sequenceNumber),
    );
    for (const key of ['k0', 'k1', 'k2', 'k3']) {
      const orderingKey = records.find((r) => r.keys?.id === key)!.orderingKey;
      const ofKey = (list: ChangeRecord[]) =>
        list.filter((r) => r.orderingKey === orderingKey).map((r) => r.sequenceNumber);
      expect(ofKey(applied)).toEqual(ofKey(records));
    }
    expect(commits.at(-1)).toBe('SHARD_END');
    expect(commits.at(-2)).toEqual(
      expect.objectContaining({ sequenceNumber: records[24]!.sequenceNumber }),
    );
    expect(throttled).toHaveLength(2);
  });

  it('never skips a failing record: retries it until it is done, holding the checkpoint before it', async () => {
    const records = batchOf(['a', 'b', 'c']);
    const { source } = arraySource(records, 10);
    let failuresLeft = 4;
    const commits: Checkpoint[] = [];
    const consumer = new ShardConsumer({
      ...fast,
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      processor: new BatchProcessor({
        retry: { maxAttempts: 1 },
        handler: (r) => {
          if (r.sequenceNumber === records[1]!.sequenceNumber && failuresLeft-- > 0)
            throw new Error('down');
        },
      }),
      commit: async (c) => void commits.push(c),
    });
    const result = await consumer.run();
    expect(result.ended).toBe(true);
    // While record 1 failed, the checkpoint never passed it.
    const beforeEnd = commits.slice(0, -2);
    for (const c of beforeEnd)
      expect(c).toEqual(expect.objectContaining({ sequenceNumber: records[0]!.sequenceNumber }));
    expect(commits.at(-1)).toBe('SHARD_END');
  });

  it('stops on abort, commits what is done, and resumes after the checkpoint without loss or replay', async () => {
    const records = batchOf(Array.from({ length: 30 }, (_, i) => `k${i % 3}`));
    const { source, opened } = arraySource(records, 5, { open: true });
    const applied: string[] = [];
    let checkpoint: Checkpoint | undefined;
    const controller = new AbortController();
    const first = new ShardConsumer({
      ...fast,
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      processor: new BatchProcessor({
        handler: (r) => {
          applied.push(r.sequenceNumber);
          if (applied.length === 12) controller.abort();
        },
      }),
      commit: async (c) => {
        checkpoint = c;
      },
    });
    await first.run(controller.signal);
    expect(checkpoint).toBeDefined();
    const resumeAfter = (checkpoint as { sequenceNumber: string }).sequenceNumber;
    const second = new ShardConsumer({
      ...fast,
      source,
      shardId: 'shardId-1',
      from: { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: resumeAfter },
      processor: new BatchProcessor({
        handler: (r) => {
          applied.push(r.sequenceNumber);
          if (new Set(applied).size === records.length) stop.abort();
        },
      }),
    });
    const stop = new AbortController();
    await second.run(stop.signal);
    expect(opened[1]).toEqual({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: resumeAfter });
    expect(new Set(applied)).toEqual(new Set(records.map((r) => r.sequenceNumber)));
    // At least once: only records after the committed checkpoint may be applied twice.
    const counts = new Map<string, number>();
    for (const seq of applied) counts.set(seq, (counts.get(seq) ?? 0) + 1);
    for (const [seq, count] of counts) {
      if (count > 1) expect(BigInt(seq) > BigInt(resumeAfter)).toBe(true);
    }
  });

  it('on stop, finishes the page in hand and commits its last record (abortSignal interrupts it)', async () => {
    // arrange: pages of 10; stop is asked while the first record of the second page runs
    const records = batchOf(Array.from({ length: 40 }, (_, i) => `k${i}`));
    const { source } = arraySource(records, 10, { open: true });
    const stop = new AbortController();
    const applied: string[] = [];
    let checkpoint: Checkpoint | undefined;
    const consumer = new ShardConsumer({
      ...fast,
      prefetch: false,
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      processor: new BatchProcessor({
        concurrency: 1,
        handler: async (r) => {
          if (applied.length === 10) stop.abort();
          await new Promise((resolve) => setTimeout(resolve, 1));
          applied.push(r.sequenceNumber);
        },
      }),
      commit: async (c) => {
        checkpoint = c;
      },
    });
    // act
    await consumer.run(stop.signal);
    // assert
    expect(applied).toEqual(records.slice(0, 20).map((r) => r.sequenceNumber));
    expect((checkpoint as { sequenceNumber: string }).sequenceNumber).toBe(
      records[19]!.sequenceNumber,
    );
  });

  it('flushes a buffering sink before every commit; after a failed flush it commits nothing more', async () => {
    // arrange: a sink that buffers writes and loses its buffer when a flush fails
    const records = batchOf(Array.from({ length: 30 }, (_, i) => `k${i}`));
    const { source } = arraySource(records, 5, { open: true });
    const durable: string[] = [];
    let buffer: string[] = [];
    let flushes = 0;
    const commits: Checkpoint[] = [];
    const consumer = new ShardConsumer({
      ...fast,
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      commitEveryRecords: 5,
      processor: new BatchProcessor({
        sink: {
          name: 'buffering',
          write: async (batch) => {
            buffer.push(...batch.map((r) => r.sequenceNumber));
            return batch.map(() => ({ status: 'ok' as const }));
          },
        },
      }),
      flush: async () => {
        flushes++;
        if (flushes === 3) {
          buffer = [];
          throw new Error('bucket unreachable');
        }
        durable.push(...buffer);
        buffer = [];
      },
      commit: async (c) => {
        commits.push(c);
      },
    });
    // act
    const error = await consumer.run().catch((e: unknown) => e);
    // assert: the run failed with the flush, and no checkpoint passes a record not durable
    expect(error).toBeInstanceOf(SinkFlushError);
    const last = commits.at(-1) as { sequenceNumber: string };
    expect(commits.length).toBe(2);
    const durableUpTo = records.findIndex((r) => r.sequenceNumber === last.sequenceNumber);
    expect(durable).toEqual(records.slice(0, durableUpTo + 1).map((r) => r.sequenceNumber));
  });

  it('rethrows LeaseLostError from a commit and stops at once', async () => {
    const records = batchOf(['a', 'b']);
    const { source } = arraySource(records, 1, { open: true });
    const consumer = new ShardConsumer({
      ...fast,
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      processor: new BatchProcessor({ handler: () => {} }),
      commitEveryRecords: 1,
      commit: async () => {
        throw new LeaseLostError('shardId-1', 'counter moved from 4 to 6');
      },
    });
    await expect(consumer.run()).rejects.toThrow(LeaseLostError);
  });

  it('a read that fails while the page before it is processed rejects run, not the process', async () => {
    // arrange: the second read (the prefetch) fails for good while the handler of page one is
    // still running; nothing has awaited that read yet
    const records = batchOf(['a', 'b']);
    let reads = 0;
    const source: ShardSource = {
      kind: 'dynamodb-streams',
      streamId: 'stream',
      listShards: async () => [],
      openShard: async (): Promise<ShardIterator> => ({
        next: async () => {
          reads++;
          if (reads === 1) return { records, millisBehindLatest: 0, shardEnded: false };
          throw Object.assign(new Error('Access denied'), {
            name: 'AccessDeniedException',
            retriable: false,
          });
        },
      }),
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const committed: Checkpoint[] = [];
    const consumer = new ShardConsumer({
      ...fast,
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      processor: new BatchProcessor({
        handler: () => new Promise((resolve) => setTimeout(resolve, 30)),
      }),
      commit: async (checkpoint) => {
        committed.push(checkpoint);
      },
    });
    try {
      // act
      const outcome = await consumer.run().then(
        () => 'resolved',
        (error: Error) => error.message,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      // assert
      expect(outcome).toBe('Access denied');
      expect(unhandled).toEqual([]);
      expect(committed.at(-1)).toMatchObject({ sequenceNumber: records[1]!.sequenceNumber });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects a negative delay option, naming it', () => {
    const { source } = arraySource([], 1);
    expect(
      () =>
        new ShardConsumer({
          source,
          shardId: 's',
          from: { type: 'LATEST' },
          processor: new BatchProcessor({ handler: () => {} }),
          idleDelayMs: -1,
        }),
    ).toThrow(/idleDelayMs must be 0 or more \(ms\), got -1/);
  });
});
