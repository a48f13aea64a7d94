export {
  type ClaimCheckPointer,
  parseClaimCheckPointer,
  S3ClaimCheck,
  type S3ClaimCheckOptions,
} from '@shardline/sink-s3';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RECEIVE_WAIT_SECONDS,
  FAILED_RECORD_TYPE,
  SQS_MAX_BATCH_ENTRIES,
} from './constants.js';
export { OversizeFailedRecordError } from './errors.js';
export {
  decodeFailedRecord,
  encodeFailedRecord,
  unwrapFailedRecordBody,
} from './failedRecordMessage.js';
export {
  type ReceivedFailedRecord,
  SqsFailureDestination,
  type SqsFailureDestinationOptions,
} from './SqsFailureDestination.js';
