import { describe, expect, it } from 'vitest';
import { externalVersion, MAX_EXTERNAL_VERSION } from '../../src/index.js';

describe('externalVersion', () => {
  it('orders changes of the same second by sequence number (DynamoDB Streams)', () => {
    // arrange
    const t = 1_731_924_555_000;
    const first = {
      sequenceNumber: '300000000000000499659',
      approximateCreationTimeMs: t,
      version: undefined,
    };
    const second = { ...first, sequenceNumber: '400000000000000499660' };
    // act
    const a = externalVersion(first, 's')!;
    const b = externalVersion(second, 's')!;
    // assert
    expect(a).toBe(1_731_924_555_000_499_659n);
    expect(b).toBeGreaterThan(a);
  });

  it('orders by time first, whatever the sequence numbers', () => {
    const earlier = {
      sequenceNumber: '999999999',
      approximateCreationTimeMs: 1_000_000,
      version: undefined,
    };
    const later = { sequenceNumber: '1', approximateCreationTimeMs: 2_000_000, version: undefined };
    expect(externalVersion(later, 's')!).toBeGreaterThan(externalVersion(earlier, 's')!);
  });

  it('fills only the digits below the precision, so ms and µs times keep their order', () => {
    // arrange: µs times 1 µs apart; the sequence number of the earlier one is larger
    const earlier = { sequenceNumber: '999', approximateCreationTimeMs: 1, version: 1_000_001n };
    const later = { sequenceNumber: '1', approximateCreationTimeMs: 1, version: 1_000_002n };
    // act / assert
    expect(externalVersion(later, 'us')!).toBeGreaterThan(externalVersion(earlier, 'us')!);
    expect(externalVersion(earlier, 'us')).toBe(1_000_001_999n);
    expect(externalVersion({ ...earlier, version: 5_000n }, 'ms')).toBe(5_000_999n);
  });

  it('gives the same version for the same record (replays compute the same value)', () => {
    const record = {
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      approximateCreationTimeMs: 1_700_000_000_123,
      version: undefined,
    };
    expect(externalVersion(record, 'ms')).toBe(externalVersion({ ...record }, 'ms'));
  });

  it('stays within 63 bits until 2262 and refuses beyond', () => {
    const y2200 = Date.UTC(2200, 0, 1);
    const y2300 = Date.UTC(2300, 0, 1);
    const seq = '9'.repeat(56);
    expect(
      externalVersion(
        { sequenceNumber: seq, approximateCreationTimeMs: y2200, version: undefined },
        's',
      )!,
    ).toBeLessThanOrEqual(MAX_EXTERNAL_VERSION);
    expect(
      externalVersion(
        { sequenceNumber: seq, approximateCreationTimeMs: y2300, version: undefined },
        's',
      ),
    ).toBeUndefined();
    expect(
      externalVersion(
        { sequenceNumber: '1', approximateCreationTimeMs: undefined, version: undefined },
        's',
      ),
    ).toBeUndefined();
  });
});
