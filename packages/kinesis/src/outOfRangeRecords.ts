import { ConfigurationError, type EventBus, type Logger, type Metrics } from '@shardline/core';

/**
 * What to do with a KPL user record whose hash key lies outside the hash key range of the shard
 * it was read from. That happens when the aggregate was put with an outdated shard map, after a
 * reshard: the aggregate is routed by its own key, and its user records may hash elsewhere.
 */
export const OutOfRangeRecordPolicy = {
  /**
   * Deliver the record like any other (the default), reported by an event, a metric and a
   * warning. The record is a change the producer wrote: the KPL puts it again to the right
   * shard, so with the KPL it arrives twice (at least once holds); aggregators other than the
   * KPL do not re-route it, so dropping it would lose it for good.
   */
  Deliver: 'deliver',
  /**
   * Skip the record, as the KCL does, reported the same way. Right only when every producer is
   * the KPL, which puts such records again to the shard that owns their hash key.
   */
  Skip: 'skip',
} as const;
/** One of {@link OutOfRangeRecordPolicy}. */
export type OutOfRangeRecordPolicy =
  (typeof OutOfRangeRecordPolicy)[keyof typeof OutOfRangeRecordPolicy];

/** The default {@link OutOfRangeRecordPolicy}: `deliver`, which never loses a change. */
export const DEFAULT_OUT_OF_RANGE_RECORD_POLICY: OutOfRangeRecordPolicy =
  OutOfRangeRecordPolicy.Deliver;

/** A shard's hash key range: decimal strings of 128-bit integers, both ends included. */
export interface HashKeyRange {
  readonly startingHashKey: string;
  readonly endingHashKey: string;
}

/** Where an out-of-range user record is reported. */
export interface OutOfRangeReporting {
  readonly events?: EventBus | undefined;
  readonly metrics?: Metrics | undefined;
  readonly logger?: Logger | undefined;
}

/** The user record that hashed outside its shard's range. */
export interface OutOfRangeRecord {
  readonly streamId: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly hashKey: bigint;
}

/** Validates a policy option, naming the bad value and the choices. */
export function outOfRangeRecordPolicyOf(value: unknown): OutOfRangeRecordPolicy {
  if (value === undefined) return DEFAULT_OUT_OF_RANGE_RECORD_POLICY;
  if (value === OutOfRangeRecordPolicy.Deliver || value === OutOfRangeRecordPolicy.Skip) {
    return value;
  }
  throw new ConfigurationError(
    `outOfRangeRecordPolicy must be 'deliver' or 'skip', got ${JSON.stringify(value)}.`,
  );
}

/**
 * Reports one out-of-range user record: the `record.outOfRange` event, the
 * `kpl_user_records_out_of_range_total` metric (labels `stream`, `shard`, `action`) and a warning naming
 * the shard, sequence, sub-sequence and partition key.
 */
export function reportOutOfRangeRecord(
  reporting: OutOfRangeReporting,
  record: OutOfRangeRecord,
  policy: OutOfRangeRecordPolicy,
): void {
  const action = policy === OutOfRangeRecordPolicy.Skip ? 'skipped' : 'delivered';
  reporting.metrics?.increment('kpl_user_records_out_of_range_total', 1, {
    stream: record.streamId,
    shard: record.shardId,
    action,
  });
  reporting.events?.emit('record.outOfRange', {
    streamId: record.streamId,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: record.subSequenceNumber,
    partitionKey: record.partitionKey,
    explicitHashKey: record.explicitHashKey,
    hashKey: String(record.hashKey),
    action,
  });
  reporting.logger?.warn(
    {
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      subSequenceNumber: record.subSequenceNumber,
      partitionKey: record.partitionKey,
      explicitHashKey: record.explicitHashKey,
      outOfRangeRecordPolicy: policy,
    },
    action === 'skipped'
      ? 'KPL user record hashes outside this shard (put with an outdated shard map); skipped (outOfRangeRecordPolicy: skip), the KPL puts it again to the right shard'
      : 'KPL user record hashes outside this shard (put with an outdated shard map); delivered (outOfRangeRecordPolicy: deliver); a KPL producer puts it again to the right shard, so it may come twice',
  );
}
