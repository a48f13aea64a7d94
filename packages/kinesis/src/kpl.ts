import { createHash } from 'node:crypto';
import { deaggregateSync, type UserRecord } from 'aws-kinesis-agg';

/** The 4 bytes a KPL aggregate starts with. */
export const KPL_MAGIC = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);

/** Whether `data` is a KPL aggregate (magic bytes, then protobuf, then a 16-byte MD5). */
export function isKplAggregate(data: Uint8Array): boolean {
  return (
    data.length > 20 &&
    data[0] === KPL_MAGIC[0] &&
    data[1] === KPL_MAGIC[1] &&
    data[2] === KPL_MAGIC[2] &&
    data[3] === KPL_MAGIC[3]
  );
}

/** One user record taken out of an aggregate. */
export interface DeaggregatedRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly subSequenceNumber: number;
  readonly data: Buffer;
}

/**
 * Splits a KPL aggregate into its user records with `aws-kinesis-agg`, checking the MD5 trailer.
 * @throws Error when the aggregate is corrupt (bad checksum or protobuf).
 */
export function deaggregate(
  data: Uint8Array,
  partitionKey: string,
  sequenceNumber: string,
): DeaggregatedRecord[] {
  let failure: Error | undefined;
  let records: UserRecord[] = [];
  deaggregateSync(
    { data: Buffer.from(data).toString('base64'), partitionKey, sequenceNumber },
    true,
    (err, userRecords) => {
      if (err) failure = err;
      else records = userRecords ?? [];
    },
  );
  if (failure) throw failure;
  return records.map((r) => ({
    partitionKey: r.partitionKey,
    explicitHashKey: r.explicitPartitionKey || undefined,
    subSequenceNumber: r.subSequenceNumber,
    data: Buffer.from(r.data, 'base64'),
  }));
}

/**
 * The 128-bit hash key Kinesis routes a record by: the explicit hash key when given, else the
 * MD5 of the partition key as an unsigned big-endian integer.
 */
export function hashKeyOf(partitionKey: string, explicitHashKey?: string): bigint {
  if (explicitHashKey !== undefined && explicitHashKey !== '') return BigInt(explicitHashKey);
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}
