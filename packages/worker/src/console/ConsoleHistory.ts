import type { ConsoleSample, ConsoleSeries } from './ConsoleState.js';

/** One shard's figures at a sample. */
export interface ShardSample {
  readonly lagMs: number | null;
  readonly recordsPerSecond: number | null;
}

/**
 * Lag and throughput per shard over the last minutes: a fixed-size ring buffer per shard, fed
 * by the serving process every sample interval. Memory is bounded by `capacity × shards`, and a
 * shard that got no sample during the whole window (ended, lost, trimmed) is forgotten.
 */
export class ConsoleHistory {
  readonly #capacity: number;
  readonly #rings = new Map<string, { points: ConsoleSample[]; next: number; lastAt: number }>();
  #lastAt = 0;
  #samples = 0;

  /** @param capacity samples kept per shard (e.g. 10 minutes at one sample every 5 s: 120). */
  constructor(capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 2)) {
      throw new RangeError(`capacity must be a whole number of at least 2, got ${capacity}.`);
    }
    this.#capacity = capacity;
  }

  /** Adds one sample of every shard measured at `at` (epoch ms). */
  add(at: number, samples: ReadonlyMap<string, ShardSample>): void {
    this.#samples++;
    this.#lastAt = at;
    for (const [shardId, sample] of samples) {
      let ring = this.#rings.get(shardId);
      if (!ring) {
        ring = { points: [], next: 0, lastAt: at };
        this.#rings.set(shardId, ring);
      }
      const point: ConsoleSample = [at, sample.lagMs, sample.recordsPerSecond];
      if (ring.points.length < this.#capacity) ring.points.push(point);
      else ring.points[ring.next] = point;
      ring.next = (ring.next + 1) % this.#capacity;
      ring.lastAt = this.#samples;
    }
    for (const [shardId, ring] of this.#rings) {
      if (this.#samples - ring.lastAt >= this.#capacity) this.#rings.delete(shardId);
    }
  }

  /** When the last sample was taken (epoch ms; 0 before the first). */
  get lastSampleAt(): number {
    return this.#lastAt;
  }

  /** The latest sample of a shard, if it has one. */
  latest(shardId: string): ShardSample | undefined {
    const ring = this.#rings.get(shardId);
    if (!ring || ring.points.length === 0) return undefined;
    const index = (ring.next - 1 + ring.points.length) % ring.points.length;
    const [, lagMs, recordsPerSecond] = ring.points[index]!;
    return { lagMs, recordsPerSecond };
  }

  /** Every shard's samples, oldest first, shards by id. */
  series(): ConsoleSeries[] {
    return [...this.#rings.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([shardId, ring]) => ({
        shardId,
        points:
          ring.points.length < this.#capacity
            ? [...ring.points]
            : [...ring.points.slice(ring.next), ...ring.points.slice(0, ring.next)],
      }));
  }
}
