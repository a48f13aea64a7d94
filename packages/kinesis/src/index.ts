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
export { KINESIS_RETRIABLE_CODES } from './retriableCodes.js';
