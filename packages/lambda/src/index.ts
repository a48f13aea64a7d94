export { DEFAULT_TIMEOUT_MARGIN, LambdaEventSource, UNKNOWN_SHARD_ID } from './constants.js';
export { createDynamoDBHandler, type DynamoDBHandlerOptions } from './createDynamoDBHandler.js';
export { createKinesisHandler, type KinesisHandlerOptions } from './createKinesisHandler.js';
export { createLambdaHandler, type LambdaStreamHandlerOptions } from './createLambdaHandler.js';
export { type DecodeFailedRecordOptions, decodeFailedRecord } from './decodeFailedRecord.js';
export { type DynamoDBEventDecoderOptions, dynamoDBEventDecoder } from './dynamoDBEventDecoder.js';
export type { EventDecoder } from './EventDecoder.js';
export { type KinesisEventDecoderOptions, kinesisEventDecoder } from './kinesisEventDecoder.js';
export { LambdaStreamProcessor } from './LambdaStreamProcessor.js';
export {
  DEFAULT_REPLAY_MAX_BUFFERED_RECORDS,
  DEFAULT_REPLAY_MAX_RECORDS,
  type ReplayFailuresOptions,
  type ReplayResult,
  replayFailures,
} from './replayFailures.js';
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
