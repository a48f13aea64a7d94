import {
  type ChangeRecord,
  type DynamoDBDecodeContext,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecordSafely,
} from '@shardline/core';
import type { DynamoDBRecord } from 'aws-lambda';
import { LambdaEventSource, UNKNOWN_SHARD_ID } from './constants.js';
import type { EventDecoder } from './EventDecoder.js';
import type { StreamEvent } from './types.js';

/** Options of {@link dynamoDBEventDecoder}. */
export interface DynamoDBEventDecoderOptions {
  /** Overrides the ordering key (default: the item's canonical primary key). */
  readonly orderingKey?: ((record: ChangeRecord) => string) | undefined;
}

/**
 * The decoder of Lambda DynamoDB Streams records (`eventSource: aws:dynamodb`): validates the
 * envelope eagerly, unmarshalls images lazily (a handler that reads no image pays nothing for
 * it), and reads `ApproximateCreationDateTime` as epoch seconds, as Lambda sends it.
 */
export function dynamoDBEventDecoder(options: DynamoDBEventDecoderOptions = {}): EventDecoder {
  const orderingKey = options.orderingKey;
  // One context per stream and shard, reused across records: no allocation per record, and the
  // records share their streamId and shardId strings (cheap equality checks downstream).
  let context: DynamoDBDecodeContext | undefined;
  return {
    eventSource: LambdaEventSource.DynamoDB,
    decode(record: unknown, event: StreamEvent, out: ChangeRecord[]): void {
      const raw = record as DynamoDBRecord;
      const streamId = raw?.eventSourceARN ?? event.eventSourceARN ?? 'unknown';
      // Lambda DynamoDB records carry no shard id; tumbling-window events do.
      const shardId = event.shardId ?? UNKNOWN_SHARD_ID;
      if (context?.streamId !== streamId || context.shardId !== shardId) {
        context = {
          streamId,
          shardId,
          creationTimeUnit: 's',
          ...(orderingKey ? { orderingKey } : {}),
        };
      }
      out.push(decodeDynamoDBRecordSafely(raw as DynamoDBStreamRecordLike, context));
    },
    itemIdentifier(record: unknown): string {
      return (record as DynamoDBRecord)?.dynamodb?.SequenceNumber ?? '';
    },
  };
}
