import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { type ChangeRecord, CheckpointTracker } from '../../src/index.js';
import { change } from '../helpers/records.js';

// A full, synchronous garbage collection, without starting vitest with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Registers `count` records of ~2 KB images and returns weak references to them. */
function registerRecords(tracker: CheckpointTracker, count: number, from = 0) {
  const refs: WeakRef<ChangeRecord>[] = [];
  const tickets: number[] = [];
  for (let i = 0; i < count; i++) {
    const record = change({
      key: `k${i % 7}`,
      sequenceNumber: from + i + 1,
      newImage: { n: i, body: 'x'.repeat(2000) },
    });
    refs.push(new WeakRef(record));
    tickets.push(tracker.register(record));
  }
  return { refs, tickets };
}

/** Collects garbage once the current job is over (WeakRef targets live until then). */
async function collect(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

describe('CheckpointTracker memory', () => {
  it('keeps no record once every registered record is done (only the resolved one)', async () => {
    // arrange: a page of 1000 records, as ShardConsumer registers them
    const tracker = new CheckpointTracker();
    const { refs, tickets } = registerRecords(tracker, 1000);
    // act
    for (const t of tickets) tracker.markDone(t);
    await collect();
    // assert: the last record is the resolved checkpoint; the other 999 are gone
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    expect(alive).toBe(1);
    expect(tracker.resolved?.sequenceNumber).toBe(refs[999]!.deref()?.sequenceNumber);
    expect(tracker.pending).toBe(0);
  });

  it('keeps only the records still in flight, and resolves on across the cleanup', async () => {
    // arrange: two pages; the second is half done
    const tracker = new CheckpointTracker();
    const first = registerRecords(tracker, 500);
    for (const t of first.tickets) tracker.markDone(t);
    const second = registerRecords(tracker, 500, 500);
    for (const t of second.tickets.slice(0, 250)) tracker.markDone(t);
    // act
    await collect();
    // assert: nothing of the first page is held; the second page is (250 still in flight)
    expect(first.refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(tracker.pending).toBe(250);
    for (const t of second.tickets.slice(250)) tracker.markDone(t);
    expect(tracker.resolved?.sequenceNumber).toBe(second.refs[499]!.deref()?.sequenceNumber);
    // a ticket from before the cleanup is ignored, not an error
    expect(() => tracker.markDone(first.tickets[3]!)).not.toThrow();
  });
});
