export {
  type CreateLeaseTableOptions,
  DynamoDBLeaseStore,
  type DynamoDBLeaseStoreOptions,
} from './DynamoDBLeaseStore.js';
export { FLEET_ITEM_KEY, LEASE_OWNER_INDEX, LeaseAttribute } from './leaseSchema.js';
export {
  kclStreamIdentifier,
  streamForIdentifier,
  streamsAdapterStreamIdentifier,
} from './streamIdentifiers.js';
