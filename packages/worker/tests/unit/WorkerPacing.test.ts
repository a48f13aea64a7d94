import type { ShardSource } from '@shardline/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWorker, InMemoryLeaseStore, loadWorkerSettings } from '../../src/index.js';
import { FakeShardSource, fakeStream } from '../helpers/FakeShardSource.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Wraps a source so every read is counted per shard (the GetRecords calls a worker makes). */
function countingReads(source: ShardSource) {
  const reads = new Map<string, number>();
  const counted: ShardSource = {
    kind: source.kind,
    streamId: source.streamId,
    listShards: () => source.listShards(),
    openShard: async (shardId, from, signal) => {
      const iterator = await source.openShard(shardId, from, signal);
      return {
        next: (s) => {
          reads.set(shardId, (reads.get(shardId) ?? 0) + 1);
          return iterator.next(s);
        },
      };
    },
  };
  return { source: counted, reads };
}

/** Starts a worker on `shards` idle shards and returns the reads per shard over `seconds` of fake time. */
async function idleReadsPerShardPerSecond(
  shards: number,
  seconds: number,
  options: { idlePollIntervalMs?: number },
) {
  const { source, reads } = countingReads(new FakeShardSource(fakeStream('s', shards, 0)));
  const worker = createWorker({
    applicationName: 'app',
    sources: source,
    leaseStore: new InMemoryLeaseStore(),
    handler: () => undefined,
    logger: silent,
    clock: () => Date.now(),
    ...options,
  });
  await worker.start();
  await vi.advanceTimersByTimeAsync(5000); // every shard taken and read
  const before = new Map(reads);
  await vi.advanceTimersByTimeAsync(seconds * 1000);
  const perShard = [...reads].map(([id, n]) => (n - (before.get(id) ?? 0)) / seconds);
  const stopped = worker.stop();
  await vi.advanceTimersByTimeAsync(30_000);
  await stopped;
  return perShard;
}

describe('Worker idle pacing (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reads each idle shard 4 times a second by default (Lambda's DynamoDB Streams rate)", async () => {
    // act: four idle shards, two minutes of fake time
    const perShard = await idleReadsPerShardPerSecond(4, 120, {});
    // assert: 4/s on every shard, also after a long idle time (no backoff to 0.5/s)
    expect(perShard).toHaveLength(4);
    for (const rate of perShard) expect(rate).toBeCloseTo(4, 1);
  });

  it('passes idlePollIntervalMs to every shard reader', async () => {
    // act
    const perShard = await idleReadsPerShardPerSecond(3, 60, { idlePollIntervalMs: 1000 });
    // assert
    expect(perShard).toHaveLength(3);
    for (const rate of perShard) expect(rate).toBeCloseTo(1, 1);
  });

  it('reads SHARDLINE_IDLE_POLL_INTERVAL_MS from the environment', () => {
    const settings = loadWorkerSettings({
      SHARDLINE_APP: 'app',
      SHARDLINE_IDLE_POLL_INTERVAL_MS: '500',
    });
    expect(settings.idlePollIntervalMs).toBe(500);
    expect(() =>
      loadWorkerSettings({
        SHARDLINE_APP: 'app',
        SHARDLINE_IDLE_POLL_INTERVAL_MS: '0.25s',
      }),
    ).toThrow(/SHARDLINE_IDLE_POLL_INTERVAL_MS="0.25s" is invalid/);
  });
});
