import { SQSClient } from '@aws-sdk/client-sqs';
import { Client } from '@opensearch-project/opensearch';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import { readSearchSyncConfig } from './config.js';
import { createUserSearchSink } from './searchSink.js';

// Built once per execution environment (cold start) and reused by every invocation.
const config = readSearchSyncConfig();
const opensearch = new Client({ node: config.opensearchUrl });

/**
 * The Lambda entry point: a DynamoDB Streams event source mapping on the Users table (with
 * ReportBatchItemFailures) calls it; each change is indexed or deleted with its external version,
 * so Lambda's retries and replays never overwrite a newer document. The first-time backfill of
 * an existing table runs separately: `npm run backfill -w @shardline/example-search-sync`.
 *
 * @example
 * import { handler } from '@shardline/example-search-sync/lambda';
 */
export const handler = createDynamoDBHandler({
  // Records that cannot be applied are parked whole in FAILURE_QUEUE_URL (replayable with
  // `shardline replay`); without it they block their key and Lambda retries them.
  failureDestination: config.failureQueueUrl
    ? new SqsFailureDestination({ client: new SQSClient({}), queueUrl: config.failureQueueUrl })
    : undefined,
  sink: createUserSearchSink({ client: opensearch, index: config.opensearchIndex }),
});
