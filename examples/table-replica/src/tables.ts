import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DEFAULT_TABLE_REPLICA_CONFIG, type TableReplicaConfig } from './config.js';

/** The attribute the state tables' TTL reads (the projection sink sets it on tombstones). */
export const STATE_TTL_ATTRIBUTE = 'expiresAt';

/**
 * The source table of the recipe: users, partition key `userId`. Its stream carries the new
 * image, which is what the projection sink builds the copy from (`NEW_AND_OLD_IMAGES` works
 * too; `KEYS_ONLY` is refused when the worker starts).
 */
export function usersTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'userId', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
  };
}

/** The copy: the source's key schema (`userId`), no stream. */
export function replicaTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'userId', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/**
 * The derived table, active users by country: partition key `country`, sort key `userId` (the
 * source key is part of the target key, so each item is produced by one user only).
 */
export function derivedTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: 'country', AttributeType: 'S' },
      { AttributeName: 'userId', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'country', KeyType: 'HASH' },
      { AttributeName: 'userId', KeyType: 'RANGE' },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/**
 * A projection sink's state table: partition key `pk` (S); TTL on `expiresAt` (enabled by
 * {@link createReplicaTables}) expires the tombstones of deleted items.
 */
export function stateTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/**
 * Creates the recipe's tables that do not exist yet (source, copy, derived table and both state
 * tables, with TTL on the state tables) and waits until they are active; existing tables are
 * left as they are. For local runs and tests; in AWS the tables come from the Terraform. The
 * lease table is created by the worker itself. `config` defaults to the recipe's default names
 * (`readTableReplicaConfig()` gives the ones of the environment).
 */
export async function createReplicaTables(
  client: DynamoDBClient,
  config: Pick<
    TableReplicaConfig,
    'sourceTable' | 'replicaTable' | 'replicaStateTable' | 'derivedTable' | 'derivedStateTable'
  > = DEFAULT_TABLE_REPLICA_CONFIG,
): Promise<void> {
  const definitions = [
    usersTableDefinition(config.sourceTable),
    replicaTableDefinition(config.replicaTable),
    stateTableDefinition(config.replicaStateTable),
    derivedTableDefinition(config.derivedTable),
    stateTableDefinition(config.derivedStateTable),
  ];
  for (const definition of definitions) {
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await waitUntilTableExists(
      { client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
      { TableName: definition.TableName! },
    );
  }
  for (const tableName of [config.replicaStateTable, config.derivedStateTable]) {
    await enableTtl(client, tableName);
  }
}

/** Turns TTL on `expiresAt` on, unless it is on already. */
async function enableTtl(client: DynamoDBClient, tableName: string): Promise<void> {
  const current = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = current.TimeToLiveDescription?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: STATE_TTL_ATTRIBUTE, Enabled: true },
    }),
  );
}
