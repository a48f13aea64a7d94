import { describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../src/index.js';
import { ShardLag } from '../../src/index.js';
import { change } from '../helpers/records.js';

const arrivedAt = (ms: number | undefined): ChangeRecord => ({
  ...change({ key: 'k', sequenceNumber: 1 }),
  approximateCreationTimeMs: ms,
});

describe('ShardLag', () => {
  it('is unknown before the first read, then the read lag while nothing is pending', () => {
    // arrange
    const lag = new ShardLag();
    // act
    const before = lag.valueAt(1000);
    lag.read(250, 1000);
    // assert: an idle shard keeps the last read's lag, however much time passes
    expect(before).toBeUndefined();
    expect(lag.valueAt(1000)).toBe(250);
    expect(lag.valueAt(60_000)).toBe(250);
  });

  it('grows with wall time from the oldest unfinished record, with no read in between', () => {
    // arrange
    const lag = new ShardLag();
    lag.read(0, 10_000);
    // act
    lag.pending(arrivedAt(9_000));
    // assert
    expect(lag.valueAt(10_000)).toBe(1_000);
    expect(lag.valueAt(70_000)).toBe(61_000);
    lag.pending(undefined);
    expect(lag.valueAt(70_000)).toBe(0);
  });

  it('counts a record without an arrival time from the read that returned it', () => {
    // arrange
    const lag = new ShardLag();
    lag.read(500, 10_000);
    // act
    lag.pending(arrivedAt(undefined));
    // assert
    expect(lag.valueAt(12_000)).toBe(2_500);
  });

  it('grows from the last successful read while reads fail, and stops growing on a success', () => {
    // arrange
    const lag = new ShardLag();
    lag.read(100, 1_000);
    // act
    lag.readFailed();
    const failing = lag.valueAt(5_000);
    lag.read(0, 6_000);
    // assert
    expect(failing).toBe(4_100);
    expect(lag.valueAt(9_000)).toBe(0);
  });
});
