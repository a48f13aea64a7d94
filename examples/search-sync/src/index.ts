export {
  type BackfillOptions,
  type BackfillProgress,
  backfillIndex,
  backfillVersion,
  DEFAULT_BACKFILL,
} from './backfill.js';
export { backfillMarkerIndex, isBackfillDone, markBackfillDone } from './backfillMarker.js';
export {
  BackfillMode,
  DEFAULT_SEARCH_SYNC_CONFIG,
  readSearchSyncConfig,
  type SearchSyncConfig,
} from './config.js';
export {
  type SearchSync,
  type SearchSyncOptions,
  startSearchSync,
} from './createSearchSyncWorker.js';
export { createUserSearchSink, type UserSearchSinkOptions, userDocument } from './searchSink.js';
export { createUsersTable, usersTableDefinition } from './tables.js';
