import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BatchProcessor,
  type ChangeRecord,
  ConfigurationError,
  ShardConsumer,
  type ShardConsumerOptions,
  type ShardSource,
  sleep,
} from '../../src/index.js';
import { change } from '../helpers/records.js';

/**
 * An open shard on the fake clock: counts reads (the time each started), returns what the test
 * appended since the last read, and can take `readLatencyMs` per read.
 */
function countingShard(readLatencyMs = 0) {
  const readsAt: number[] = [];
  const pending: ChangeRecord[] = [];
  let sequence = 0;
  const source: ShardSource = {
    kind: 'dynamodb-streams',
    streamId: 'stream',
    listShards: async () => [],
    openShard: async () => ({
      next: async () => {
        readsAt.push(Date.now());
        if (readLatencyMs > 0) await sleep(readLatencyMs);
        return { records: pending.splice(0), millisBehindLatest: 0, shardEnded: false };
      },
    }),
  };
  const append = () => pending.push(change({ key: 'k', sequenceNumber: ++sequence }));
  return { source, readsAt, append };
}

/** Runs a consumer on the shard until the returned `stop` is called. */
function consume(
  source: ShardSource,
  options: Partial<ShardConsumerOptions>,
  applied: { id: string; at: number }[] = [],
) {
  const controller = new AbortController();
  const consumer = new ShardConsumer({
    source,
    shardId: 'shardId-1',
    from: { type: 'TRIM_HORIZON' },
    processor: new BatchProcessor({
      handler: (r) => void applied.push({ id: r.sequenceNumber, at: Date.now() }),
    }),
    ...options,
  });
  const done = consumer.run(controller.signal);
  return {
    stop: async () => {
      controller.abort();
      await vi.runOnlyPendingTimersAsync();
      await done;
    },
  };
}

/** Reads per second over [from, to) of fake time. */
const ratePerSecond = (readsAt: readonly number[], from: number, to: number) =>
  (readsAt.filter((t) => t >= from && t < to).length * 1000) / (to - from);

describe('ShardConsumer idle pacing (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads an idle shard 4 times a second by default, without backing off', async () => {
    // arrange
    const shard = countingShard();
    const t0 = Date.now();
    const run = consume(shard.source, {});
    // act: a minute of idle time
    await vi.advanceTimersByTimeAsync(60_000);
    await run.stop();
    // assert: 4 reads/s in the first and in the last ten seconds alike (the old doubling to
    // 2000 ms made it 0.5/s after a few seconds), every read 250 ms after the one before
    expect(ratePerSecond(shard.readsAt, t0, t0 + 10_000)).toBe(4);
    expect(ratePerSecond(shard.readsAt, t0 + 50_000, t0 + 60_000)).toBe(4);
    const gaps = shard.readsAt.slice(1).map((t, i) => t - shard.readsAt[i]!);
    expect(new Set(gaps)).toEqual(new Set([250]));
  });

  it('counts the interval from the start of a read, so slow reads do not lower nor raise the rate', async () => {
    // arrange: each GetRecords takes 120 ms
    const shard = countingShard(120);
    const t0 = Date.now();
    const run = consume(shard.source, { idlePollIntervalMs: 200 });
    // act
    await vi.advanceTimersByTimeAsync(20_000);
    await run.stop();
    // assert: 5 reads/s (Kinesis' per-shard limit), not 1000 / (200 + 120) = 3.1
    expect(ratePerSecond(shard.readsAt, t0, t0 + 20_000)).toBe(5);
  });

  it('delivers a change to an idle shard within one poll interval', async () => {
    // arrange
    const shard = countingShard();
    const applied: { id: string; at: number }[] = [];
    const run = consume(shard.source, { idlePollIntervalMs: 250 }, applied);
    await vi.advanceTimersByTimeAsync(30_000); // long idle: a backoff would have grown by now
    // act: changes at 37 ms steps of phase against the poll
    const writtenAt: number[] = [];
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(1037);
      writtenAt.push(Date.now());
      shard.append();
    }
    await vi.advanceTimersByTimeAsync(1000);
    await run.stop();
    // assert
    expect(applied).toHaveLength(20);
    const latencies = applied.map((a, i) => a.at - writtenAt[i]!);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(250);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(0);
  });

  it('reads a busy shard again at once, paced only by minReadIntervalMs', async () => {
    // arrange: records in every read
    const shard = countingShard();
    const t0 = Date.now();
    const run = consume(shard.source, { idlePollIntervalMs: 1000, minReadIntervalMs: 100 });
    const feed = setInterval(() => shard.append(), 50);
    // act
    await vi.advanceTimersByTimeAsync(10_000);
    clearInterval(feed);
    await run.stop();
    // assert: 10 reads/s, not the idle 1/s
    expect(ratePerSecond(shard.readsAt, t0 + 1000, t0 + 10_000)).toBe(10);
  });

  it('backs off by doubling up to maxIdleDelayMs only when that is set above the interval', async () => {
    // arrange
    const shard = countingShard();
    const t0 = Date.now();
    const run = consume(shard.source, { idlePollIntervalMs: 250, maxIdleDelayMs: 2000 });
    // act
    await vi.advanceTimersByTimeAsync(30_000);
    await run.stop();
    // assert: gaps 250, 500, 1000, then 2000 for good
    const gaps = shard.readsAt.slice(1).map((t, i) => t - shard.readsAt[i]!);
    expect(gaps.slice(0, 4)).toEqual([250, 500, 1000, 2000]);
    expect(ratePerSecond(shard.readsAt, t0 + 10_000, t0 + 30_000)).toBe(0.5);
  });

  it('keeps honouring the deprecated idleDelayMs when idlePollIntervalMs is not given', async () => {
    // arrange
    const shard = countingShard();
    const t0 = Date.now();
    const run = consume(shard.source, { idleDelayMs: 500 });
    // act
    await vi.advanceTimersByTimeAsync(10_000);
    await run.stop();
    // assert
    expect(ratePerSecond(shard.readsAt, t0, t0 + 10_000)).toBe(2);
  });

  it('refuses a negative interval, naming it', () => {
    const shard = countingShard();
    expect(() => consume(shard.source, { idlePollIntervalMs: -5 })).toThrow(ConfigurationError);
    expect(() => consume(shard.source, { idlePollIntervalMs: -5 })).toThrow(
      /idlePollIntervalMs must be 0 or more \(ms\), got -5/,
    );
  });
});

/**
 * A shard the service pushes (enhanced fan-out): `next` waits for a record, or hands out an
 * empty event after `heartbeatMs` without one, as `SubscribeToShard` does on an idle shard.
 */
function pushedShard(heartbeatMs: number) {
  const pending: ChangeRecord[] = [];
  let wake: (() => void) | undefined;
  let sequence = 0;
  const source: ShardSource = {
    kind: 'kinesis',
    streamId: 'stream',
    listShards: async () => [],
    openShard: async () => ({
      pushed: true,
      next: async () => {
        if (pending.length === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, heartbeatMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
        return { records: pending.splice(0), millisBehindLatest: 0, shardEnded: false };
      },
    }),
  };
  const append = () => {
    pending.push(change({ key: 'k', sequenceNumber: ++sequence }));
    wake?.();
  };
  return { source, append };
}

describe('ShardConsumer on a pushed (fan-out) shard (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks for the next event at once after an empty one, so a record pushed meanwhile is not held back by the idle interval', async () => {
    // arrange: empty events every 500 ms; an idle interval of 2 s that must not apply
    const shard = pushedShard(500);
    const applied: { id: string; at: number }[] = [];
    const run = consume(shard.source, { idlePollIntervalMs: 2000 }, applied);
    await vi.advanceTimersByTimeAsync(10_000);
    // act: records at 113 ms steps of phase against the empty events
    const writtenAt: number[] = [];
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(613);
      writtenAt.push(Date.now());
      shard.append();
    }
    await vi.advanceTimersByTimeAsync(5000);
    await run.stop();
    // assert: each handled the moment it was pushed (a 2 s sleep after each empty event held
    // some back for up to 2 s)
    expect(applied).toHaveLength(20);
    const latencies = applied.map((a, i) => a.at - writtenAt[i]!);
    expect(Math.max(...latencies)).toBe(0);
  });
});
