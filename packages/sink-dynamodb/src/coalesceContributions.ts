/** One record's part in one summary item's update. */
export interface Contribution {
  /** Index of the record in the batch given to `write`. */
  readonly index: number;
  /** The record's position (`recordPosition`). */
  readonly position: string;
  /** The record's sequence number, for messages. */
  readonly sequenceNumber: string;
  /** The watermark attribute of the record's shard. */
  readonly watermarkAttribute: string;
  /** The record's creation time, epoch ms. */
  readonly createdAtMs: number | undefined;
  /** Counter → amount, the record's deltas to this item summed. */
  readonly add: Readonly<Record<string, number>>;
}

/** The range of positions one shard contributes to one item update. */
export interface WatermarkRange {
  /** Lowest contributing position: the condition requires the stored watermark below it. */
  readonly first: string;
  /** Highest contributing position: the new watermark. */
  readonly last: string;
  /** Creation time of the record at `last`. */
  readonly lastCreatedAtMs: number | undefined;
}

/** One UpdateItem's worth of work: summed counters and, per shard, the watermark range. */
export interface CoalescedUpdate {
  /** Counter → net amount; counters whose amounts cancel out are left out. */
  readonly add: ReadonlyMap<string, number>;
  /** Watermark attribute → range. Never empty when there was a contribution. */
  readonly watermarks: ReadonlyMap<string, WatermarkRange>;
}

/**
 * Folds the contributions of one summary item into one update: counters summed, and per source
 * shard the lowest and highest contributing positions. Zero sums are dropped from `add` but the
 * watermarks stay: the update must still move them (see the README's proof).
 */
export function coalesceContributions(contributions: readonly Contribution[]): CoalescedUpdate {
  const add = new Map<string, number>();
  const watermarks = new Map<string, WatermarkRange>();
  for (const c of contributions) {
    for (const [counter, amount] of Object.entries(c.add)) {
      add.set(counter, (add.get(counter) ?? 0) + amount);
    }
    const range = watermarks.get(c.watermarkAttribute);
    if (!range) {
      watermarks.set(c.watermarkAttribute, {
        first: c.position,
        last: c.position,
        lastCreatedAtMs: c.createdAtMs,
      });
      continue;
    }
    // Positions are fixed-width strings: string order is stream order (Math.min would coerce).
    const first = [c.position, range.first].sort()[0]!;
    const later = c.position > range.last;
    watermarks.set(c.watermarkAttribute, {
      first,
      last: later ? c.position : range.last,
      lastCreatedAtMs: later ? c.createdAtMs : range.lastCreatedAtMs,
    });
  }
  for (const [counter, amount] of add) if (amount === 0) add.delete(counter);
  return { add, watermarks };
}
