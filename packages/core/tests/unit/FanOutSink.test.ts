import { describe, expect, it } from 'vitest';
import {
  BatchProcessor,
  type ChangeRecord,
  ConfigurationError,
  decodeDynamoDBRecord,
  FanOutSink,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
} from '../../src/index.js';

const STREAM = 'arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/2026-11-23T00:00:00.000';

/** A decoded INSERT of item `id`, at sequence number `seq`. */
function makeRecord(seq: number, id = `u${seq}`): ChangeRecord {
  return decodeDynamoDBRecord(
    {
      eventID: `evt-${seq}`,
      eventName: 'INSERT',
      eventSourceARN: STREAM,
      dynamodb: {
        Keys: { id: { S: id } },
        NewImage: { id: { S: id } },
        SequenceNumber: String(1000 + seq),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    },
    { streamId: STREAM, shardId: 'shard-1' },
  );
}

/** An in-memory sink that fails the sequence numbers it is told to, and counts every write. */
class MemorySink implements Sink {
  readonly applied: string[] = [];
  readonly writes: string[][] = [];
  failing = new Map<string, { retriable: boolean }>();
  throwing: Error | undefined;

  constructor(
    readonly name: string,
    readonly maxBatchSize?: number,
  ) {}

  async write(records: readonly ChangeRecord[], _context: SinkContext) {
    this.writes.push(records.map((r) => r.sequenceNumber));
    if (this.throwing) throw this.throwing;
    return records.map((r): SinkRecordResult => {
      const failure = this.failing.get(r.sequenceNumber);
      if (failure)
        return { status: 'failed', error: new Error(`no ${r.sequenceNumber}`), ...failure };
      this.applied.push(r.sequenceNumber);
      return { status: 'ok' };
    });
  }
}

const context: SinkContext = { attempt: 1 };

describe('FanOutSink', () => {
  it('reports a record ok only when every target applied it', async () => {
    // arrange
    const a = new MemorySink('a');
    const b = new MemorySink('b');
    b.failing.set('1002', { retriable: true });
    const sink = new FanOutSink({ targets: [a, b] });
    const records = [makeRecord(1), makeRecord(2), makeRecord(3)];
    // act
    const results = await sink.write(records, context);
    // assert
    expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
    expect(a.applied).toEqual(['1001', '1002', '1003']);
    expect(b.applied).toEqual(['1001', '1003']);
    expect(results[1]).toMatchObject({ retriable: true });
    expect((results[1] as { error: Error }).error.message).toContain('Sink b failed record 1002');
  });

  it('is not retriable when any failing target says its failure is permanent', async () => {
    // arrange
    const a = new MemorySink('a');
    const b = new MemorySink('b');
    a.failing.set('1001', { retriable: true });
    b.failing.set('1001', { retriable: false });
    const sink = new FanOutSink({ targets: [a, b] });
    // act
    const [result] = await sink.write([makeRecord(1)], context);
    // assert
    expect(result).toMatchObject({ status: 'failed', retriable: false });
    expect((result as { error: Error }).error.message).toContain('and 1 more target(s) failed');
  });

  it('turns a target that throws into failures of the records it was given', async () => {
    // arrange
    const a = new MemorySink('a');
    const b = new MemorySink('b');
    b.throwing = Object.assign(new Error('socket hang up'), { retriable: true });
    const sink = new FanOutSink({ targets: [a, b] });
    // act
    const results = await sink.write([makeRecord(1), makeRecord(2)], context);
    // assert
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(a.applied).toEqual(['1001', '1002']);
  });

  it('retries a record only on the targets that still miss it', async () => {
    // arrange
    const a = new MemorySink('a');
    const b = new MemorySink('b');
    b.failing.set('1002', { retriable: true });
    const sink = new FanOutSink({ targets: [a, b] });
    const records = [makeRecord(1), makeRecord(2)];
    await sink.write(records, context);
    b.failing.clear();
    // act
    const results = await sink.write([records[1]!], { attempt: 2 });
    // assert
    expect(results.map((r) => r.status)).toEqual(['ok']);
    expect(a.writes).toEqual([['1001', '1002']]);
    expect(b.writes).toEqual([['1001', '1002'], ['1002']]);
    expect(a.applied).toEqual(['1001', '1002']);
    expect(b.applied).toEqual(['1001', '1002']);
  });

  it('drives every target through a BatchProcessor, retrying only the failed target', async () => {
    // arrange
    const a = new MemorySink('a');
    const b = new MemorySink('b');
    let failuresLeft = 2;
    const flaky: Sink = {
      name: 'flaky',
      write: async (records, ctx) => {
        const results = await b.write(records, ctx);
        if (failuresLeft-- > 0) {
          return results.map(() => ({
            status: 'failed' as const,
            error: new Error('throttled'),
            retriable: true,
          }));
        }
        return results;
      },
    };
    const processor = new BatchProcessor({
      sink: new FanOutSink({ targets: [a, flaky] }),
      retry: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 5 },
    });
    const records = [makeRecord(1), makeRecord(2), makeRecord(3)];
    // act
    const result = await processor.process(records);
    // assert
    expect(result.succeeded).toBe(3);
    expect(a.writes).toEqual([['1001', '1002', '1003']]);
    expect(b.writes).toHaveLength(3);
  });

  it('takes the smallest maxBatchSize of its targets and names them', () => {
    // arrange
    const targets = [new MemorySink('a', 500), new MemorySink('b'), new MemorySink('c', 100)];
    // act
    const sink = new FanOutSink({ targets });
    // assert
    expect(sink.maxBatchSize).toBe(100);
    expect(sink.name).toBe('fan-out(a,b,c)');
  });

  it('rejects an empty target list with a ConfigurationError that says the fix', () => {
    // arrange
    const build = () => new FanOutSink({ targets: [] });
    // act / assert
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(/at least one target sink, got 0; pass targets/);
  });

  it('flushes and closes every target', async () => {
    // arrange
    const calls: string[] = [];
    const target = (name: string): Sink => ({
      name,
      write: async (records) => records.map(() => ({ status: 'ok' as const })),
      flush: async () => {
        calls.push(`flush ${name}`);
      },
      close: async () => {
        calls.push(`close ${name}`);
      },
    });
    const sink = new FanOutSink({ targets: [target('a'), target('b')] });
    // act
    await sink.flush();
    await sink.close();
    // assert
    expect(calls.sort()).toEqual(['close a', 'close b', 'flush a', 'flush b']);
  });
});
