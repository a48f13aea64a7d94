import { BatchProcessor, type ChangeRecord, type Sink } from '@shardline/core';
import fc from 'fast-check';

/** One delivery of a simulated consumer: a batch from the checkpoint, then a partial commit. */
export interface DeliveryStep {
  /** Records in the batch. */
  readonly size: number;
  /** Fraction of the batch whose checkpoint is committed before the (simulated) crash. */
  readonly committed: number;
  /** Records to move the checkpoint back after the commit (a replay from an older point). */
  readonly rewind: number;
}

/** Delivery schedules: random batch sizes, partial commits (redelivery) and replays. */
export const deliveryStepsArbitrary = fc.array(
  fc.record({
    size: fc.integer({ min: 1, max: 15 }),
    committed: fc.double({ min: 0, max: 1, noNaN: true }),
    rewind: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 25 })),
  }),
  { minLength: 1, maxLength: 12 },
);

/**
 * Feeds `records` (one shard, in order) to `sink` the way a consumer that crashes and replays
 * does: each batch starts at the checkpoint, only part of it is committed, the checkpoint is
 * sometimes moved back, and a fresh BatchProcessor (no dedup memory) runs each batch. Then it
 * drains the rest in batches of 25. Returns the number of batches written.
 */
export async function deliverWithReplays(
  records: readonly ChangeRecord[],
  sink: Sink,
  steps: readonly DeliveryStep[],
): Promise<number> {
  let checkpoint = 0;
  let batches = 0;
  const run = async (batch: readonly ChangeRecord[]): Promise<number> => {
    const processor = new BatchProcessor({
      sink,
      deduper: false,
      retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 5 },
    });
    const result = await processor.process(batch);
    batches++;
    return result.firstNotDone === -1 ? batch.length : result.firstNotDone;
  };
  for (const step of steps) {
    if (checkpoint >= records.length) break;
    const done = await run(records.slice(checkpoint, checkpoint + step.size));
    checkpoint += Math.floor(done * step.committed);
    checkpoint = Math.max(0, checkpoint - step.rewind);
  }
  let stuck = 0;
  while (checkpoint < records.length) {
    const done = await run(records.slice(checkpoint, checkpoint + 25));
    checkpoint += done;
    if (done === 0 && ++stuck > 5) throw new Error(`Stuck at record ${checkpoint}`);
  }
  return batches;
}
