export { DynamoDBStreamsShardIterator } from './DynamoDBStreamsShardIterator.js';
export {
  DEFAULT_DYNAMODB_STREAMS_SOURCE,
  type DynamoDBStreamsSettings,
  DynamoDBStreamsSource,
  type DynamoDBStreamsSourceFromTableOptions,
  type DynamoDBStreamsSourceOptions,
  TrimmedDataPolicy,
} from './DynamoDBStreamsSource.js';
export {
  type DecodeDynamoDBEventOptions,
  type DynamoDBLambdaEvent,
  decodeDynamoDBEvent,
  LAMBDA_UNKNOWN_SHARD_ID,
} from './decodeDynamoDBEvent.js';
export { DYNAMODB_STREAMS_RETRIABLE_CODES } from './retriableCodes.js';
