/** What a per-key log of applied changes shows against the stream's own order. */
export interface PerKeyLogCheck {
  /** `key: seq` of changes the log never reached (skipped). */
  readonly skipped: string[];
  /** `key: seq` where the log jumped forward over a change (out of order). */
  readonly jumps: string[];
  /** `key: seq` logged that the stream does not hold. */
  readonly unknown: string[];
  /** Changes logged again (redeliveries). */
  readonly repeats: number;
}

/**
 * Checks a per-key log against the stream: per key, each logged change is either the one after
 * the previous, or an earlier one (a redelivery restarting from a checkpoint, which then replays
 * forward in order); every change is reached. `expected` and `observed` map a key to sequence
 * numbers, `expected` in stream order.
 */
export function checkPerKeyLog(
  expected: ReadonlyMap<string, readonly string[]>,
  observed: ReadonlyMap<string, readonly string[]>,
): PerKeyLogCheck {
  const skipped: string[] = [];
  const jumps: string[] = [];
  const unknown: string[] = [];
  let repeats = 0;
  for (const [key, seqs] of expected) {
    const index = new Map(seqs.map((seq, i) => [seq, i]));
    const log = observed.get(key) ?? [];
    let previous = -1;
    let reached = -1;
    for (const seq of log) {
      const i = index.get(seq);
      if (i === undefined) {
        unknown.push(`${key}: ${seq}`);
        continue;
      }
      if (i <= reached) repeats += 1;
      if (i > previous + 1) jumps.push(`${key}: ${seq}`);
      previous = i;
      reached = Math.max(reached, i);
    }
    for (let i = reached + 1; i < seqs.length; i++) skipped.push(`${key}: ${seqs[i]}`);
  }
  for (const [key, log] of observed)
    if (!expected.has(key)) unknown.push(...log.map((seq) => `${key}: ${seq}`));
  return { skipped, jumps, unknown, repeats };
}
