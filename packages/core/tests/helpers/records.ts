import { marshall } from '@aws-sdk/util-dynamodb';
import {
  type ChangeRecord,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
  SourceKind,
} from '../../src/index.js';

/** Options of {@link streamRecord}. */
export interface StreamRecordOptions {
  key: string;
  sequenceNumber: bigint | number;
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
  newImage?: Record<string, unknown>;
  oldImage?: Record<string, unknown>;
}

/** A DynamoDB stream record (Lambda event shape) for item `key`. */
export function rawStreamRecord(options: StreamRecordOptions): DynamoDBStreamRecordLike {
  const seq = (100_000_000_000_000_000_000n + BigInt(options.sequenceNumber)).toString();
  return {
    eventID: `evt-${seq}`,
    eventName: options.eventName ?? 'INSERT',
    eventSource: 'aws:dynamodb',
    eventSourceARN:
      'arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/2026-11-23T00:00:00.000',
    dynamodb: {
      ApproximateCreationDateTime: 1_763_856_000,
      Keys: marshall({ id: options.key }) as never,
      NewImage: options.newImage ? (marshall(options.newImage) as never) : undefined,
      OldImage: options.oldImage ? (marshall(options.oldImage) as never) : undefined,
      SequenceNumber: seq,
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** A decoded change for item `key` at `sequenceNumber`, on shard `shardId-1`. */
export function change(options: StreamRecordOptions): ChangeRecord {
  return decodeDynamoDBRecord(rawStreamRecord(options), {
    streamId: 'arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/2026-11-23T00:00:00.000',
    shardId: 'shardId-1',
  });
}

/** A batch of changes in shard order, one per key in `keys` (sequence numbers 1, 2, 3, …). */
export function batchOf(keys: readonly string[], firstSequence = 1): ChangeRecord[] {
  return keys.map((key, i) =>
    change({ key, sequenceNumber: firstSequence + i, newImage: { id: key, n: i } }),
  );
}

/** Options of {@link kinesisDynamoDBChange}. */
export interface KinesisDynamoDBChangeOptions extends StreamRecordOptions {
  /** ApproximateCreationDateTime in µs: the record's per-item version. */
  createdAtMicros: number;
  /** Overrides the ordering key (as the `orderingKey` option of the decoders does). */
  orderingKey?: (record: ChangeRecord) => string;
}

/**
 * A change as "Kinesis Data Streams for DynamoDB" delivers it: no DynamoDB sequence number (the
 * Kinesis one instead), and a per-item `version` from the creation time, because such streams
 * may repeat and reorder one item's changes.
 */
export function kinesisDynamoDBChange(options: KinesisDynamoDBChangeOptions): ChangeRecord {
  const raw = rawStreamRecord(options);
  const sequenceNumber = raw.dynamodb!.SequenceNumber!;
  return decodeDynamoDBRecord(
    {
      ...raw,
      eventID: `kds-${options.key}-${options.createdAtMicros}`,
      eventSource: 'aws:dynamodb',
      tableName: 'Votes',
      dynamodb: {
        ...raw.dynamodb,
        SequenceNumber: undefined,
        ApproximateCreationDateTime: options.createdAtMicros,
      },
    },
    {
      streamId: 'arn:aws:kinesis:us-east-1:123456789012:stream/votes',
      shardId: 'shardId-000000000001',
      source: SourceKind.KinesisDynamoDB,
      sequenceNumber,
      creationTimeUnit: 'us',
      versionFromCreationTime: true,
      ...(options.orderingKey ? { orderingKey: options.orderingKey } : {}),
    },
  );
}
