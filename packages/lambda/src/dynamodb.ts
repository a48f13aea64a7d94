/**
 * `@shardline/lambda/dynamodb`: the DynamoDB Streams handler alone, without the Kinesis and KPL
 * decoding code, for the smallest bundle and cold start.
 */
export { DEFAULT_TIMEOUT_MARGIN, LambdaEventSource, UNKNOWN_SHARD_ID } from './constants.js';
export { createDynamoDBHandler, type DynamoDBHandlerOptions } from './createDynamoDBHandler.js';
export { type DynamoDBEventDecoderOptions, dynamoDBEventDecoder } from './dynamoDBEventDecoder.js';
export type { EventDecoder } from './EventDecoder.js';
export { LambdaStreamProcessor } from './LambdaStreamProcessor.js';
export { resolveBatchItemFailures } from './resolveBatchItemFailures.js';
export { type TimeBudget, timeBudget } from './timeBudget.js';
export type {
  BatchItemFailure,
  LambdaHandlerOptions,
  LambdaTimeContext,
  StreamBatchResponse,
  StreamEvent,
  StreamHandler,
  TumblingWindow,
  TumblingWindowEventFields,
  WindowHandler,
  WindowState,
} from './types.js';
