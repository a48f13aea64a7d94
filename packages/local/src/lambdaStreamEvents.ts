import { createHash } from 'node:crypto';
import type { _Record as KinesisSdkRecord } from '@aws-sdk/client-kinesis';
import type { AttributeValue } from '@shardline/core';
import { canonicalKey } from '@shardline/core';
import type { DynamoDBRecord, KinesisStreamRecord } from 'aws-lambda';

/** The Lambda record of one stream record, with what the mapping needs to route and age it. */
export interface MappedStreamRecord {
  /** The record as the function receives it in `event.Records`. */
  readonly lambda: DynamoDBRecord | KinesisStreamRecord;
  /** Its sequence number (the `itemIdentifier` a partial batch response names). */
  readonly sequenceNumber: string;
  /** A 32-bit hash of the ordering key (the item's Keys, or the Kinesis partition key). */
  readonly keyHash: number;
  /** When the record was written, in epoch ms (for `MaximumRecordAgeInSeconds`). */
  readonly arrivedAtMs: number;
  /** Approximate size in the invoke payload, in bytes (for the 6 MB cap). */
  readonly bytes: number;
}

/**
 * A 32-bit hash of an ordering key, as Kinesis hashes partition keys (the first 4 bytes of MD5),
 * so records of one key always land in the same ParallelizationFactor lane.
 */
export function orderingKeyHash(key: string): number {
  return createHash('md5').update(key).digest().readUInt32BE(0);
}

/**
 * The Lambda DynamoDB Streams record of a GetRecords record from the SDK v3 streams client.
 * The field order and types are Lambda's: `ApproximateCreationDateTime` in epoch seconds, binary
 * values in base64, and no shard id anywhere (Lambda's DynamoDB records carry none).
 */
export function toLambdaDynamoDBRecord(
  record: Record<string, unknown>,
  eventSourceArn: string,
  fallbackRegion: string,
): MappedStreamRecord {
  const dynamodb = (record.dynamodb ?? {}) as Record<string, unknown>;
  const created = dynamodb.ApproximateCreationDateTime;
  const createdSeconds =
    created instanceof Date
      ? Math.floor(created.getTime() / 1000)
      : typeof created === 'number'
        ? created
        : Math.floor(Date.now() / 1000);
  const keys = wire(dynamodb.Keys) as Record<string, AttributeValue>;
  const lambda: DynamoDBRecord = {
    eventID: String(record.eventID ?? ''),
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: String(record.eventVersion ?? '1.1'),
    eventSource: 'aws:dynamodb',
    awsRegion: String(record.awsRegion ?? fallbackRegion),
    dynamodb: {
      ApproximateCreationDateTime: createdSeconds,
      Keys: keys as never,
      ...(dynamodb.NewImage ? { NewImage: wire(dynamodb.NewImage) as never } : {}),
      ...(dynamodb.OldImage ? { OldImage: wire(dynamodb.OldImage) as never } : {}),
      SequenceNumber: String(dynamodb.SequenceNumber ?? ''),
      SizeBytes: Number(dynamodb.SizeBytes ?? 0),
      StreamViewType: dynamodb.StreamViewType as 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: eventSourceArn,
  };
  const identity = record.userIdentity as Record<string, unknown> | null | undefined;
  if (identity) {
    // Lambda spells the members type / principalId; the API (and SDK v3) Type / PrincipalId.
    lambda.userIdentity = {
      type: identity.type ?? identity.Type,
      principalId: identity.principalId ?? identity.PrincipalId,
    };
  }
  return {
    lambda,
    sequenceNumber: String(dynamodb.SequenceNumber ?? ''),
    keyHash: orderingKeyHash(canonicalKey(keys)),
    arrivedAtMs: createdSeconds * 1000,
    bytes: JSON.stringify(lambda).length,
  };
}

/** The Lambda Kinesis record of a GetRecords record from the SDK v3 Kinesis client. */
export function toLambdaKinesisRecord(
  record: KinesisSdkRecord,
  shardId: string,
  eventSourceArn: string,
  region: string,
  invokeIdentityArn: string,
): MappedStreamRecord {
  const arrived = record.ApproximateArrivalTimestamp?.getTime() ?? Date.now();
  const sequenceNumber = record.SequenceNumber ?? '';
  const partitionKey = record.PartitionKey ?? '';
  const lambda: KinesisStreamRecord = {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey,
      sequenceNumber,
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: arrived / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn,
    awsRegion: region,
    eventSourceARN: eventSourceArn,
  };
  return {
    lambda,
    sequenceNumber,
    keyHash: orderingKeyHash(partitionKey),
    arrivedAtMs: arrived,
    bytes: JSON.stringify(lambda).length,
  };
}

/** SDK v3 values (Date, Uint8Array, Set) as they appear in a Lambda event's JSON. */
function wire(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return Math.floor(value.getTime() / 1000);
  if (value instanceof Set) return [...value].map(wire);
  if (Array.isArray(value)) return value.map(wire);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = wire(v);
    return out;
  }
  return value;
}
