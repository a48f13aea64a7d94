import type { ChangeRecord } from '@shardline/core';
import { itemToJson } from '@shardline/core';

/**
 * One archived change, as written on one line of an object. Field names are stable: Athena
 * tables are declared over them (see the README).
 */
export interface ArchiveLine {
  readonly eventName: string;
  readonly eventId: string;
  readonly source: string;
  readonly streamId: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Only for records of a KPL aggregate. */
  readonly subSequenceNumber?: number;
  readonly table: string | null;
  /** ISO 8601, from the change's approximate creation time; null when the source gave none. */
  readonly approximateCreationTime: string | null;
  readonly keys: Record<string, unknown> | null;
  readonly newImage: Record<string, unknown> | null;
  readonly oldImage: Record<string, unknown> | null;
  readonly isTtlDelete: boolean;
  readonly sizeBytes: number;
  /** Kinesis records only. */
  readonly partitionKey?: string;
  /** Kinesis payload, base64 (Kinesis records only). */
  readonly data?: string;
}

/** The {@link ArchiveLine} of a change. */
export function toArchiveLine(record: ChangeRecord): ArchiveLine {
  const time = record.approximateCreationTimeMs;
  return {
    eventName: record.eventName,
    eventId: record.eventId,
    source: record.source,
    streamId: record.streamId,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    ...(record.subSequenceNumber === undefined
      ? {}
      : { subSequenceNumber: record.subSequenceNumber }),
    table: record.tableName ?? null,
    approximateCreationTime: time === undefined ? null : new Date(time).toISOString(),
    keys: record.keys ?? null,
    newImage: record.newImage ?? null,
    oldImage: record.oldImage ?? null,
    isTtlDelete: record.isTtlDelete,
    sizeBytes: record.sizeBytes,
    ...(record.partitionKey === undefined ? {} : { partitionKey: record.partitionKey }),
    ...(record.data === undefined ? {} : { data: Buffer.from(record.data).toString('base64') }),
  };
}

/** `JSON.stringify` for archived values: core's `itemToJson` (exact big numbers, base64 binary, sets as arrays). */
export function stringifyArchiveValue(value: unknown): string {
  return itemToJson(value);
}
