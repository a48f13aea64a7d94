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
  type DeaggregatedRecord,
  deaggregate,
  hashKeyOf,
  isKplAggregate,
  KPL_MAGIC,
} from './kpl.js';
