export {
  DEFAULT_VOTE_AGGREGATION_CONFIG,
  readVoteAggregationConfig,
  type VoteAggregationConfig,
} from './config.js';
export {
  createVoteAggregationWorker,
  type VoteAggregationWorkerOptions,
} from './createVoteAggregationWorker.js';
export {
  createVoteTables,
  DEFAULT_VOTE_TABLE_NAMES,
  ledgerTableFor,
  type VoteTableNames,
  voteLedgerTableDefinition,
  voteSummaryTableDefinition,
  votesTableDefinition,
} from './tables.js';
export { countVotesByScan, readSummary, sameTally, type Tally } from './tally.js';
export { createVoteSummarySink, type VoteSummarySinkOptions } from './voteSummarySink.js';
