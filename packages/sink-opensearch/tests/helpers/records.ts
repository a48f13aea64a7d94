import {
  type ChangeRecord,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
  SourceKind,
} from '@shardline/core';
import { type MakeDynamoDBRecordOptions, makeDynamoDBRecord } from '@shardline/testing';

/** A decoded DynamoDB Streams change, as the pipeline hands it to a sink. */
export function change(options: MakeDynamoDBRecordOptions): ChangeRecord {
  const raw = makeDynamoDBRecord(options);
  return decodeDynamoDBRecord(raw as DynamoDBStreamRecordLike, {
    streamId: raw.eventSourceARN!,
    shardId: 'shardId-00000001',
  });
}

/**
 * A "Kinesis Data Streams for DynamoDB" change: no DynamoDB sequence number, the Kinesis one
 * instead, and a creation time in ms.
 */
export function kinesisChange(
  options: MakeDynamoDBRecordOptions & {
    kinesisSequenceNumber: string;
    /** Creation time in ms (MILLISECOND precision, the default of the Kinesis destination). */
    creationMs?: number;
    /** Creation time in µs (a destination with MICROSECOND precision); wins over `creationMs`. */
    creationUs?: number;
  },
): ChangeRecord {
  const raw = makeDynamoDBRecord(options) as DynamoDBStreamRecordLike;
  raw.dynamodb!.ApproximateCreationDateTime = options.creationUs ?? options.creationMs;
  delete raw.dynamodb!.SequenceNumber;
  return decodeDynamoDBRecord(raw, {
    streamId: 'arn:aws:kinesis:us-east-1:123456789012:stream/table-changes',
    shardId: 'shardId-000000000000',
    source: SourceKind.KinesisDynamoDB,
    sequenceNumber: options.kinesisSequenceNumber,
    creationTimeUnit: options.creationUs === undefined ? 'ms' : 'us',
    versionFromCreationTime: true,
  });
}
