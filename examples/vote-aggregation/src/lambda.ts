import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import { readVoteAggregationConfig } from './config.js';
import { createVoteSummarySink } from './voteSummarySink.js';

// Built once per execution environment (cold start), reused by every invocation: the client's
// sockets and the sink's state outlive one batch. Region and credentials come from Lambda's
// AWS_* variables; SUMMARY_TABLE from the function's environment.
const config = readVoteAggregationConfig();
const client = new DynamoDBClient({});

/**
 * The Lambda entry point: a DynamoDB Streams event source mapping on the Votes table, with
 * `FunctionResponseTypes: ["ReportBatchItemFailures"]`, calls it. It returns
 * `{ batchItemFailures }` naming the first record that is not counted, so Lambda retries from
 * there and the summary's ledger drops whatever part of the retry was already counted.
 *
 * @example
 * import { handler } from '@shardline/example-vote-aggregation/lambda';
 */
export const handler = createDynamoDBHandler({
  // Records that cannot be applied are parked whole in FAILURE_QUEUE_URL (replayable with
  // `shardline replay`); without it they block their key and Lambda retries them.
  failureDestination: config.failureQueueUrl
    ? new SqsFailureDestination({ client: new SQSClient({}), queueUrl: config.failureQueueUrl })
    : undefined,
  sink: createVoteSummarySink({ client, summaryTable: config.summaryTable }),
});
