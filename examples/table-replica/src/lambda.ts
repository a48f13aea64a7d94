import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import { readTableReplicaConfig } from './config.js';
import { createReplicaSinks } from './sinks.js';

// Built once per execution environment (cold start), reused by every invocation. Region and
// credentials come from Lambda's AWS_* variables; the table names from the function's
// environment (see terraform/main.tf).
const config = readTableReplicaConfig();
const client = new DynamoDBClient({});

/**
 * The Lambda entry point: a DynamoDB Streams event source mapping on the source table, with
 * `FunctionResponseTypes: ["ReportBatchItemFailures"]`, calls it. It writes the copy and the
 * derived table; a redelivered, reordered or concurrent batch changes nothing that is newer.
 *
 * @example
 * import { handler } from '@shardline/example-table-replica/lambda';
 */
export const handler = createDynamoDBHandler({
  // Records that cannot be applied are parked whole in FAILURE_QUEUE_URL (replayable with
  // `shardline replay`); without it they block their key and Lambda retries them.
  failureDestination: config.failureQueueUrl
    ? new SqsFailureDestination({ client: new SQSClient({}), queueUrl: config.failureQueueUrl })
    : undefined,
  sink: createReplicaSinks({ client, config }).sink,
});
