export {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RECEIVE_WAIT_SECONDS,
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  FAILED_RECORD_TYPE,
  PAYLOAD_POINTER_CLASS,
  SQS_MAX_BATCH_ENTRIES,
} from './constants.js';
export { OversizeFailedRecordError } from './errors.js';
export {
  decodeFailedRecord,
  encodeFailedRecord,
  unwrapFailedRecordBody,
} from './failedRecordMessage.js';
export {
  DEFAULT_PAYLOAD_PREFIX,
  type PayloadPointer,
  parsePayloadPointer,
  S3PayloadStore,
  type S3PayloadStoreOptions,
} from './S3PayloadStore.js';
export {
  type ReceivedFailedRecord,
  SqsFailureDestination,
  type SqsFailureDestinationOptions,
} from './SqsFailureDestination.js';
