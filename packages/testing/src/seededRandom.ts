/**
 * A small, fast, seeded pseudo-random generator (mulberry32): the same seed gives the same
 * sequence on every machine, so workloads and fault schedules in tests repeat exactly. Not for
 * anything that needs unpredictability.
 *
 * @param seed - Any integer; only its low 32 bits are used.
 * @returns A function giving the next number in [0, 1).
 * @example
 * const random = seededRandom(7);
 * const shard = Math.floor(random() * 4);
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
