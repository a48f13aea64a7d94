export {
  type ClaimCheckPointer,
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  PAYLOAD_POINTER_CLASS,
  parseClaimCheckPointer,
  S3ClaimCheck,
  type S3ClaimCheckOptions,
} from '@shardline/sink-s3';
export {
  SNS_MAX_BATCH_ENTRIES,
  SNS_MAX_FIFO_ID_LENGTH,
  SNS_MAX_MESSAGE_ATTRIBUTES,
  SNS_MAX_PAYLOAD_BYTES,
} from './constants.js';
export { PayloadTooLargeError, SnsPublishError } from './errors.js';
export { defaultDeduplicationId, defaultMessageGroupId, toFifoId } from './fifoIds.js';
export { attributesByteSize, defaultMessageAttributes } from './messageAttributes.js';
export {
  entryByteSize,
  type PublishBatchedResult,
  type PublishEntry,
  type PublishOutcome,
  publishBatched,
} from './publishBatched.js';
export {
  SnsFailureDestination,
  type SnsFailureDestinationOptions,
} from './SnsFailureDestination.js';
export { defaultMessage, OversizePolicy, SnsSink, type SnsSinkOptions } from './SnsSink.js';
