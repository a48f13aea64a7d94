export {
  type CoalescedUpdate,
  type Contribution,
  coalesceContributions,
  type WatermarkRange,
} from './coalesceContributions.js';
export { type CountByOptions, countBy, DEFAULT_COUNTER_ATTRIBUTE } from './countBy.js';
export {
  DEFAULT_LEDGER_CONCURRENCY,
  DEFAULT_LEDGER_ROUNDS,
  DEFAULT_TOMBSTONE_TTL_SECONDS,
  DynamoDBLedgerSummarySink,
  type DynamoDBLedgerSummarySinkOptions,
  type LedgerSummaryClient,
} from './DynamoDBLedgerSummarySink.js';
export {
  DEFAULT_PROJECTION_CONCURRENCY,
  DEFAULT_PROJECTION_CONFLICT_RETRY,
  DEFAULT_PROJECTION_TOMBSTONE_TTL_SECONDS,
  DEFAULT_VERSION_ATTRIBUTE,
  DynamoDBProjectionSink,
  type DynamoDBProjectionSinkOptions,
  MAX_TRANSACTION_ACTIONS,
  type ProjectionClient,
} from './DynamoDBProjectionSink.js';
export {
  DEFAULT_MAX_CONDITION_ROUNDS,
  DEFAULT_SUMMARY_CONCURRENCY,
  DEFAULT_WATERMARK_PREFIX,
  DEFAULT_WATERMARK_TTL_MS,
  DynamoDBSummarySink,
  type DynamoDBSummarySinkOptions,
  type SummaryClient,
} from './DynamoDBSummarySink.js';
export { isRetriableWriteError } from './isRetriableWriteError.js';
export {
  type ItemPlan,
  type PlanSettings,
  planSummaryUpdates,
  type SummaryPlan,
} from './planSummaryUpdates.js';
export type {
  FilterFunction,
  ProjectedItem,
  ProjectFunction,
  ProjectionChange,
  ProjectionTransactionFunction,
  TransformFunction,
} from './projectionTypes.js';
export type {
  ContributionFunction,
  DeltaFunction,
  SummaryDelta,
  SummaryKey,
  SummaryKeyValue,
  SummaryMapping,
} from './types.js';
export {
  recordPosition,
  SEQUENCE_WIDTH,
  SUB_SEQUENCE_WIDTH,
  watermarkAttribute,
  watermarkPosition,
  watermarkTime,
  watermarkValue,
} from './watermark.js';
