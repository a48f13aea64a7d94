import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { errorMessage } from '@shardline/core';
import { loadWorkerSettings } from '@shardline/worker';
import { readVoteAggregationConfig } from './config.js';
import { createVoteAggregationWorker } from './createVoteAggregationWorker.js';
import { workerEnvironment } from './workerEnvironment.js';

// The ECS service's entry point (`npm run worker`, or `node dist/worker.js`). Region,
// credentials and endpoints: the standard AWS_* variables, read by the SDK. Stops gracefully
// on SIGTERM (ECS sends it before stopTimeout) and exits 0 when everything was checkpointed.
try {
  const config = readVoteAggregationConfig();
  const settings = loadWorkerSettings(workerEnvironment(process.env, config.applicationName));
  const worker = await createVoteAggregationWorker({
    dynamodb: new DynamoDBClient({}),
    streams: new DynamoDBStreamsClient({}),
    config,
    worker: { ...settings, leaseTable: config.leaseTable, handleSignals: true },
  });
  await worker.start();
} catch (error) {
  console.error(`vote-aggregation worker could not start: ${errorMessage(error)}`);
  process.exit(1);
}
