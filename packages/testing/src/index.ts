export {
  assertJavaAvailable,
  DEFAULT_EVENT_SOURCE_MAPPING,
  type DynamoDBLocalServer,
  type EventSourceMapping,
  type EventSourceMappingOptions,
  type EventSourceMappingSource,
  type EventSourceMappingStats,
  type FunctionLogs,
  freePort,
  type InvocationOutcome,
  type InvocationReport,
  type LambdaStreamEvent,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalClientConfig,
  localAwsEnvironment,
  localClientConfig,
  type MappedStreamRecord,
  type OnFailureBatchInfo,
  type OnFailureCondition,
  type OnFailureRecord,
  orderingKeyHash,
  type ReshardHook,
  type StartDynamoDBLocalOptions,
  startDynamoDBLocal,
  startEventSourceMapping,
  toLambdaDynamoDBRecord,
  toLambdaKinesisRecord,
  waitForHttp,
} from '@shardline/local';
export type { MessageAttributeValue } from './awsQuery.js';
export {
  type MakeDynamoDBRecordOptions,
  type MakeKinesisDynamoDBRecordOptions,
  type MakeKinesisRecordOptions,
  makeDynamoDBEvent,
  makeDynamoDBRecord,
  makeKinesisDynamoDBRecord,
  makeKinesisEvent,
  makeKinesisRecord,
  nextSequenceNumber,
  streamArnFor,
} from './factories.js';
export {
  type Fault,
  type FaultProxy,
  type FaultProxyService,
  type FaultRule,
  type StartFaultProxyOptions,
  startFaultProxy,
} from './faultProxy.js';
export {
  type JsonProtocolAnswer,
  type JsonProtocolCall,
  type JsonProtocolDouble,
  startJsonProtocolDouble,
} from './jsonProtocolDouble.js';
export {
  type KinesaliteServer,
  type StartKinesaliteOptions,
  startKinesalite,
} from './kinesalite.js';
export { startKinesaliteProcess } from './kinesaliteProcess.js';
export {
  type FanOutConsumer,
  type FanOutSubscribeCall,
  type KinesisFanOutDouble,
  type KinesisFanOutDoubleOptions,
  startKinesisFanOutDouble,
} from './kinesisFanOutDouble.js';
export {
  deliverLikeLambda,
  LAMBDA_UNKNOWN_SHARD_ID,
  type LambdaDeliveryOptions,
  type LambdaDeliveryReport,
  type LambdaInvoke,
  type LambdaShard,
  readLambdaShards,
} from './lambdaDelivery.js';
export {
  type MultiShardStreamsOptions,
  type MultiShardStreamsServer,
  type StreamsShardInfo,
  startMultiShardStreamsServer,
} from './multiShardStreams.js';
export {
  DEFAULT_GC_DELETES_MS,
  OPENSEARCH_MAX_VERSION,
  type OpenSearchDouble,
  type OpenSearchDoubleOptions,
  type OpenSearchFailureInjection,
  type StoredDocument,
  startOpenSearchDouble,
} from './opensearchDouble.js';
export { type S3rverServer, type StartS3rverOptions, startS3rver } from './s3rver.js';
export { seededRandom } from './seededRandom.js';
export {
  SNS_DEDUPLICATION_WINDOW_MS,
  SNS_MAX_BATCH_ENTRIES,
  SNS_MAX_PAYLOAD_BYTES,
  type SnsDeliveredMessage,
  type SnsDouble,
  type SnsFailureInjection,
  startSnsDouble,
} from './snsDouble.js';
export {
  SQS_DEFAULT_MAX_MESSAGE_BYTES,
  SQS_MAX_BATCH_ENTRIES,
  type SqsDouble,
  type SqsDoubleOptions,
  type SqsStoredMessage,
  startSqsDouble,
} from './sqsDouble.js';
export {
  recordTableHistory,
  type TableHistory,
  type TableHistoryOptions,
} from './tableHistory.js';
