import {
  type ChangeRecord,
  DecodeError,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecordSafely,
  type FailedRecord,
  SourceKind,
  undecodableRecord,
} from '@shardline/core';
import {
  decodeKinesisLambdaRecord,
  decodeKinesisRecord,
  type KinesisLambdaRecord,
  KinesisPayloadFormat,
} from '@shardline/kinesis';

/** Options of {@link decodeFailedRecord}. */
export interface DecodeFailedRecordOptions {
  /** Payload format of plain Kinesis records. @default 'raw' */
  readonly payload?: KinesisPayloadFormat | undefined;
  readonly orderingKey?: ((record: ChangeRecord) => string) | undefined;
}

/** A Kinesis record as the worker parks it (SDK `GetRecords` shape, `Data` in base64). */
interface ParkedSdkKinesisRecord {
  SequenceNumber?: string;
  PartitionKey?: string;
  Data?: string;
  ApproximateArrivalTimestamp?: string;
}

/**
 * Turns a parked {@link FailedRecord} back into the {@link ChangeRecord} it was, from the raw
 * record it carries: a Lambda DynamoDB or Kinesis record, or a record the worker read with
 * GetRecords. For a KPL aggregate, the user record with the parked sub-sequence number.
 */
export function decodeFailedRecord(
  failed: FailedRecord,
  options: DecodeFailedRecordOptions = {},
): ChangeRecord {
  const location = { streamId: failed.streamId, shardId: failed.shardId };
  const orderingKey = options.orderingKey ? { orderingKey: options.orderingKey } : {};
  if (failed.source === SourceKind.DynamoDBStreams) {
    return decodeDynamoDBRecordSafely(failed.record as DynamoDBStreamRecordLike, {
      ...location,
      creationTimeUnit: 's',
      ...orderingKey,
    });
  }
  const payload =
    failed.source === SourceKind.KinesisDynamoDB
      ? KinesisPayloadFormat.DynamoDB
      : (options.payload ?? KinesisPayloadFormat.Raw);
  const raw = failed.record as Partial<KinesisLambdaRecord> & ParkedSdkKinesisRecord;
  const decoded = raw?.kinesis
    ? decodeKinesisLambdaRecord(raw as KinesisLambdaRecord, {
        ...location,
        payload,
        ...orderingKey,
      })
    : decodeKinesisRecord(
        {
          sequenceNumber: raw?.SequenceNumber ?? failed.sequenceNumber,
          partitionKey: raw?.PartitionKey ?? '',
          data: Buffer.from(raw?.Data ?? '', 'base64'),
          approximateArrivalTimeMs: raw?.ApproximateArrivalTimestamp
            ? Date.parse(raw.ApproximateArrivalTimestamp)
            : undefined,
        },
        { ...location, payload, ...orderingKey },
        failed.record,
      );
  const match =
    failed.subSequenceNumber === undefined
      ? decoded[0]
      : decoded.find((r) => r.subSequenceNumber === failed.subSequenceNumber);
  if (match) return match;
  return undecodableRecord(
    failed.record,
    {
      source: failed.source,
      streamId: failed.streamId,
      shardId: failed.shardId,
      sequenceNumber: failed.sequenceNumber,
      subSequenceNumber: failed.subSequenceNumber,
      orderingKey: failed.orderingKey,
    },
    new DecodeError(
      `the parked record holds no user record with sub-sequence number ${String(failed.subSequenceNumber)}`,
      { ...location, sequenceNumber: failed.sequenceNumber },
    ),
  );
}
