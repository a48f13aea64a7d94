import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { errorMessage } from '@shardline/core';
import { loadWorkerSettings } from '@shardline/worker';
import { readVoteAggregationConfig } from './config.js';
import { createVoteAggregationWorker } from './createVoteAggregationWorker.js';

// The ECS service's entry point (`npm run worker`, or `node dist/worker.js`). Region,
// credentials and endpoints: the standard AWS_* variables, read by the SDK. Stops gracefully
// on SIGTERM (ECS sends it before stopTimeout) and exits 0 when everything was checkpointed.
// The AWS SDK warns on Node < 22 whenever a client is built (NodeVersionSupportWarning); the
// worker's logs are not the place. Set before any client exists; a value from the task wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  const config = readVoteAggregationConfig();
  const settings = loadWorkerSettings(process.env, undefined, {
    applicationName: config.applicationName,
  });
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
