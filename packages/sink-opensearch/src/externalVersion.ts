import type { ChangeRecord } from '@shardline/core';
import { MAX_EXTERNAL_VERSION } from './constants.js';

/** The granularity of a source's `ApproximateCreationDateTime`. */
export type TimestampPrecision = 's' | 'ms' | 'us';

const NANOS_PER_UNIT: Record<TimestampPrecision, bigint> = {
  s: 1_000_000_000n,
  ms: 1_000_000n,
  us: 1_000n,
};

/**
 * The precision the default version keeps of each source's creation time: seconds for DynamoDB
 * Streams (it rounds `ApproximateCreationDateTime` down to the second); for "Kinesis Data Streams
 * for DynamoDB" every digit the record has, i.e. µs (a destination with the default MILLISECOND
 * precision simply has zeros there, the same for every change of the table).
 */
export function defaultPrecision(record: Pick<ChangeRecord, 'source'>): TimestampPrecision {
  return record.source === 'kinesis-dynamodb' ? 'us' : 's';
}

/**
 * A monotonic 63-bit external version for a change, derived from the record alone, so a replay
 * computes the same version and OpenSearch rejects anything older than what it holds.
 *
 * Stream sequence numbers cannot be used as they are: DynamoDB Streams' have 21 to 40 digits and
 * Kinesis' 56, beyond OpenSearch's 2^63 − 1. So:
 *
 * - DynamoDB Streams (a record without `version`): a nanosecond timestamp whose digits below the
 *   second are filled with the low nine digits of the sequence number,
 *   `version = floor(creationTime to the second) in ns + (sequenceNumber mod 10^9)`. Changes of
 *   one item in different seconds order by time; in the same second by sequence number, which
 *   increases along an item's changes, also across shards (see the README for the proof and
 *   its one limit).
 * - Sources that repeat and reorder changes ("Kinesis Data Streams for DynamoDB": a record with
 *   `version`, its creation time in µs): the time alone, `version = creationTime in ns`. Their
 *   Kinesis sequence numbers say nothing about an item's order (a duplicate comes later under a
 *   larger number, and a number's low digits do not grow even within a shard), so none of their
 *   digits is used: a duplicate gets the version of the first copy. Two changes of one item in
 *   the same µs (or ms, at MILLISECOND precision) get the same version; the sink writes these
 *   with `version_type: external_gte`, so the later arrival wins (see {@link versionType}).
 *
 * `precision` truncates the time further (`s`, `ms`, `us`). Nanoseconds since 1970 stay below
 * 2^63 until the year 2262.
 *
 * @returns `undefined` when the record has no creation time.
 */
export function externalVersion(
  record: Pick<ChangeRecord, 'sequenceNumber' | 'approximateCreationTimeMs' | 'version'>,
  precision: TimestampPrecision,
): bigint | undefined {
  const unit = NANOS_PER_UNIT[precision];
  let version: bigint;
  if (record.version !== undefined) {
    if (record.version < 0n) return undefined;
    version = ((record.version * 1000n) / unit) * unit;
  } else {
    if (record.approximateCreationTimeMs === undefined) return undefined;
    const micros = BigInt(Math.floor(record.approximateCreationTimeMs)) * 1000n;
    if (micros < 0n) return undefined;
    version = ((micros * 1000n) / unit) * unit + (BigInt(record.sequenceNumber) % unit);
  }
  return version <= MAX_EXTERNAL_VERSION ? version : undefined;
}

/**
 * The `version_type` the sink writes with the default version: `external` (strictly greater
 * wins) where the version is exact per change (DynamoDB Streams), `external_gte` (greater or
 * equal wins) where two changes of one item can share a version (sources that reorder), so a
 * same-unit later change is not lost and a duplicate rewrites the same document.
 */
export function versionType(record: Pick<ChangeRecord, 'version'>): 'external' | 'external_gte' {
  return record.version === undefined ? 'external' : 'external_gte';
}
