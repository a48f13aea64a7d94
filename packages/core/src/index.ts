export type { AttributeValue } from './AttributeValue.js';
export {
  type AbortFlag,
  type AbortWatch,
  LazyAbort,
  SHARED_SIGNAL_MAX_LISTENERS,
  sharedAbortController,
  watchAbort,
} from './abortFlag.js';
export {
  APPLICATION_NAME_VARIABLE,
  DEPRECATED_APPLICATION_NAME_VARIABLE,
  readApplicationName,
} from './applicationName.js';
export {
  type AwsClientLike,
  type AwsClientTarget,
  type AwsResource,
  awsClientTarget,
  explainAwsSetupError,
  isRegionMissing,
  isResourceNotFound,
} from './awsSetupErrors.js';
export {
  BatchProcessor,
  type BatchProcessorOptions,
  type BatchResult,
  type HandlerContext,
  type KeyBatchHandler,
  type ProcessOptions,
  processBatch,
  type RecordHandler,
  staleChangesOf,
  toFailedRecord,
} from './BatchProcessor.js';
export { type BootstrapRecordOptions, bootstrapRecord } from './bootstrapRecord.js';
export { CallPacer } from './CallPacer.js';
export {
  BOOTSTRAP_EVENT_SOURCE,
  ChangeEventName,
  type ChangeRecord,
  type Item,
  type MarshalledItem,
  SourceKind,
  StreamViewType,
} from './ChangeRecord.js';
export {
  CheckpointTracker,
  type CheckpointTrackerOptions,
  type CommitCheckpoint,
  DEFAULT_COMMIT_EVERY_RECORDS,
  DEFAULT_COMMIT_INTERVAL_MS,
} from './CheckpointTracker.js';
export {
  BOOTSTRAP_VERSION,
  changeVersion,
  paddedPosition,
  SUB_SEQUENCE_WIDTH,
  VERSION_WIDTH,
} from './changeVersion.js';
export {
  CHECKPOINT_RESET_OWNER,
  ChangeEffect,
  type Checkpoint,
  type CheckpointResets,
  CheckpointSentinel,
  type CheckpointStore,
  type FailedRecord,
  type FailureDestination,
  type FleetState,
  type Lease,
  type LeaseStore,
  type LeaseToken,
  type ReplayableFailureDestination,
  type ShardInfo,
  type ShardIterator,
  type ShardReadResult,
  type ShardSource,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
  type SourceTelemetry,
  type StartPosition,
  type WorkerHeartbeat,
} from './contracts.js';
export { DEADLINE_EXACT_WITHIN_MS, DEADLINE_MAX_STRIDE, Deadline } from './Deadline.js';
export {
  DEFAULT_MAX_EVENT_IDS,
  DEFAULT_MAX_KEY_VERSIONS,
  Deduper,
  type DeduperOptions,
  type DedupRecord,
  type DuplicateReason,
  type StaleChanges,
} from './Deduper.js';
export {
  type DataTrimmedReport,
  DEFAULT_TRIMMED_DATA_POLICY,
  reportDataTrimmed,
  TrimmedDataPolicy,
  trimmedDataPolicyOf,
} from './dataTrimmed.js';
export {
  type DynamoDBDecodeContext,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
  decodeDynamoDBRecordSafely,
  isTimeToLiveIdentity,
  tableNameFromArn,
} from './decodeDynamoDBRecord.js';
export { describeCheckpoint } from './describeCheckpoint.js';
export {
  BlockedByEarlierFailureError,
  ConfigurationError,
  DataTrimmedError,
  DecodeError,
  errorMessage,
  isRetriable,
  LeaseLostError,
  type RecordLocation,
  RetriesExhaustedError,
  ShardlineError,
  type ShardlineErrorOptions,
  SinkFlushError,
  type SinkRecordFailure,
  SinkWriteError,
  toError,
  wholeNumberIn,
} from './errors.js';
export {
  EventBus,
  type ShardlineEventMap,
  type ShardlineEventName,
  type ShardlineListener,
} from './events.js';
export {
  DEFAULT_MAX_PENDING_RECORDS,
  FanOutSink,
  type FanOutSinkOptions,
} from './FanOutSink.js';
export { filterInputOf } from './filterInput.js';
export {
  compileFilterCriteria,
  compileFilterPattern,
  type FilterCriteriaInput,
  type FilterPattern,
  type FilterPredicate,
} from './filterPattern.js';
export {
  isReplicationBookkeeping,
  REPLICATION_ATTRIBUTE_PREFIX,
  REPLICATION_UPDATE_REGION,
  stripReplicationAttributes,
  withoutReplicationAttributes,
} from './globalTables.js';
export {
  type FailureDestinationMemory,
  InMemoryFailureDestination,
} from './InMemoryFailureDestination.js';
export { itemKey } from './itemKey.js';
export { itemJsonReplacer, itemToJson } from './itemToJson.js';
export {
  DEFAULT_DISPATCH_CONCURRENCY,
  groupByKey,
  type Keyed,
  KeyedDispatcher,
  type KeyedDispatcherOptions,
  type RunRecord,
} from './KeyedDispatcher.js';
export { consoleWarningLogger, type Logger, silentLogger } from './Logger.js';
export { InMemoryMetrics, type MetricLabels, type Metrics, noopMetrics } from './metrics.js';
export { OldestEntries } from './OldestEntries.js';
export { CANONICAL_KEY_CACHE_SIZE, canonicalKey } from './orderingKey.js';
export {
  type PolledPage,
  PollingShardIterator,
  type PollingShardIteratorOptions,
} from './PollingShardIterator.js';
export { isDone, OutcomeStatus, type RecordOutcome, SUCCEEDED } from './RecordOutcome.js';
export {
  FilterReason,
  flushOfSinks,
  type GlobalTablesOptions,
  type GlobalTablesVersion,
  type RecordSelectionOptions,
  RecordSelector,
  reportFiltered,
  type Selection,
  type TtlDeletes,
  ttlRouteOf,
} from './RecordSelector.js';
export {
  DEFAULT_RETRY,
  ExhaustedAction,
  RetryPolicy,
  type RetryPolicyOptions,
  sleep,
} from './RetryPolicy.js';
export {
  type IteratorReacquiredReport,
  MAX_REACQUIRES_PER_READ,
  reportIteratorReacquired,
} from './reportIteratorReacquired.js';
export {
  DEFAULT_SHARD_CONSUMER,
  ShardConsumer,
  type ShardConsumerOptions,
  type ShardConsumerResult,
} from './ShardConsumer.js';
export { ShardLag } from './ShardLag.js';
export { type IsShardFinished, readyShards, ShardGraph } from './ShardLineage.js';
export { ShardListing, type ShardListingOptions } from './ShardListing.js';
export {
  awsErrorCode,
  httpStatusOf,
  StreamReadError,
  toStreamReadError,
} from './StreamReadError.js';
export { StringWindow, sampledHash, stringHash } from './StringWindow.js';
export {
  comparePositions,
  compareSequenceNumbers,
  padSequenceNumber,
  type StreamPosition,
} from './sequenceNumbers.js';
export { streamViewTypeError } from './streamViewTypeError.js';
export { BATCH_SPAN_NAME, type BatchSpanSummary } from './tracedBatch.js';
export { type UndecodableRecordContext, undecodableRecord } from './undecodableRecord.js';
export { convertNumber, unmarshallImage } from './unmarshallImage.js';
