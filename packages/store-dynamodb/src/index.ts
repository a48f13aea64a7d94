export {
  type BootstrapKind,
  type BootstrapPartProgress,
  type BootstrapProgressUpdate,
  type BootstrapRun,
  DynamoDBBootstrapStore,
  type DynamoDBBootstrapStoreOptions,
  partIdsOf,
} from './DynamoDBBootstrapStore.js';
export {
  type CreateLeaseTableOptions,
  DynamoDBLeaseStore,
  type DynamoDBLeaseStoreOptions,
} from './DynamoDBLeaseStore.js';
export {
  BOOTSTRAP_ENTITY_TYPE,
  BOOTSTRAP_KEY_PREFIX,
  FLEET_ITEM_KEY,
  LEASE_OWNER_INDEX,
  LeaseAttribute,
} from './leaseSchema.js';
export {
  kclStreamIdentifier,
  streamForIdentifier,
  streamsAdapterStreamIdentifier,
} from './streamIdentifiers.js';
