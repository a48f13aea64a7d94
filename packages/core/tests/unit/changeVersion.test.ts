import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_VERSION,
  changeVersion,
  paddedPosition,
  VERSION_WIDTH,
} from '../../src/index.js';

const streamsChange = (sequenceNumber: string, subSequenceNumber?: number) => ({
  sequenceNumber,
  subSequenceNumber,
  version: undefined,
});

describe('changeVersion', () => {
  it('orders DynamoDB Streams changes by sequence number, as strings, whatever their length', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        (a, b) => {
          // arrange
          const va = changeVersion(streamsChange(a.toString()));
          const vb = changeVersion(streamsChange(b.toString()));
          // assert: string order is numeric order, and the width is fixed
          expect(va < vb).toBe(a < b);
          expect(va).toHaveLength(VERSION_WIDTH);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it('orders Kinesis Data Streams for DynamoDB changes by creation time (µs), not by Kinesis sequence number', () => {
    // arrange: the newer change was delivered again under a larger Kinesis sequence number
    const older = {
      sequenceNumber: '900',
      subSequenceNumber: undefined,
      version: 1_700_000_000_000_001n,
    };
    const newer = {
      sequenceNumber: '100',
      subSequenceNumber: undefined,
      version: 1_700_000_000_000_002n,
    };
    // assert
    expect(changeVersion(older) < changeVersion(newer)).toBe(true);
    expect(changeVersion(newer)).toHaveLength(VERSION_WIDTH);
  });

  it('puts a KPL sub-sequence after its sequence number', () => {
    expect(paddedPosition(streamsChange('100')) < paddedPosition(streamsChange('100', 0))).toBe(
      true,
    );
    expect(paddedPosition(streamsChange('100', 12)) < paddedPosition(streamsChange('101'))).toBe(
      true,
    );
  });

  it('gives a bootstrap record a version below every stream change', () => {
    // arrange
    const bootstrap = changeVersion({ ...streamsChange('5'), bootstrap: true });
    // assert
    expect(bootstrap).toBe(BOOTSTRAP_VERSION);
    expect(bootstrap < changeVersion(streamsChange('0'))).toBe(true);
    expect(bootstrap < changeVersion({ ...streamsChange('1'), version: 0n })).toBe(true);
  });

  it('refuses a negative version', () => {
    expect(() => changeVersion({ ...streamsChange('1'), version: -1n })).toThrow(RangeError);
  });
});
