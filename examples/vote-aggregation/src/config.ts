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
  /**
   * `FAILURE_QUEUE_URL`: the SQS queue where the Lambda handler parks a record it cannot apply,
   * whole (raw record, error, attempts), for `shardline replay`. Unset: such a record blocks its
   * key and Lambda retries it until it is fixed; nothing is skipped either way.
   */
  readonly failureQueueUrl?: string;
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
 * Reads `VOTES_TABLE`, `SUMMARY_TABLE`, `LEASE_TABLE`, `SHARDLINE_APP` and the optional
 * `FAILURE_QUEUE_URL`. Region, credentials
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
    ...(env.FAILURE_QUEUE_URL ? { failureQueueUrl: readQueueUrl(env.FAILURE_QUEUE_URL) } : {}),
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

/** `FAILURE_QUEUE_URL` checked as an http(s) URL. */
function readQueueUrl(value: string): string {
  if (!/^https?:\/\/[^/]+\/.+/.test(value)) {
    throw new ConfigurationError(
      `FAILURE_QUEUE_URL=${JSON.stringify(value)} is not an SQS queue URL; use the queue's URL, e.g. FAILURE_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/vote-aggregation-failures (terraform output failure_queue_url).`,
    );
  }
  return value;
}
