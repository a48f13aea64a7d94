/**
 * The Lambda handler of the projection guarantees test: both projection sinks of
 * `projectionTables.ts` behind `createDynamoDBHandler`. Its DynamoDB client makes one attempt
 * per call (`maxAttempts: 1`), so the faults the test injects reach the sinks and the pipeline
 * instead of being absorbed by the SDK's retries.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import { createProjectionSink } from './projectionTables.js';

const client = new DynamoDBClient({ maxAttempts: 1 });

export const handler = createDynamoDBHandler({
  sink: createProjectionSink(client),
  retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50 },
});
