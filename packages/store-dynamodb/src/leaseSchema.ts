/**
 * The lease table's attribute names: those of the Amazon Kinesis Client Library
 * (`DynamoDBLeaseSerializer`, `DynamoDBMultiStreamLeaseSerializer`), so a KCL application's
 * table — and its checkpoints — can be read as they are.
 */
export const LeaseAttribute = {
  /** Hash key: the shard id, or `<streamIdentifier>:<shardId>` for multi-stream tables. */
  LeaseKey: 'leaseKey',
  LeaseOwner: 'leaseOwner',
  LeaseCounter: 'leaseCounter',
  Checkpoint: 'checkpoint',
  CheckpointSubSequenceNumber: 'checkpointSubSequenceNumber',
  OwnerSwitchesSinceCheckpoint: 'ownerSwitchesSinceCheckpoint',
  /** A string set, named in the singular as the KCL does. */
  ParentShardId: 'parentShardId',
  ChildShardIds: 'childShardIds',
  StartingHashKey: 'startingHashKey',
  EndingHashKey: 'endingHashKey',
  /** KCL 3's graceful-handoff attribute: the previous owner that still has to checkpoint. */
  CheckpointOwner: 'checkpointOwner',
  /** The KCL's two-phase checkpoint (prepared, not yet committed); a commit removes it. */
  PendingCheckpoint: 'pendingCheckpoint',
  PendingCheckpointSubSequenceNumber: 'pendingCheckpointSubSequenceNumber',
  PendingCheckpointState: 'pendingCheckpointState',
  /** Multi-stream tables: the stream identifier part of the key. */
  StreamName: 'streamName',
  /** Multi-stream tables: the shard id part of the key. */
  ShardId: 'shardId',
} as const;

/** KCL 3's index of leases by owner (leaseOwner HASH, leaseKey RANGE, KEYS_ONLY). */
export const LEASE_OWNER_INDEX = 'LeaseOwnerToLeaseKeyIndex';

/**
 * The key of Shardline's coordination item in the lease table: a map of worker heartbeats and
 * lease counts, plus a lease-set version. It is not a lease; Shardline never lists it as one.
 */
export const FLEET_ITEM_KEY = '__shardline_fleet__';

/**
 * The key prefix of bootstrap progress items in the lease table (see `DynamoDBBootstrapStore`).
 * They carry `entityType` {@link BOOTSTRAP_ENTITY_TYPE}, so lease listings skip them.
 */
export const BOOTSTRAP_KEY_PREFIX = '__shardline_bootstrap__/';

/** The `entityType` of bootstrap progress items: not `LEASE`, so never listed as a lease. */
export const BOOTSTRAP_ENTITY_TYPE = 'shardline-bootstrap';
