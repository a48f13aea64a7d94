export {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalClientConfig,
  localClientConfig,
} from './credentials.js';
export {
  assertJavaAvailable,
  type DynamoDBLocalServer,
  type StartDynamoDBLocalOptions,
  startDynamoDBLocal,
} from './dynamoDBLocal.js';
export {
  type MakeDynamoDBRecordOptions,
  type MakeKinesisRecordOptions,
  makeDynamoDBEvent,
  makeDynamoDBRecord,
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
export { freePort, waitForHttp } from './ports.js';
export { type S3rverServer, type StartS3rverOptions, startS3rver } from './s3rver.js';
