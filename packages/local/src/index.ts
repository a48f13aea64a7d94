export {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalClientConfig,
  localAwsEnvironment,
  localClientConfig,
} from './credentials.js';
export {
  assertJavaAvailable,
  type DynamoDBLocalServer,
  type StartDynamoDBLocalOptions,
  startDynamoDBLocal,
} from './dynamoDBLocal.js';
export {
  DEFAULT_EVENT_SOURCE_MAPPING,
  type EventSourceMapping,
  type EventSourceMappingOptions,
  type EventSourceMappingSource,
  type EventSourceMappingStats,
  type FunctionLogs,
  type InvocationOutcome,
  type InvocationReport,
  type LambdaStreamEvent,
  type OnFailureBatchInfo,
  type OnFailureCondition,
  type OnFailureRecord,
  type ReshardHook,
  startEventSourceMapping,
} from './eventSourceMapping.js';
export {
  type MappedStreamRecord,
  orderingKeyHash,
  toLambdaDynamoDBRecord,
  toLambdaKinesisRecord,
} from './lambdaStreamEvents.js';
export { freePort, waitForHttp } from './ports.js';
