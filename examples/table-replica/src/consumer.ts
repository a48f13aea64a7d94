import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { loadWorkerSettings, type Worker } from '@shardline/worker';
import { readTableReplicaConfig } from './config.js';
import { createReplicaWorker } from './createReplicaWorker.js';
import { createReplicaSinks } from './sinks.js';

/**
 * The consumer module for `shardline run` (`shardline run
 * node_modules/@shardline/example-table-replica/dist/consumer.js`): builds the worker from the
 * environment; `run` starts it and stops it on SIGTERM. It does not bootstrap: run
 * `shardline bootstrap --to` with this module (or `npm run worker`, which does both).
 */
export default async function consumer({ env }: { env: NodeJS.ProcessEnv }): Promise<Worker> {
  const config = readTableReplicaConfig(env);
  const settings = loadWorkerSettings(env, undefined, { applicationName: config.applicationName });
  return createReplicaWorker({
    dynamodb: new DynamoDBClient({}),
    streams: new DynamoDBStreamsClient({}),
    config,
    worker: { ...settings, leaseTable: config.leaseTable },
  });
}

/**
 * For `shardline replay --to …/consumer.js`: parked records go through the same sinks (the
 * versions make a replay in any order, after newer changes, harmless).
 */
export function replay() {
  const config = readTableReplicaConfig();
  return { sink: createReplicaSinks({ client: new DynamoDBClient({}), config }).sink };
}

/**
 * For `shardline bootstrap --table <SOURCE_TABLE> --to …/consumer.js --app <SHARDLINE_APP>`
 * (a Scan with `--read-percent`, or `--from-export s3://…`): the existing items go through the
 * same sinks as bootstrap records, which never overwrite what the stream wrote.
 */
export function bootstrap() {
  return replay();
}
