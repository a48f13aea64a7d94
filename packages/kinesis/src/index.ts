export {
  decodeKinesisLambdaRecord,
  decodeKinesisRecord,
  decodeKinesisSdkRecord,
  type KinesisDecodeContext,
  type KinesisLambdaRecord,
  KinesisPayloadFormat,
  type KinesisRecordLike,
  type KinesisSdkRecord,
} from './decodeKinesisRecord.js';
export {
  createFanOutContext,
  ensureConsumer,
  FAN_OUT_RETRIABLE_CODES,
  type FanOutContext,
  type FanOutContextOptions,
  KinesisRetrieval,
  MIN_SUBSCRIBE_INTERVAL_MS,
} from './fanOut.js';
export { KinesisFanOutShardIterator } from './KinesisFanOutShardIterator.js';
export { KinesisShardIterator } from './KinesisShardIterator.js';
export {
  DEFAULT_KINESIS_SOURCE,
  type KinesisSettings,
  KinesisSource,
  type KinesisSourceCreateOptions,
  type KinesisSourceOptions,
} from './KinesisSource.js';
export {
  type DeaggregatedRecord,
  deaggregate,
  hashKeyOf,
  isKplAggregate,
  KPL_MAGIC,
} from './kpl.js';
export {
  DEFAULT_OUT_OF_RANGE_RECORD_POLICY,
  type HashKeyRange,
  type OutOfRangeRecord,
  OutOfRangeRecordPolicy,
  type OutOfRangeReporting,
  outOfRangeRecordPolicyOf,
  reportOutOfRangeRecord,
} from './outOfRangeRecords.js';
export { KINESIS_RETRIABLE_CODES } from './retriableCodes.js';
export { type ShardHashKeyRangeLookup, shardHashKeyRanges } from './shardHashKeyRanges.js';
