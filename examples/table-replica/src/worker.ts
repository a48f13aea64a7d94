import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ConfigurationError, errorMessage } from '@shardline/core';
import { loadWorkerSettings } from '@shardline/worker';
import { readTableReplicaConfig } from './config.js';
import { bootstrapReplica, createReplicaWorker } from './createReplicaWorker.js';

// The ECS service's entry point (`npm run worker`, or `node dist/worker.js`): starts the stream
// worker (TRIM_HORIZON on first start), then bootstraps the existing items through the same
// sinks within BOOTSTRAP_READ_PERCENT of the source's read capacity (0: no bootstrap here, e.g.
// when `shardline bootstrap --from-export` does it) of BOOTSTRAP_READ_CAPACITY_UNITS (default:
// the table's provisioned RCU; 4,000 for an on-demand table, which is seldom what you want). The bootstrap's progress is in the lease
// table, so a restarted task resumes it and a finished one is not repeated; several tasks share
// its segments. Stops gracefully on SIGTERM.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  const config = readTableReplicaConfig();
  const readPercent = readBootstrapPercent(process.env.BOOTSTRAP_READ_PERCENT);
  const readCapacityUnits = readCapacityUnitsOf(process.env.BOOTSTRAP_READ_CAPACITY_UNITS);
  const settings = loadWorkerSettings(process.env, undefined, {
    applicationName: config.applicationName,
  });
  const dynamodb = new DynamoDBClient({});
  const worker = await createReplicaWorker({
    dynamodb,
    streams: new DynamoDBStreamsClient({}),
    config,
    worker: { ...settings, leaseTable: config.leaseTable, handleSignals: true },
  });
  await worker.start();
  if (readPercent > 0) {
    const stopping = new AbortController();
    process.once('SIGTERM', () => stopping.abort());
    process.once('SIGINT', () => stopping.abort());
    try {
      const result = await bootstrapReplica({
        dynamodb,
        config,
        readPercent,
        ...(readCapacityUnits !== undefined ? { readCapacityUnits } : {}),
        signal: stopping.signal,
      });
      console.error(
        `table-replica bootstrap ${result.bootstrapId}: ${result.itemsTotal} item(s) in all, ${result.items} in this run, ${Math.round(result.consumedRcu)} RCU${result.resumed ? ', resumed' : ''}`,
      );
    } catch (error) {
      if (!stopping.signal.aborted) {
        console.error(
          `table-replica bootstrap stopped: ${errorMessage(error)}; the worker goes on, restart the task to resume the bootstrap`,
        );
      }
    }
  }
} catch (error) {
  console.error(`table-replica worker could not start: ${errorMessage(error)}`);
  process.exit(1);
}

/** `BOOTSTRAP_READ_PERCENT`: 0 (no bootstrap) to 1.5. @default 0.5 */
function readBootstrapPercent(value: string | undefined): number {
  if (value === undefined || value === '') return 0.5;
  const percent = Number(value);
  if (!(Number.isFinite(percent) && percent >= 0 && percent <= 1.5)) {
    throw new ConfigurationError(
      `BOOTSTRAP_READ_PERCENT=${JSON.stringify(value)} is not a share of the read capacity; use 0 (no bootstrap in the worker) to 1.5, e.g. BOOTSTRAP_READ_PERCENT=0.25.`,
    );
  }
  return percent;
}

/** `BOOTSTRAP_READ_CAPACITY_UNITS`: the RCU the percent applies to; unset: the bootstrap's default. */
function readCapacityUnitsOf(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const units = Number(value);
  if (!(Number.isFinite(units) && units > 0)) {
    throw new ConfigurationError(
      `BOOTSTRAP_READ_CAPACITY_UNITS=${JSON.stringify(value)} is not a read capacity; give the source table's RCU per second, e.g. BOOTSTRAP_READ_CAPACITY_UNITS=400, or leave it unset for the provisioned capacity.`,
    );
  }
  return units;
}
