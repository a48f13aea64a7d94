import { ConfigurationError, readApplicationName } from '@shardline/core';

/** The recipe's settings, from the environment (see {@link readVoteAggregationConfig}). */
export interface VoteAggregationConfig {
  /** `VOTES_TABLE`: the source table. */
  readonly votesTable: string;
  /** `SUMMARY_TABLE`: the table of totals. */
  readonly summaryTable: string;
  /** `LEASE_TABLE`: the worker's lease and checkpoint table (KCL layout). */
  readonly leaseTable: string;
  /** `SHARDLINE_APP`: the application name; workers with the same name share the shards. */
  readonly applicationName: string;
}

/** Defaults of {@link readVoteAggregationConfig}, matching the README's Terraform. */
export const DEFAULT_VOTE_AGGREGATION_CONFIG: VoteAggregationConfig = {
  votesTable: 'Votes',
  summaryTable: 'VoteSummary',
  leaseTable: 'vote-aggregation',
  applicationName: 'vote-aggregation',
};

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * Reads `VOTES_TABLE`, `SUMMARY_TABLE`, `LEASE_TABLE` and `SHARDLINE_APP`. Region, credentials
 * and endpoints are not read here: the AWS SDK reads the standard `AWS_*` variables itself.
 * `LEASE_TABLE` defaults to the application name, as the KCL names its lease table.
 *
 * @throws ConfigurationError naming the variable, its bad value and the fix.
 */
export function readVoteAggregationConfig(
  env: NodeJS.ProcessEnv = process.env,
): VoteAggregationConfig {
  const applicationName =
    readApplicationName(env) || DEFAULT_VOTE_AGGREGATION_CONFIG.applicationName;
  const config: VoteAggregationConfig = {
    votesTable: env.VOTES_TABLE || DEFAULT_VOTE_AGGREGATION_CONFIG.votesTable,
    summaryTable: env.SUMMARY_TABLE || DEFAULT_VOTE_AGGREGATION_CONFIG.summaryTable,
    leaseTable: env.LEASE_TABLE || applicationName,
    applicationName,
  };
  const variables = {
    VOTES_TABLE: config.votesTable,
    SUMMARY_TABLE: config.summaryTable,
    LEASE_TABLE: config.leaseTable,
  };
  for (const [name, value] of Object.entries(variables)) {
    if (!TABLE_NAME.test(value)) {
      throw new ConfigurationError(
        `${name}=${JSON.stringify(value)} is not a valid DynamoDB table name; use 3-255 characters of A-Z, a-z, 0-9, "_", "-", ".".`,
      );
    }
  }
  if (config.votesTable === config.summaryTable) {
    throw new ConfigurationError(
      `VOTES_TABLE and SUMMARY_TABLE are both "${config.votesTable}"; the totals need a table of their own.`,
    );
  }
  return config;
}
