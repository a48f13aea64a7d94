import { describe, expect, it } from 'vitest';
import {
  defaultPrecision,
  externalVersion,
  MAX_EXTERNAL_VERSION,
  versionType,
} from '../../src/index.js';

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

  it('uses the time alone for records with a per-key version (sources that reorder), truncated to the precision', () => {
    // arrange: µs times 1 µs apart; the sequence number of the earlier one is larger
    const earlier = { sequenceNumber: '999', approximateCreationTimeMs: 1, version: 1_000_001n };
    const later = { sequenceNumber: '1', approximateCreationTimeMs: 1, version: 1_000_002n };
    // act / assert
    expect(externalVersion(later, 'us')!).toBeGreaterThan(externalVersion(earlier, 'us')!);
    expect(externalVersion(earlier, 'us')).toBe(1_000_001_000n);
    expect(externalVersion({ ...earlier, version: 5_123n }, 'ms')).toBe(5_000_000n);
    expect(versionType(earlier)).toBe('external_gte');
    expect(versionType({ version: undefined })).toBe('external');
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

describe('externalVersion for Kinesis Data Streams for DynamoDB', () => {
  // Consecutive records of one Kinesis shard, as the Kinesis developer guide's GetRecords example
  // shows them: the later record's low digits are smaller (Kinesis numbers order as a whole).
  const SECOND = '49543463076570308322303623326179887152428262250726293506';
  const THIRD = '49543463076570308322303623326181096078247876879901130754';

  it('orders two changes of an item in one ms by their µs creation time (MICROSECOND precision)', () => {
    // arrange: 400 µs apart in the same ms, the later one with the smaller low digits
    const earlier = kinesisDynamoDB(SECOND, 1_731_924_555_123_100n);
    const later = kinesisDynamoDB(THIRD, 1_731_924_555_123_500n);
    // act
    const a = externalVersion(earlier, defaultPrecision(earlier))!;
    const b = externalVersion(later, defaultPrecision(later))!;
    // assert
    expect(b).toBeGreaterThan(a);
  });

  it('gives a duplicate (another Kinesis record of the same change) the version of the first copy', () => {
    // arrange: the same change delivered twice, under two Kinesis sequence numbers
    const first = kinesisDynamoDB(SECOND, 1_731_924_555_123_000n);
    const duplicate = kinesisDynamoDB(THIRD, 1_731_924_555_123_000n);
    // act / assert
    expect(externalVersion(duplicate, defaultPrecision(duplicate))).toBe(
      externalVersion(first, defaultPrecision(first)),
    );
  });
});

function kinesisDynamoDB(sequenceNumber: string, micros: bigint) {
  return {
    source: 'kinesis-dynamodb' as const,
    sequenceNumber,
    approximateCreationTimeMs: Number(micros / 1000n),
    version: micros,
  };
}
