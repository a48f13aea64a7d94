import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FanOutSink, type Item, type Logger } from '@shardline/core';
import { DynamoDBProjectionSink, type ProjectedItem } from '@shardline/sink-dynamodb';
import type { TableReplicaConfig } from './config.js';

/** Options of {@link createReplicaSinks}. */
export interface ReplicaSinksOptions {
  readonly client: Pick<DynamoDBClient, 'send'>;
  readonly config: Pick<
    TableReplicaConfig,
    | 'replicaTable'
    | 'replicaStateTable'
    | 'derivedTable'
    | 'derivedStateTable'
    | 'replicaAttributes'
  >;
  /**
   * How long (s) tombstones of deleted items are kept: above the stream's retention (24 h) plus
   * the longest a parked record waits before `shardline replay`, and above a bootstrap's
   * duration. @default the sink's (48 h)
   */
  readonly tombstoneTtlSeconds?: number;
  readonly logger?: Logger;
}

/** The recipe's two sinks, and both behind one {@link FanOutSink} for the pipeline. */
export interface ReplicaSinks {
  /** The copy: same key, every attribute or `REPLICA_ATTRIBUTES`. */
  readonly replica: DynamoDBProjectionSink;
  /** Active users by country, re-keyed `(country, userId)`. */
  readonly derived: DynamoDBProjectionSink;
  /** Every record to both. */
  readonly sink: FanOutSink;
}

/**
 * What a user produces in the derived table: one item `(country, userId)` with the name and
 * e-mail address while the user is active and has a country, none otherwise (a user who becomes
 * inactive, or moves, has the old item deleted by the sink).
 */
export function activeUserByCountry(user: Item): ProjectedItem[] {
  if (user.status !== 'active' || typeof user.country !== 'string' || user.country === '') {
    return [];
  }
  const attributes: Item = {};
  if (user.name !== undefined) attributes.name = user.name;
  if (user.email !== undefined) attributes.email = user.email;
  return [{ key: { country: user.country, userId: user.userId }, attributes }];
}

/**
 * The one piece of logic of the recipe, shared by the worker, the Lambda handler, the bootstrap
 * and `shardline replay`: two `DynamoDBProjectionSink`s, the copy (keyed: one conditional
 * `PutItem` per update) and the derived table (`project`), each with its own state table. Each
 * target item carries the version of the change that wrote it and every write is conditional
 * on it, so redeliveries, reordering, replays and a bootstrap overlapping the stream end in
 * the projection of the source, never an older state.
 */
export function createReplicaSinks(options: ReplicaSinksOptions): ReplicaSinks {
  const { client, config } = options;
  const common = {
    client,
    ...(options.tombstoneTtlSeconds !== undefined
      ? { tombstoneTtlSeconds: options.tombstoneTtlSeconds }
      : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  };
  const replica = new DynamoDBProjectionSink({
    ...common,
    name: 'replica',
    tableName: config.replicaTable,
    stateTableName: config.replicaStateTable,
    ...(config.replicaAttributes ? { attributes: config.replicaAttributes } : {}),
  });
  const derived = new DynamoDBProjectionSink({
    ...common,
    name: 'active-users-by-country',
    tableName: config.derivedTable,
    stateTableName: config.derivedStateTable,
    project: activeUserByCountry,
  });
  return { replica, derived, sink: new FanOutSink({ targets: [replica, derived] }) };
}
