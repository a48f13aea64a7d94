import { ChangeEventName, type ChangeRecord, type SourceKind } from './ChangeRecord.js';
import type { DecodeError } from './errors.js';

/** What is known of a record that could not be decoded. */
export interface UndecodableRecordContext {
  readonly source: SourceKind;
  readonly streamId: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber?: number | undefined;
  /** The ordering key when it is still known (a Kinesis partition key); else one per shard. */
  readonly orderingKey?: string | undefined;
  readonly partitionKey?: string | undefined;
  readonly approximateCreationTimeMs?: number | undefined;
}

/**
 * Wraps a record that failed to decode into a {@link ChangeRecord} that carries its
 * `decodeError`, so it flows through the pipeline to the failure destination with the reason,
 * keeping its place in the shard for checkpoints.
 */
export function undecodableRecord(
  raw: unknown,
  context: UndecodableRecordContext,
  error: DecodeError,
): ChangeRecord {
  const sub = context.subSequenceNumber === undefined ? '' : `:${context.subSequenceNumber}`;
  return {
    source: context.source,
    streamId: context.streamId,
    shardId: context.shardId,
    sequenceNumber: context.sequenceNumber,
    subSequenceNumber: context.subSequenceNumber,
    orderingKey: context.orderingKey ?? `undecodable:${context.shardId}`,
    eventId: `${context.shardId}:${context.sequenceNumber}${sub}`,
    eventName: ChangeEventName.Record,
    tableName: undefined,
    keys: undefined,
    newImage: undefined,
    oldImage: undefined,
    marshalledKeys: undefined,
    streamViewType: undefined,
    partitionKey: context.partitionKey,
    data: undefined,
    approximateCreationTimeMs: context.approximateCreationTimeMs,
    version: undefined,
    sizeBytes: 0,
    isTtlDelete: false,
    region: undefined,
    raw,
    decodeError: error,
  };
}
