import type { AttributeValue } from './AttributeValue.js';
import type { DecodeError } from './errors.js';

/** Where a {@link ChangeRecord} came from. */
export const SourceKind = {
  /** A DynamoDB Streams record (GetRecords or a Lambda DynamoDB event). */
  DynamoDBStreams: 'dynamodb-streams',
  /** A Kinesis Data Streams record with an opaque payload. */
  Kinesis: 'kinesis',
  /** A DynamoDB change delivered through "Kinesis Data Streams for DynamoDB". */
  KinesisDynamoDB: 'kinesis-dynamodb',
} as const;
/** One of {@link SourceKind}. */
export type SourceKind = (typeof SourceKind)[keyof typeof SourceKind];

/**
 * The `eventSource` of the raw record of a bootstrap record (see `bootstrapRecord`): no stream
 * writes it (DynamoDB Streams writes `aws:dynamodb`), so a record decoded from a raw record that
 * carries it, after a failure destination parked it, is a bootstrap record again.
 */
export const BOOTSTRAP_EVENT_SOURCE = 'shardline:bootstrap';

/** What happened to the item. `RECORD` is a plain Kinesis record, which is not an item change. */
export const ChangeEventName = {
  Insert: 'INSERT',
  Modify: 'MODIFY',
  Remove: 'REMOVE',
  Record: 'RECORD',
} as const;
/** One of {@link ChangeEventName}. */
export type ChangeEventName = (typeof ChangeEventName)[keyof typeof ChangeEventName];

/** DynamoDB stream view types: which images a record carries. */
export const StreamViewType = {
  KeysOnly: 'KEYS_ONLY',
  NewImage: 'NEW_IMAGE',
  OldImage: 'OLD_IMAGE',
  NewAndOldImages: 'NEW_AND_OLD_IMAGES',
} as const;
/** One of {@link StreamViewType}. */
export type StreamViewType = (typeof StreamViewType)[keyof typeof StreamViewType];

/** A DynamoDB item, unmarshalled (see `unmarshallImage` for how numbers are kept exact). */
export type Item = Record<string, unknown>;

/** A DynamoDB item in the wire format (`{ S: "x" }`, `{ N: "1" }`, …). */
export type MarshalledItem = Record<string, AttributeValue>;

/**
 * One change from any source, normalized. Every source (DynamoDB Streams GetRecords, a Lambda
 * DynamoDB or Kinesis event, a Kinesis GetRecords call, a KPL aggregate, "Kinesis Data Streams
 * for DynamoDB") decodes into this one shape, so dedup, ordering, checkpoints and sinks are
 * written once.
 *
 * Images are decoded lazily: `newImage`, `oldImage` and `keys` unmarshal on first access and
 * cache the result, so a handler that never reads an image never pays for it. A DynamoDB
 * change builds its default `orderingKey` (the canonical item key) on first read too. These are
 * getters of the record's class, so a spread copy (`{ ...record }`) has none of them: decode the
 * source record again, or wrap the record, rather than spread it.
 */
export interface ChangeRecord {
  /** The source kind. */
  readonly source: SourceKind;
  /** Stream ARN (DynamoDB Streams, Kinesis) or stream name. */
  readonly streamId: string;
  /** The shard the record was read from. */
  readonly shardId: string;
  /** The record's sequence number in its shard, as the decimal string the service returns. */
  readonly sequenceNumber: string;
  /** Position inside a KPL aggregate; `undefined` for records that were not aggregated. */
  readonly subSequenceNumber: number | undefined;
  /** The key that orders effects: serial within a key, concurrent across keys. */
  readonly orderingKey: string;
  /** A unique id of this change, used for de-duplication (DynamoDB `eventID`, or shard:seq[:sub]). */
  readonly eventId: string;
  /** INSERT, MODIFY, REMOVE, or RECORD for a plain Kinesis record. */
  readonly eventName: ChangeEventName;
  /** The table name, when known (from the stream ARN or the Kinesis payload). */
  readonly tableName: string | undefined;
  /** The item's primary key, unmarshalled (DynamoDB changes only). */
  readonly keys: Item | undefined;
  /** The item after the change, when the stream view carries it. */
  readonly newImage: Item | undefined;
  /** The item before the change, when the stream view carries it. */
  readonly oldImage: Item | undefined;
  /** The primary key as received (wire format), for canonical ids and re-marshalling. */
  readonly marshalledKeys: MarshalledItem | undefined;
  /** The stream view type, when the source says (DynamoDB Streams). */
  readonly streamViewType: StreamViewType | undefined;
  /** The Kinesis partition key (Kinesis sources only). */
  readonly partitionKey: string | undefined;
  /** The Kinesis payload bytes (Kinesis sources only). */
  readonly data: Uint8Array | undefined;
  /**
   * When the change was made (DynamoDB: ApproximateCreationDateTime, second granularity on
   * Streams, ms or µs via Kinesis) or reached the stream (Kinesis arrival time), in epoch ms.
   */
  readonly approximateCreationTimeMs: number | undefined;
  /**
   * A per-key version for sources that may reorder or repeat changes ("Kinesis Data Streams for
   * DynamoDB"): the creation time in microseconds. `undefined` where the stream order is exact.
   */
  readonly version: bigint | undefined;
  /** Size of the change in bytes, as the source reports it. */
  readonly sizeBytes: number;
  /**
   * True for a REMOVE made by DynamoDB Time to Live: the record's `userIdentity` has type
   * `Service` and principal id `dynamodb.amazonaws.com` (both are checked, in the spelling of
   * each source: `type`/`principalId` in Lambda DynamoDB events, `Type`/`PrincipalId` in SDK v3
   * GetRecords results). A user's delete has no `userIdentity`. What the pipeline does with these is the `ttlDeletes` option.
   */
  readonly isTtlDelete: boolean;
  /**
   * The AWS Region the record was read in (`awsRegion` of Lambda records, GetRecords records
   * and "Kinesis Data Streams for DynamoDB" payloads). With global tables each replica's stream
   * has its own records: this is the replica's Region, not the Region that made the change (see
   * the `globalTables` option for that).
   */
  readonly region: string | undefined;
  /**
   * True for an item read by a bootstrap (a Scan of the table or an export to S3), not a change
   * from the stream: an `INSERT` carrying the item as it was when it was read. It is older than
   * any stream change of the same item, so a sink writes it only where it holds nothing of that
   * item yet (no item, no tombstone, no ledger entry), and the stream's changes always win.
   * `undefined` (false) for every stream record.
   */
  readonly bootstrap?: boolean | undefined;
  /** The record exactly as the source delivered it. */
  readonly raw: unknown;
  /**
   * Set when the record could not be decoded. The pipeline never runs such a record: it fails
   * at once (not retriable) and is parked in the failure destination or blocks its key, per the
   * retry policy, so bad input is never lost and never crashes the batch.
   */
  readonly decodeError?: DecodeError | undefined;
}
