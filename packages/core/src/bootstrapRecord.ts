import { createHash } from 'node:crypto';
import { BOOTSTRAP_EVENT_SOURCE, type ChangeRecord, type MarshalledItem } from './ChangeRecord.js';
import {
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecordSafely,
} from './decodeDynamoDBRecord.js';
import { canonicalKey } from './orderingKey.js';

/** Where and when a bootstrap read an item (see {@link bootstrapRecord}). */
export interface BootstrapRecordOptions {
  /** The table the item was read from. */
  readonly tableName: string;
  /** The names of the table's key attributes (partition key, then sort key if any). */
  readonly keySchema: readonly string[];
  /**
   * The bootstrap this read belongs to (`BootstrapOptions.bootstrapId`): part of the event id,
   * so the items of one bootstrap, read again after a crash, keep their ids.
   */
  readonly bootstrapId: string;
  /**
   * Where in the bootstrap the item was read, as the record's shard: `scan-<segment>` for a
   * parallel Scan, `export-<file>` for an export's data file. Sinks that group by shard (the S3
   * archive's folders) keep a bootstrap's objects apart from the stream's.
   */
  readonly shardId: string;
  /**
   * When the item was in this state, in epoch ms: when the Scan page was read, or the export's
   * `exportTime`. It becomes the record's `approximateCreationTimeMs`: sinks derive from it a
   * version below every stream change made after it (see the OpenSearch sink).
   */
  readonly readAtMs: number;
  /** The record's stream id. @default `bootstrap:<tableName>` */
  readonly streamId?: string;
  /** The Region the table is in, when known. */
  readonly region?: string;
  /** Overrides the ordering key, as the stream's decoder does. @default the canonical key */
  readonly orderingKey?: (record: ChangeRecord) => string;
}

/**
 * The {@link ChangeRecord} of an item read by a bootstrap (a Scan page or an export's data
 * file): an `INSERT` carrying the item as read, with `bootstrap: true`. The one way to build
 * such records, so every source of bootstrap items and every sink agree on them.
 *
 * - `approximateCreationTimeMs` is when the item was read (`readAtMs`), `version` is undefined;
 * - `sequenceNumber` is a number derived from the item's table and key (the first 15 bytes of
 *   their SHA-256, in decimal): the same item gets the same position in every bootstrap, so a
 *   page read again after a crash writes the same S3 positions and SNS dedup ids;
 * - `eventId` is `bootstrap:<bootstrapId>:<that number>`;
 * - `raw` is a DynamoDB stream record with `eventSource: 'shardline:bootstrap'`, so a failure
 *   destination keeps it whole and a replay decodes it back into a bootstrap record.
 *
 * An item that lacks a key attribute comes back as an undecodable record (`decodeError` set),
 * which the pipeline parks with the reason instead of losing it.
 *
 * @example
 * const record = bootstrapRecord(page.Items[0], {
 *   tableName: 'Users', keySchema: ['UserID'], bootstrapId: 'users-2026-05',
 *   shardId: 'scan-3', readAtMs: Date.now(),
 * });
 */
export function bootstrapRecord(
  item: MarshalledItem,
  options: BootstrapRecordOptions,
): ChangeRecord {
  const keys: MarshalledItem = {};
  for (const name of options.keySchema) {
    const value = item[name];
    if (value !== undefined) keys[name] = value;
  }
  const missing = options.keySchema.filter((name) => keys[name] === undefined);
  const position = missing.length === 0 ? itemPosition(options.tableName, keys) : '0';
  const raw: DynamoDBStreamRecordLike & { shardline: { bootstrapId: string } } = {
    eventID: `bootstrap:${options.bootstrapId}:${position}`,
    eventName: 'INSERT',
    eventSource: BOOTSTRAP_EVENT_SOURCE,
    tableName: options.tableName,
    ...(options.region ? { awsRegion: options.region } : {}),
    dynamodb: {
      // ISO text: decoded the same whatever unit a replay assumes for numbers.
      ApproximateCreationDateTime: new Date(options.readAtMs).toISOString(),
      Keys: missing.length === 0 ? keys : {},
      NewImage: item,
      SequenceNumber: position,
      SizeBytes: approximateItemBytes(item),
      StreamViewType: 'NEW_IMAGE',
    },
    shardline: { bootstrapId: options.bootstrapId },
  };
  return decodeDynamoDBRecordSafely(raw, {
    streamId: options.streamId ?? `bootstrap:${options.tableName}`,
    shardId: options.shardId,
    ...(options.orderingKey ? { orderingKey: options.orderingKey } : {}),
  });
}

/** The item's position: the first 15 bytes of SHA-256(table, canonical key), in decimal. */
function itemPosition(tableName: string, keys: MarshalledItem): string {
  const digest = createHash('sha256')
    .update(`${tableName}/${canonicalKey(keys)}`)
    .digest();
  return BigInt(`0x${digest.subarray(0, 15).toString('hex')}`).toString(10);
}

/** About the item's size in bytes (its JSON), for `sizeBytes`. */
function approximateItemBytes(item: MarshalledItem): number {
  return Buffer.byteLength(JSON.stringify(item));
}
