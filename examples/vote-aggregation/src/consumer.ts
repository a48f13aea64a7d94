import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { loadWorkerSettings, type Worker } from '@shardline/worker';
import { readVoteAggregationConfig } from './config.js';
import { createVoteAggregationWorker } from './createVoteAggregationWorker.js';
import { createVoteSummarySink } from './voteSummarySink.js';

/**
 * The consumer module for `shardline run` (the ECS task's command can be
 * `shardline run node_modules/@shardline/example-vote-aggregation/dist/consumer.js`): builds the
 * worker from the environment; `run` starts it and stops it on SIGTERM.
 */
export default async function consumer({ env }: { env: NodeJS.ProcessEnv }): Promise<Worker> {
  const config = readVoteAggregationConfig(env);
  const settings = loadWorkerSettings(env, undefined, {
    applicationName: config.applicationName,
  });
  return createVoteAggregationWorker({
    dynamodb: new DynamoDBClient({}),
    streams: new DynamoDBStreamsClient({}),
    config,
    worker: { ...settings, leaseTable: config.leaseTable },
  });
}

/** For `shardline replay --to …/consumer.js`: parked votes go through the same summary sink. */
export function replay() {
  const config = readVoteAggregationConfig();
  return {
    sink: createVoteSummarySink({
      client: new DynamoDBClient({}),
      summaryTable: config.summaryTable,
    }),
  };
}
