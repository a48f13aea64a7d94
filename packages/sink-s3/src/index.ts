export {
  KEY_SEQUENCE_WIDTH,
  keyPosition,
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
  DEFAULT_FAILURE_PREFIX,
  S3FailureDestination,
  type S3FailureDestinationOptions,
} from './S3FailureDestination.js';
export { type ArchiveLine, stringifyArchiveValue, toArchiveLine } from './toArchiveLine.js';
