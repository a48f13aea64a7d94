import {
  type ChangeRecord,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
} from '@shardline/core';
import { type MakeDynamoDBRecordOptions, makeDynamoDBRecord } from '@shardline/testing';

/** A decoded DynamoDB Streams change of table `Orders`, as the pipeline hands it to a sink. */
export function change(options: MakeDynamoDBRecordOptions): ChangeRecord {
  const raw = makeDynamoDBRecord({
    streamArn:
      'arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-11-23T00:00:00.000',
    ...options,
  });
  return decodeDynamoDBRecord(raw as DynamoDBStreamRecordLike, {
    streamId: raw.eventSourceARN!,
    shardId: 'shardId-00000001573689847184-864758bb',
  });
}
