/**
 * `@shardline/lambda/kinesis`: the Kinesis handler alone (plain records, KPL aggregates,
 * "Kinesis Data Streams for DynamoDB").
 */
export { DEFAULT_TIMEOUT_MARGIN, LambdaEventSource } from './constants.js';
export { createKinesisHandler, type KinesisHandlerOptions } from './createKinesisHandler.js';
export type { EventDecoder } from './EventDecoder.js';
export { type KinesisEventDecoderOptions, kinesisEventDecoder } from './kinesisEventDecoder.js';
export { LambdaStreamProcessor } from './LambdaStreamProcessor.js';
export { resolveBatchItemFailures } from './resolveBatchItemFailures.js';
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
