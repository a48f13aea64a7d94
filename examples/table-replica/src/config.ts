import { ConfigurationError, readApplicationName } from '@shardline/core';

/** The recipe's settings, from the environment (see {@link readTableReplicaConfig}). */
export interface TableReplicaConfig {
  /** `SOURCE_TABLE`: the table whose stream is copied (its stream carries the new image). */
  readonly sourceTable: string;
  /** `REPLICA_TABLE`: the copy, same key schema as the source, for batch jobs. */
  readonly replicaTable: string;
  /** `REPLICA_STATE_TABLE`: the copy's tombstones (key `pk`, TTL on `expiresAt`). */
  readonly replicaStateTable: string;
  /** `DERIVED_TABLE`: active users by country (key `country`, sort key `userId`). */
  readonly derivedTable: string;
  /** `DERIVED_STATE_TABLE`: the derived table's state entries (key `pk`, TTL on `expiresAt`). */
  readonly derivedStateTable: string;
  /** `LEASE_TABLE`: the worker's lease and checkpoint table, also the bootstrap's progress. */
  readonly leaseTable: string;
  /** `SHARDLINE_APP`: the application name; workers with the same name share the shards. */
  readonly applicationName: string;
  /**
   * `REPLICA_ATTRIBUTES`: a comma list of the attributes the copy keeps besides the key.
   * Unset or empty: every attribute.
   */
  readonly replicaAttributes?: readonly string[];
  /**
   * `FAILURE_QUEUE_URL`: the SQS queue where the Lambda handler parks a record it cannot apply,
   * whole, for `shardline replay`. Unset: such a record blocks its key and Lambda retries it.
   */
  readonly failureQueueUrl?: string;
}

/** Defaults of {@link readTableReplicaConfig}, matching the README's Terraform. */
export const DEFAULT_TABLE_REPLICA_CONFIG: TableReplicaConfig = {
  sourceTable: 'Users',
  replicaTable: 'Users-replica',
  replicaStateTable: 'Users-replica-state',
  derivedTable: 'ActiveUsersByCountry',
  derivedStateTable: 'ActiveUsersByCountry-state',
  leaseTable: 'table-replica',
  applicationName: 'table-replica',
};

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const ATTRIBUTE_NAME = /^[^\s,]{1,255}$/;

/**
 * Reads `SOURCE_TABLE`, `REPLICA_TABLE`, `REPLICA_STATE_TABLE`, `DERIVED_TABLE`,
 * `DERIVED_STATE_TABLE`, `LEASE_TABLE`, `SHARDLINE_APP` and the optional `REPLICA_ATTRIBUTES`
 * and `FAILURE_QUEUE_URL`. The state tables default to `<table>-state`, `LEASE_TABLE` to the
 * application name. Region, credentials and endpoints: the standard `AWS_*` variables, read by
 * the SDK.
 *
 * @throws ConfigurationError naming the variable, its bad value and the fix.
 */
export function readTableReplicaConfig(env: NodeJS.ProcessEnv = process.env): TableReplicaConfig {
  const defaults = DEFAULT_TABLE_REPLICA_CONFIG;
  const applicationName = readApplicationName(env) || defaults.applicationName;
  const replicaTable = env.REPLICA_TABLE || defaults.replicaTable;
  const derivedTable = env.DERIVED_TABLE || defaults.derivedTable;
  const attributes = readAttributes(env.REPLICA_ATTRIBUTES);
  const config: TableReplicaConfig = {
    sourceTable: env.SOURCE_TABLE || defaults.sourceTable,
    replicaTable,
    replicaStateTable: env.REPLICA_STATE_TABLE || `${replicaTable}-state`,
    derivedTable,
    derivedStateTable: env.DERIVED_STATE_TABLE || `${derivedTable}-state`,
    leaseTable: env.LEASE_TABLE || applicationName,
    applicationName,
    ...(attributes ? { replicaAttributes: attributes } : {}),
    ...(env.FAILURE_QUEUE_URL ? { failureQueueUrl: readQueueUrl(env.FAILURE_QUEUE_URL) } : {}),
  };
  const variables = {
    SOURCE_TABLE: config.sourceTable,
    REPLICA_TABLE: config.replicaTable,
    REPLICA_STATE_TABLE: config.replicaStateTable,
    DERIVED_TABLE: config.derivedTable,
    DERIVED_STATE_TABLE: config.derivedStateTable,
    LEASE_TABLE: config.leaseTable,
  };
  const seen = new Map<string, string>();
  for (const [name, value] of Object.entries(variables)) {
    if (!TABLE_NAME.test(value)) {
      throw new ConfigurationError(
        `${name}=${JSON.stringify(value)} is not a valid DynamoDB table name; use 3-255 characters of A-Z, a-z, 0-9, "_", "-", ".".`,
      );
    }
    const other = seen.get(value);
    if (other !== undefined) {
      throw new ConfigurationError(
        `${other} and ${name} are both "${value}"; each needs a table of its own (the copy, the derived table and their state tables are written differently).`,
      );
    }
    seen.set(value, name);
  }
  return config;
}

/** `REPLICA_ATTRIBUTES`: `a,b , c` → ['a', 'b', 'c']; unset or blank → undefined (all). */
function readAttributes(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!ATTRIBUTE_NAME.test(name)) {
      throw new ConfigurationError(
        `REPLICA_ATTRIBUTES=${JSON.stringify(value)} has an empty or invalid attribute name ${JSON.stringify(name)}; give a comma list such as REPLICA_ATTRIBUTES=name,email,country, or leave it unset to copy every attribute.`,
      );
    }
  }
  return names;
}

/** `FAILURE_QUEUE_URL` checked as an http(s) URL. */
function readQueueUrl(value: string): string {
  if (!/^https?:\/\/[^/]+\/.+/.test(value)) {
    throw new ConfigurationError(
      `FAILURE_QUEUE_URL=${JSON.stringify(value)} is not an SQS queue URL; use the queue's URL, e.g. FAILURE_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/table-replica-failures (terraform output failure_queue_url).`,
    );
  }
  return value;
}
