import type { ChangeRecord } from '@shardline/core';
import { MAX_EXTERNAL_VERSION } from './constants.js';

/** The granularity of a source's `ApproximateCreationDateTime`. */
export type TimestampPrecision = 's' | 'ms' | 'us';

const NANOS_PER_UNIT: Record<TimestampPrecision, bigint> = {
  s: 1_000_000_000n,
  ms: 1_000_000n,
  us: 1_000n,
};

/** The precision each source gives, as documented by AWS. */
export function defaultPrecision(record: Pick<ChangeRecord, 'source'>): TimestampPrecision {
  // DynamoDB Streams rounds ApproximateCreationDateTime down to the second; "Kinesis Data
  // Streams for DynamoDB" gives milliseconds unless the destination was enabled with
  // ApproximateCreationDateTimePrecision=MICROSECOND.
  return record.source === 'kinesis-dynamodb' ? 'ms' : 's';
}

/**
 * A monotonic 63-bit external version for a change, derived from the record alone, so a replay
 * computes the same version and OpenSearch rejects anything older than what it holds.
 *
 * Stream sequence numbers cannot be used as they are: DynamoDB Streams' are 21+ digits and
 * Kinesis' 56, beyond OpenSearch's 2^63 − 1. The version is instead a nanosecond timestamp whose
 * digits below the source's precision are filled with the low digits of the sequence number:
 *
 *   version = floor(creationTime to precision) in ns + (sequenceNumber mod 10^k)
 *
 * with k = 9 for second precision (DynamoDB Streams), 6 for ms and 3 for µs. Changes of one item
 * in different time units order by time; changes in the same unit order by sequence number,
 * which is exact within a shard. Nanoseconds since 1970 stay below 2^63 until the year 2262.
 *
 * @returns `undefined` when the record has no creation time.
 */
export function externalVersion(
  record: Pick<ChangeRecord, 'sequenceNumber' | 'approximateCreationTimeMs' | 'version'>,
  precision: TimestampPrecision,
): bigint | undefined {
  const micros =
    record.version ??
    (record.approximateCreationTimeMs === undefined
      ? undefined
      : BigInt(Math.floor(record.approximateCreationTimeMs)) * 1000n);
  if (micros === undefined || micros < 0n) return undefined;
  const unit = NANOS_PER_UNIT[precision];
  const nanos = ((micros * 1000n) / unit) * unit;
  const version = nanos + (BigInt(record.sequenceNumber) % unit);
  return version <= MAX_EXTERNAL_VERSION ? version : undefined;
}
