export {
  DEFAULT_TABLE_REPLICA_CONFIG,
  readTableReplicaConfig,
  type TableReplicaConfig,
} from './config.js';
export {
  bootstrapReplica,
  createReplicaWorker,
  type ReplicaBootstrapOptions,
  type ReplicaWorkerOptions,
  replicaBootstrapId,
} from './createReplicaWorker.js';
export {
  activeUserByCountry,
  createReplicaSinks,
  type ReplicaSinks,
  type ReplicaSinksOptions,
} from './sinks.js';
export {
  createReplicaTables,
  derivedTableDefinition,
  replicaTableDefinition,
  STATE_TTL_ATTRIBUTE,
  stateTableDefinition,
  usersTableDefinition,
} from './tables.js';
