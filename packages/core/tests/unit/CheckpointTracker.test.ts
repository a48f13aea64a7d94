import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Checkpoint, CheckpointTracker, compareSequenceNumbers } from '../../src/index.js';

const position = (n: number) => ({ sequenceNumber: String(1000 + n) });

describe('CheckpointTracker', () => {
  it('never resolves past a record that is not done, whatever the completion order', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 200 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.shuffledSubarray([...Array(n).keys()], { minLength: 0, maxLength: n }),
            ),
          ),
        ([n, doneOrder]) => {
          // arrange
          const tracker = new CheckpointTracker();
          const tickets = Array.from({ length: n }, (_, i) => tracker.register(position(i)));
          const done = new Set<number>();
          for (const i of doneOrder) {
            // act
            tracker.markDone(tickets[i]!);
            done.add(i);
            // assert: resolved = the longest done prefix
            let prefix = 0;
            while (done.has(prefix)) prefix++;
            if (prefix === 0) expect(tracker.resolved).toBeUndefined();
            else expect(tracker.resolved).toEqual(position(prefix - 1));
          }
        },
      ),
    );
  });

  it('commits on the record threshold, not before, and once more on demand', async () => {
    // arrange
    const commits: Checkpoint[] = [];
    const tracker = new CheckpointTracker({
      commit: async (c) => void commits.push(c),
      commitEveryRecords: 3,
      commitIntervalMs: 60_000,
    });
    const tickets = [0, 1, 2, 3].map((i) => tracker.register(position(i)));
    // act
    tracker.markDone(tickets[0]!);
    tracker.markDone(tickets[1]!);
    const early = await tracker.maybeCommit();
    tracker.markDone(tickets[2]!);
    const due = await tracker.maybeCommit();
    tracker.markDone(tickets[3]!);
    await tracker.commit();
    // assert
    expect(early).toBe(false);
    expect(due).toBe(true);
    expect(commits).toEqual([position(2), position(3)]);
  });

  it('commits on the interval', async () => {
    let now = 0;
    const commits: Checkpoint[] = [];
    const tracker = new CheckpointTracker({
      commit: async (c) => void commits.push(c),
      commitIntervalMs: 1000,
      now: () => now,
    });
    tracker.markDone(tracker.register(position(0)));
    expect(await tracker.maybeCommit()).toBe(false);
    now = 1000;
    expect(await tracker.maybeCommit()).toBe(true);
    expect(commits).toEqual([position(0)]);
  });

  it('refuses SHARD_END while records are pending', async () => {
    const tracker = new CheckpointTracker({ commit: async () => {} });
    tracker.register(position(0));
    await expect(tracker.commitSentinel('SHARD_END')).rejects.toThrow(
      /1 records of the shard are not done/,
    );
  });

  it('keeps memory bounded by the records in flight', () => {
    const tracker = new CheckpointTracker();
    for (let i = 0; i < 50_000; i++) tracker.markDone(tracker.register(position(i)));
    expect(tracker.pending).toBe(0);
    expect(
      compareSequenceNumbers(tracker.resolved!.sequenceNumber, position(49_999).sequenceNumber),
    ).toBe(0);
  });
});
