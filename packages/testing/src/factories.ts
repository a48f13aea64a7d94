import { createHash, randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@shardline/core';
import type {
  DynamoDBRecord,
  DynamoDBStreamEvent,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';

/** A stream ARN of the documented shape, for a table. */
export function streamArnFor(
  table = 'Votes',
  region = 'us-east-1',
  account = '123456789012',
): string {
  return `arn:aws:dynamodb:${region}:${account}:table/${table}/stream/2026-11-23T00:00:00.000`;
}

let nextSequence = 100_000_000_000_000_000_000n;

/** A fresh DynamoDB-style sequence number (21 digits, increasing). */
export function nextSequenceNumber(): string {
  nextSequence += 100n;
  return nextSequence.toString();
}

/** Options of {@link makeDynamoDBRecord}. */
export interface MakeDynamoDBRecordOptions {
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** Primary key as plain values, e.g. `{ UserID: 'u1' }`. */
  keys: Record<string, unknown>;
  newImage?: Record<string, unknown>;
  oldImage?: Record<string, unknown>;
  sequenceNumber?: string;
  streamViewType?: 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';
  /** Marks a REMOVE as made by DynamoDB TTL. */
  ttl?: boolean;
  streamArn?: string;
  approximateCreationDateTime?: number;
  eventId?: string;
  /** The record's `awsRegion`. @default 'us-east-1' */
  region?: string;
}

const marshallOptions = { removeUndefinedValues: true, convertClassInstanceToMap: true } as const;

/**
 * A DynamoDB Streams record of the exact Lambda event shape. Images are marshalled from plain
 * values and trimmed to what the stream view type carries.
 */
export function makeDynamoDBRecord(options: MakeDynamoDBRecordOptions): DynamoDBRecord {
  const view = options.streamViewType ?? 'NEW_AND_OLD_IMAGES';
  const eventName =
    options.eventName ??
    (options.oldImage && options.newImage ? 'MODIFY' : options.newImage ? 'INSERT' : 'REMOVE');
  const keys = marshall(options.keys, marshallOptions) as Record<string, AttributeValue>;
  const sequenceNumber = options.sequenceNumber ?? nextSequenceNumber();
  const newImage =
    options.newImage && (view === 'NEW_IMAGE' || view === 'NEW_AND_OLD_IMAGES')
      ? marshall(options.newImage, marshallOptions)
      : undefined;
  const oldImage =
    options.oldImage && (view === 'OLD_IMAGE' || view === 'NEW_AND_OLD_IMAGES')
      ? marshall(options.oldImage, marshallOptions)
      : undefined;
  const size = JSON.stringify([keys, newImage, oldImage]).length;
  const record: DynamoDBRecord = {
    eventID: options.eventId ?? `evt-${sequenceNumber}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: options.region ?? 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime:
        options.approximateCreationDateTime ?? Math.floor(Date.now() / 1000),
      Keys: keys as never,
      ...(newImage ? { NewImage: newImage as never } : {}),
      ...(oldImage ? { OldImage: oldImage as never } : {}),
      SequenceNumber: sequenceNumber,
      SizeBytes: size,
      StreamViewType: view,
    },
    eventSourceARN: options.streamArn ?? streamArnFor(),
  };
  if (options.ttl) record.userIdentity = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
  return record;
}

/** A Lambda DynamoDB Streams event around `records`. */
export function makeDynamoDBEvent(records: DynamoDBRecord[]): DynamoDBStreamEvent {
  return { Records: records };
}

/** Options of {@link makeKinesisRecord}. */
export interface MakeKinesisRecordOptions {
  data: Uint8Array | string | object;
  partitionKey: string;
  sequenceNumber?: string;
  shardId?: string;
  streamArn?: string;
  approximateArrivalTimestamp?: number;
}

let nextKinesisSequence =
  49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;

/** A Kinesis record of the exact Lambda event shape (`data` base64). */
export function makeKinesisRecord(options: MakeKinesisRecordOptions): KinesisStreamRecord {
  nextKinesisSequence += 1_000_000n;
  const sequenceNumber = options.sequenceNumber ?? nextKinesisSequence.toString();
  const shardId = options.shardId ?? 'shardId-000000000000';
  const bytes =
    options.data instanceof Uint8Array
      ? Buffer.from(options.data)
      : Buffer.from(typeof options.data === 'string' ? options.data : JSON.stringify(options.data));
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: options.partitionKey,
      sequenceNumber,
      data: bytes.toString('base64'),
      approximateArrivalTimestamp: options.approximateArrivalTimestamp ?? Date.now() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'us-east-1',
    eventSourceARN:
      options.streamArn ?? 'arn:aws:kinesis:us-east-1:123456789012:stream/shardline-test',
  };
}

/** A Lambda Kinesis event around `records`. */
export function makeKinesisEvent(records: KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: records };
}

/** Options of {@link makeKinesisDynamoDBRecord}. */
export interface MakeKinesisDynamoDBRecordOptions {
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** Primary key as plain values, e.g. `{ UserID: 'u1' }`. */
  keys: Record<string, unknown>;
  newImage?: Record<string, unknown>;
  oldImage?: Record<string, unknown>;
  /** The table the change was made in. @default 'Votes' */
  tableName?: string;
  /**
   * ApproximateCreationDateTime, epoch ms (µs when the destination's precision is MICROSECOND).
   * The record's per-item version: such streams may repeat and reorder one item's changes.
   */
  approximateCreationDateTime: number;
  /** @default a fresh UUID-like id */
  eventId?: string;
  /** The Kinesis sequence number. @default a fresh increasing one */
  sequenceNumber?: string;
  shardId?: string;
  streamArn?: string;
  /** Marks a REMOVE as made by DynamoDB TTL (`userIdentity` type Service, dynamodb.amazonaws.com). */
  ttl?: boolean;
  /** The payload's `awsRegion`. @default 'us-east-1' */
  region?: string;
}

/**
 * A Lambda Kinesis record carrying a "Kinesis Data Streams for DynamoDB" change, as DynamoDB puts
 * it: the payload is the DynamoDB stream record in JSON (no SequenceNumber, `tableName`,
 * `recordFormat`), the partition key is an MD5 of the item key in hex.
 */
export function makeKinesisDynamoDBRecord(
  options: MakeKinesisDynamoDBRecordOptions,
): KinesisStreamRecord {
  const keys = marshall(options.keys, marshallOptions);
  const newImage = options.newImage ? marshall(options.newImage, marshallOptions) : undefined;
  const oldImage = options.oldImage ? marshall(options.oldImage, marshallOptions) : undefined;
  const eventName =
    options.eventName ??
    (options.oldImage && options.newImage ? 'MODIFY' : options.newImage ? 'INSERT' : 'REMOVE');
  const payload = {
    awsRegion: options.region ?? 'us-east-1',
    eventID: options.eventId ?? randomUUID(),
    eventName,
    userIdentity: options.ttl ? { type: 'Service', principalId: 'dynamodb.amazonaws.com' } : null,
    recordFormat: 'application/json',
    tableName: options.tableName ?? 'Votes',
    dynamodb: {
      ApproximateCreationDateTime: options.approximateCreationDateTime,
      Keys: keys,
      ...(newImage ? { NewImage: newImage } : {}),
      ...(oldImage ? { OldImage: oldImage } : {}),
      SizeBytes: JSON.stringify([keys, newImage, oldImage]).length,
    },
    eventSource: 'aws:dynamodb',
  };
  return makeKinesisRecord({
    data: payload,
    partitionKey: createHash('md5').update(JSON.stringify(keys)).digest('hex').toUpperCase(),
    ...(options.sequenceNumber ? { sequenceNumber: options.sequenceNumber } : {}),
    ...(options.shardId ? { shardId: options.shardId } : {}),
    ...(options.streamArn ? { streamArn: options.streamArn } : {}),
  });
}
