import {
  type ChangeRecord,
  DecodeError,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
  errorMessage,
  SourceKind,
  undecodableRecord,
} from '@shardline/core';
import { deaggregate, hashKeyOf, isKplAggregate } from './kpl.js';
import {
  type HashKeyRange,
  OutOfRangeRecordPolicy,
  type OutOfRangeReporting,
  reportOutOfRangeRecord,
} from './outOfRangeRecords.js';

/** How to read a Kinesis record's payload. */
export const KinesisPayloadFormat = {
  /** Opaque bytes, in `data`. */
  Raw: 'raw',
  /** UTF-8 JSON, parsed into `newImage` (bytes also kept in `data`). */
  Json: 'json',
  /** A "Kinesis Data Streams for DynamoDB" change record: decoded like a DynamoDB stream record. */
  DynamoDB: 'dynamodb',
} as const;
/** One of {@link KinesisPayloadFormat}. */
export type KinesisPayloadFormat = (typeof KinesisPayloadFormat)[keyof typeof KinesisPayloadFormat];

/** A Kinesis record in a source-neutral shape (see the SDK and Lambda adapters below). */
export interface KinesisRecordLike {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  /** Arrival time, epoch ms. */
  readonly approximateArrivalTimeMs: number | undefined;
  readonly explicitHashKey?: string | undefined;
}

/** Where the record was read and how to decode it. */
export interface KinesisDecodeContext extends OutOfRangeReporting {
  readonly streamId: string;
  readonly shardId: string;
  /** @default 'raw' */
  readonly payload?: KinesisPayloadFormat;
  /**
   * The shard's hash key range. A KPL user record that hashes outside it (its aggregate was put
   * with an outdated shard map) is reported (`record.outOfRange` event, metric, warning) and
   * delivered or skipped per `outOfRangeRecordPolicy`. Unknown: nothing is checked.
   */
  readonly hashKeyRange?: HashKeyRange | undefined;
  /**
   * What to do with a KPL user record outside `hashKeyRange` (see {@link OutOfRangeRecordPolicy}).
   * @default 'deliver': only the KPL puts such a record again to the right shard; another
   * aggregator's record is a change nobody else delivers
   */
  readonly outOfRangeRecordPolicy?: OutOfRangeRecordPolicy | undefined;
  /** Overrides the ordering key (default: partition key; for DynamoDB payloads, the item key). */
  readonly orderingKey?: (record: ChangeRecord) => string;
}

/**
 * Decodes one Kinesis record into one or more {@link ChangeRecord}s (more than one for a KPL
 * aggregate, with sub-sequence numbers 0…n−1). Never throws: a record that cannot be decoded
 * comes back carrying its `decodeError`, for the pipeline to park with the reason.
 */
export function decodeKinesisRecord(
  raw: KinesisRecordLike,
  context: KinesisDecodeContext,
  original: unknown = raw,
): ChangeRecord[] {
  const out: ChangeRecord[] = [];
  decodeKinesisRecordInto(raw, context, original, out);
  return out;
}

/** {@link decodeKinesisRecord}, appending to `out`: no array per record on a page's hot path. */
function decodeKinesisRecordInto(
  raw: KinesisRecordLike,
  context: KinesisDecodeContext,
  original: unknown,
  out: ChangeRecord[],
): void {
  if (!isKplAggregate(raw.data)) {
    out.push(decodeUserRecord(raw, raw.data, raw.partitionKey, undefined, context, original));
    return;
  }
  let users: ReturnType<typeof deaggregate>;
  try {
    users = deaggregate(raw.data, raw.partitionKey, raw.sequenceNumber);
  } catch (error) {
    out.push(
      failed(raw, undefined, context, original, `corrupt KPL aggregate (${errorMessage(error)})`),
    );
    return;
  }
  const range = context.hashKeyRange;
  const low = range ? BigInt(range.startingHashKey) : undefined;
  const high = range ? BigInt(range.endingHashKey) : undefined;
  const skip = context.outOfRangeRecordPolicy === OutOfRangeRecordPolicy.Skip;
  for (const user of users) {
    if (low !== undefined && high !== undefined) {
      const hash = hashKeyOf(user.partitionKey, user.explicitHashKey);
      if (hash < low || hash > high) {
        reportOutOfRangeRecord(
          context,
          {
            streamId: context.streamId,
            shardId: context.shardId,
            sequenceNumber: raw.sequenceNumber,
            subSequenceNumber: user.subSequenceNumber,
            partitionKey: user.partitionKey,
            explicitHashKey: user.explicitHashKey,
            hashKey: hash,
          },
          skip ? OutOfRangeRecordPolicy.Skip : OutOfRangeRecordPolicy.Deliver,
        );
        if (skip) continue;
      }
    }
    out.push(
      decodeUserRecord(
        raw,
        user.data,
        user.partitionKey,
        user.subSequenceNumber,
        context,
        original,
      ),
    );
  }
}

function decodeUserRecord(
  raw: KinesisRecordLike,
  data: Uint8Array,
  partitionKey: string,
  subSequenceNumber: number | undefined,
  context: KinesisDecodeContext,
  original: unknown,
): ChangeRecord {
  const format = context.payload ?? KinesisPayloadFormat.Raw;
  if (format === KinesisPayloadFormat.DynamoDB) {
    let parsed: DynamoDBStreamRecordLike;
    try {
      parsed = JSON.parse(Buffer.from(data).toString('utf8')) as DynamoDBStreamRecordLike;
    } catch (error) {
      return failed(
        raw,
        subSequenceNumber,
        context,
        original,
        `payload is not JSON (${errorMessage(error)})`,
        partitionKey,
      );
    }
    try {
      const creation = parsed?.dynamodb?.ApproximateCreationDateTime;
      return decodeDynamoDBRecord(parsed, {
        streamId: context.streamId,
        shardId: context.shardId,
        source: SourceKind.KinesisDynamoDB,
        sequenceNumber: raw.sequenceNumber,
        ...(subSequenceNumber === undefined ? {} : { subSequenceNumber }),
        creationTimeUnit: creationUnit(creation),
        // These records may repeat and arrive out of order: order them by creation time.
        versionFromCreationTime: true,
        ...(context.orderingKey ? { orderingKey: context.orderingKey } : {}),
        // Parked as the whole Kinesis record, so a replay decodes it as it came.
        raw: original,
      });
    } catch (error) {
      return failed(raw, subSequenceNumber, context, original, errorMessage(error), partitionKey);
    }
  }
  let json: Record<string, unknown> | undefined;
  if (format === KinesisPayloadFormat.Json) {
    try {
      json = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      return failed(
        raw,
        subSequenceNumber,
        context,
        original,
        `payload is not JSON (${errorMessage(error)})`,
        partitionKey,
      );
    }
  }
  const sub = subSequenceNumber === undefined ? '' : `:${subSequenceNumber}`;
  const record: ChangeRecord = {
    source: SourceKind.Kinesis,
    streamId: context.streamId,
    shardId: context.shardId,
    sequenceNumber: raw.sequenceNumber,
    subSequenceNumber,
    orderingKey: partitionKey,
    eventId: `${context.shardId}:${raw.sequenceNumber}${sub}`,
    eventName: 'RECORD',
    tableName: undefined,
    keys: undefined,
    newImage: json,
    oldImage: undefined,
    marshalledKeys: undefined,
    streamViewType: undefined,
    partitionKey,
    data,
    approximateCreationTimeMs: raw.approximateArrivalTimeMs,
    version: undefined,
    sizeBytes: data.byteLength,
    isTtlDelete: false,
    // Lambda Kinesis records carry the Region; GetRecords records do not.
    region: (original as { awsRegion?: string } | null)?.awsRegion,
    raw: original,
  };
  if (!context.orderingKey) return record;
  return { ...record, orderingKey: context.orderingKey(record) };
}

function failed(
  raw: KinesisRecordLike,
  subSequenceNumber: number | undefined,
  context: KinesisDecodeContext,
  original: unknown,
  reason: string,
  partitionKey = raw.partitionKey,
): ChangeRecord {
  const location = {
    streamId: context.streamId,
    shardId: context.shardId,
    sequenceNumber: raw.sequenceNumber,
  };
  return undecodableRecord(
    original,
    {
      source:
        context.payload === KinesisPayloadFormat.DynamoDB
          ? SourceKind.KinesisDynamoDB
          : SourceKind.Kinesis,
      streamId: context.streamId,
      shardId: context.shardId,
      sequenceNumber: raw.sequenceNumber,
      subSequenceNumber,
      orderingKey: partitionKey,
      partitionKey,
      approximateCreationTimeMs: raw.approximateArrivalTimeMs,
    },
    new DecodeError(reason, location),
  );
}

/**
 * The unit of a numeric ApproximateCreationDateTime, by magnitude: Kinesis Data Streams for
 * DynamoDB sends milliseconds, or microseconds when the destination's precision is MICROSECOND.
 */
function creationUnit(value: unknown): 's' | 'ms' | 'us' {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) return 'ms';
  if (n > 1e14) return 'us';
  if (n > 1e11) return 'ms';
  return 's';
}

/** A record as the SDK v3 `GetRecords` returns it. */
export interface KinesisSdkRecord {
  SequenceNumber?: string | undefined;
  PartitionKey?: string | undefined;
  Data?: Uint8Array | undefined;
  ApproximateArrivalTimestamp?: Date | undefined;
  EncryptionType?: string | undefined;
}

/** Decodes a record returned by the SDK v3 Kinesis `GetRecords`. */
export function decodeKinesisSdkRecord(
  record: KinesisSdkRecord,
  context: KinesisDecodeContext,
): ChangeRecord[] {
  const out: ChangeRecord[] = [];
  decodeKinesisSdkRecordInto(record, context, out);
  return out;
}

/**
 * {@link decodeKinesisSdkRecord}, appending to `out` (a GetRecords page decodes thousands of
 * records: no array per record).
 */
export function decodeKinesisSdkRecordInto(
  record: KinesisSdkRecord,
  context: KinesisDecodeContext,
  out: ChangeRecord[],
): void {
  decodeKinesisRecordInto(
    {
      sequenceNumber: record.SequenceNumber ?? '0',
      partitionKey: record.PartitionKey ?? '',
      data: record.Data ?? new Uint8Array(),
      approximateArrivalTimeMs: record.ApproximateArrivalTimestamp?.getTime(),
    },
    context,
    new SdkRecordView(record),
    out,
  );
}

/**
 * A GetRecords record as a record's `raw`: JSON-serializable (for failure destinations: the
 * arrival time as ISO text, `Data` as base64, as the Kinesis API writes them), and lazy: the
 * base64 of the payload is computed only when `raw` is read or serialized, never on the hot path.
 * A class, not an object literal with getters: the literal allocated two closures per record.
 */
class SdkRecordView {
  readonly SequenceNumber: string | undefined;
  readonly PartitionKey: string | undefined;
  readonly #record: KinesisSdkRecord;

  constructor(record: KinesisSdkRecord) {
    this.SequenceNumber = record.SequenceNumber;
    this.PartitionKey = record.PartitionKey;
    this.#record = record;
  }

  get ApproximateArrivalTimestamp(): string | undefined {
    return this.#record.ApproximateArrivalTimestamp?.toISOString();
  }

  get Data(): string | undefined {
    const data = this.#record.Data;
    return data ? Buffer.from(data).toString('base64') : undefined;
  }

  toJSON(): Record<string, string | undefined> {
    return {
      SequenceNumber: this.SequenceNumber,
      PartitionKey: this.PartitionKey,
      ApproximateArrivalTimestamp: this.ApproximateArrivalTimestamp,
      Data: this.Data,
    };
  }
}

/** A record of a Lambda Kinesis event (`data` base64, arrival time in epoch seconds). */
export interface KinesisLambdaRecord {
  kinesis: {
    sequenceNumber: string;
    partitionKey: string;
    data: string;
    approximateArrivalTimestamp?: number;
    kinesisSchemaVersion?: string;
  };
  eventID?: string;
  eventSourceARN?: string;
}

/**
 * Decodes a record of a Lambda Kinesis event. The shard id comes from `eventID`
 * (`shardId-…:sequence`), the stream from `eventSourceARN`, unless the context overrides them.
 */
export function decodeKinesisLambdaRecord(
  record: KinesisLambdaRecord,
  context: Omit<KinesisDecodeContext, 'streamId' | 'shardId'> & {
    streamId?: string;
    shardId?: string;
  } = {},
): ChangeRecord[] {
  const shardId = context.shardId ?? record.eventID?.split(':')[0] ?? 'unknown';
  const streamId = context.streamId ?? record.eventSourceARN ?? 'unknown';
  const arrival = record.kinesis.approximateArrivalTimestamp;
  return decodeKinesisRecord(
    {
      sequenceNumber: record.kinesis.sequenceNumber,
      partitionKey: record.kinesis.partitionKey,
      data: Buffer.from(record.kinesis.data ?? '', 'base64'),
      approximateArrivalTimeMs: arrival === undefined ? undefined : Math.round(arrival * 1000),
    },
    { ...context, streamId, shardId },
    record,
  );
}
