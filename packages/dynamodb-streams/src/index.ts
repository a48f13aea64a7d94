/** Re-exported from `@shardline/core`, where every source reads it. */
export { TrimmedDataPolicy } from '@shardline/core';
export { DynamoDBStreamsShardIterator } from './DynamoDBStreamsShardIterator.js';
export {
  DEFAULT_DYNAMODB_STREAMS_SOURCE,
  type DynamoDBStreamsSettings,
  DynamoDBStreamsSource,
  type DynamoDBStreamsSourceFromTableOptions,
  type DynamoDBStreamsSourceOptions,
} from './DynamoDBStreamsSource.js';
export {
  type DecodeDynamoDBEventOptions,
  type DynamoDBLambdaEvent,
  decodeDynamoDBEvent,
  LAMBDA_UNKNOWN_SHARD_ID,
} from './decodeDynamoDBEvent.js';
export { DYNAMODB_STREAMS_RETRIABLE_CODES } from './retriableCodes.js';
