import {
  type ChangeRecord,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecordSafely,
} from '@shardline/core';

/**
 * The shard id given to records of a Lambda DynamoDB event that does not name its shard. Lambda
 * delivers one shard per invocation but says which only in tumbling-window events (`shardId`);
 * dedup is unaffected (it keys on `eventID`), and ordering keys are item keys.
 */
export const LAMBDA_UNKNOWN_SHARD_ID = 'shardId-lambda-unknown';

/** The part of a Lambda DynamoDB Streams event that is decoded. */
export interface DynamoDBLambdaEvent {
  readonly Records: readonly (DynamoDBStreamRecordLike & { eventSourceARN?: string })[];
  /** Present in tumbling-window invocations. */
  readonly shardId?: string;
  readonly eventSourceARN?: string;
}

/** Options of {@link decodeDynamoDBEvent}. */
export interface DecodeDynamoDBEventOptions {
  /** Overrides the shard id (else the event's `shardId`, else {@link LAMBDA_UNKNOWN_SHARD_ID}). */
  readonly shardId?: string;
  /** Overrides the ordering key (default: the canonical primary key). */
  readonly orderingKey?: (record: ChangeRecord) => string;
}

/**
 * Turns a Lambda DynamoDB Streams event into the same {@link ChangeRecord}s the stream reader
 * produces, so one handler serves both runtimes. Stream id = each record's `eventSourceARN`;
 * creation times are epoch seconds, as Lambda sends them. Never throws: a malformed record comes
 * back carrying its `decodeError`, for the pipeline to park.
 *
 * @example
 * export const handler = async (event: DynamoDBStreamEvent) => {
 *   for (const change of decodeDynamoDBEvent(event)) console.log(change.eventName, change.keys);
 * };
 */
export function decodeDynamoDBEvent(
  event: DynamoDBLambdaEvent,
  options: DecodeDynamoDBEventOptions = {},
): ChangeRecord[] {
  const shardId = options.shardId ?? event.shardId ?? LAMBDA_UNKNOWN_SHARD_ID;
  return (event.Records ?? []).map((record) =>
    decodeDynamoDBRecordSafely(record, {
      streamId: record.eventSourceARN ?? event.eventSourceARN ?? 'unknown',
      shardId,
      creationTimeUnit: 's',
      ...(options.orderingKey ? { orderingKey: options.orderingKey } : {}),
    }),
  );
}
