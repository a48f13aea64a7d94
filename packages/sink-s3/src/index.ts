export {
  KEY_SEQUENCE_WIDTH,
  keyPosition,
  minutePrefix,
  objectKey,
  parseObjectRange,
  partitionPath,
  shardFolder,
} from './objectKeys.js';
export {
  DEFAULT_MAX_OBJECT_BYTES,
  DEFAULT_MAX_RECORDS_PER_OBJECT,
  DEFAULT_PART_SIZE,
  S3ArchiveSink,
  type S3ArchiveSinkOptions,
} from './S3ArchiveSink.js';
export {
  type ClaimCheckPointer,
  DEFAULT_CLAIM_CHECK_PREFIX,
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  PAYLOAD_POINTER_CLASS,
  parseClaimCheckPointer,
  S3ClaimCheck,
  type S3ClaimCheckOptions,
} from './S3ClaimCheck.js';
export {
  DEFAULT_FAILURE_PREFIX,
  S3FailureDestination,
  type S3FailureDestinationOptions,
} from './S3FailureDestination.js';
export { type ArchiveLine, stringifyArchiveValue, toArchiveLine } from './toArchiveLine.js';
