import { ConfigurationError, readApplicationName } from '@shardline/core';

/** When the worker backfills the index from a Scan of the table. */
export const BackfillMode = {
  /** On the first start: when no completed backfill is recorded for the index. */
  Auto: 'auto',
  /** On every start (safe: versions keep newer stream changes). */
  Always: 'always',
  /** Never: the index is filled by the stream alone. */
  Never: 'never',
} as const;
/** One of {@link BackfillMode}. */
export type BackfillMode = (typeof BackfillMode)[keyof typeof BackfillMode];

/** The recipe's settings, from the environment (see {@link readSearchSyncConfig}). */
export interface SearchSyncConfig {
  /** `SOURCE_TABLE`: the Users table. */
  readonly sourceTable: string;
  /** `OPENSEARCH_URL`: the cluster, e.g. `https://search-users.eu-west-1.es.amazonaws.com`. */
  readonly opensearchUrl: string;
  /** `OPENSEARCH_INDEX`: the index mirrored from the table. */
  readonly opensearchIndex: string;
  /** `LEASE_TABLE`: the worker's lease table (defaults to the application name). */
  readonly leaseTable: string;
  /** `SHARDLINE_APP`: the application name. */
  readonly applicationName: string;
  /** `SEARCH_SYNC_BACKFILL`: auto (default), always or never. */
  readonly backfill: BackfillMode;
  /** `SEARCH_SYNC_SCAN_SEGMENTS`: parallel Scan segments of the backfill. @default 4 */
  readonly scanSegments: number;
  /**
   * `FAILURE_QUEUE_URL`: the SQS queue where the Lambda handler parks a record it cannot apply,
   * whole (raw record, error, attempts), for `shardline replay`. Unset: such a record blocks its
   * key and Lambda retries it until it is fixed; nothing is skipped either way.
   */
  readonly failureQueueUrl?: string;
}

/** Defaults of {@link readSearchSyncConfig}. */
export const DEFAULT_SEARCH_SYNC_CONFIG = {
  sourceTable: 'Users',
  opensearchIndex: 'users',
  applicationName: 'search-sync',
  backfill: BackfillMode.Auto,
  scanSegments: 4,
} as const;

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
// OpenSearch index names: lowercase, no \ / * ? " < > | space , #, not starting with - _ +.
const INDEX_NAME = /^[a-z0-9][a-z0-9._-]{0,254}$/;

/**
 * Reads `SOURCE_TABLE`, `OPENSEARCH_URL`, `OPENSEARCH_INDEX`, `LEASE_TABLE`, `SHARDLINE_APP`,
 * and the optional `SEARCH_SYNC_BACKFILL`, `SEARCH_SYNC_SCAN_SEGMENTS` and `FAILURE_QUEUE_URL`. AWS settings come
 * from the standard `AWS_*` variables, read by the SDK.
 *
 * @throws ConfigurationError naming the variable, its value and the fix.
 */
export function readSearchSyncConfig(env: NodeJS.ProcessEnv = process.env): SearchSyncConfig {
  const opensearchUrl = env.OPENSEARCH_URL;
  if (!opensearchUrl) {
    throw new ConfigurationError(
      'OPENSEARCH_URL is not set; set it to the cluster endpoint, e.g. OPENSEARCH_URL=https://localhost:9200.',
    );
  }
  try {
    const url = new URL(opensearchUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(url.protocol);
  } catch {
    throw new ConfigurationError(
      `OPENSEARCH_URL=${JSON.stringify(opensearchUrl)} is not an http(s) URL; e.g. OPENSEARCH_URL=https://localhost:9200.`,
    );
  }
  const applicationName = readApplicationName(env) || DEFAULT_SEARCH_SYNC_CONFIG.applicationName;
  const config: SearchSyncConfig = {
    sourceTable: env.SOURCE_TABLE || DEFAULT_SEARCH_SYNC_CONFIG.sourceTable,
    opensearchUrl,
    opensearchIndex: env.OPENSEARCH_INDEX || DEFAULT_SEARCH_SYNC_CONFIG.opensearchIndex,
    leaseTable: env.LEASE_TABLE || applicationName,
    applicationName,
    backfill: (env.SEARCH_SYNC_BACKFILL || DEFAULT_SEARCH_SYNC_CONFIG.backfill) as BackfillMode,
    scanSegments: Number(env.SEARCH_SYNC_SCAN_SEGMENTS || DEFAULT_SEARCH_SYNC_CONFIG.scanSegments),
    ...(env.FAILURE_QUEUE_URL ? { failureQueueUrl: env.FAILURE_QUEUE_URL } : {}),
  };
  for (const [name, value] of [
    ['SOURCE_TABLE', config.sourceTable],
    ['LEASE_TABLE', config.leaseTable],
  ] as const) {
    if (!TABLE_NAME.test(value)) {
      throw new ConfigurationError(
        `${name}=${JSON.stringify(value)} is not a valid DynamoDB table name; use 3-255 characters of A-Z, a-z, 0-9, "_", "-", ".".`,
      );
    }
  }
  if (
    config.failureQueueUrl !== undefined &&
    !/^https?:\/\/[^/]+\/.+/.test(config.failureQueueUrl)
  ) {
    throw new ConfigurationError(
      `FAILURE_QUEUE_URL=${JSON.stringify(config.failureQueueUrl)} is not an SQS queue URL; use the queue's URL, e.g. FAILURE_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/search-sync-failures (terraform output failure_queue_url).`,
    );
  }
  if (!INDEX_NAME.test(config.opensearchIndex)) {
    throw new ConfigurationError(
      `OPENSEARCH_INDEX=${JSON.stringify(config.opensearchIndex)} is not a valid index name; use lowercase letters, digits, ".", "_" and "-", e.g. OPENSEARCH_INDEX=users.`,
    );
  }
  if (!Object.values(BackfillMode).includes(config.backfill)) {
    throw new ConfigurationError(
      `SEARCH_SYNC_BACKFILL=${JSON.stringify(config.backfill)} is not auto, always or never.`,
    );
  }
  if (
    !Number.isInteger(config.scanSegments) ||
    config.scanSegments < 1 ||
    config.scanSegments > 1000
  ) {
    throw new ConfigurationError(
      `SEARCH_SYNC_SCAN_SEGMENTS=${JSON.stringify(env.SEARCH_SYNC_SCAN_SEGMENTS)} must be a whole number from 1 to 1000.`,
    );
  }
  return config;
}
