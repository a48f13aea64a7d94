import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { Client } from '@opensearch-project/opensearch';
import { errorMessage } from '@shardline/core';
import { loadWorkerSettings } from '@shardline/worker';
import { readSearchSyncConfig } from './config.js';
import { startSearchSync } from './createSearchSyncWorker.js';

// The AWS SDK warns on Node < 22 whenever a client is built (NodeVersionSupportWarning); the
// worker's logs are not the place. Set before any client exists; a value from the task wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The ECS service's entry point. Stops gracefully on SIGTERM and exits 0 when checkpointed.
try {
  const config = readSearchSyncConfig();
  const settings = loadWorkerSettings(process.env, undefined, {
    applicationName: config.applicationName,
  });
  const sync = await startSearchSync({
    dynamodb: new DynamoDBClient({}),
    streams: new DynamoDBStreamsClient({}),
    opensearch: new Client({ node: config.opensearchUrl }),
    config,
    worker: { ...settings, leaseTable: config.leaseTable, handleSignals: true },
    onBackfillProgress: (p) =>
      console.error(
        JSON.stringify({
          level: 'info',
          msg: 'backfill progress',
          segmentsDone: p.segmentsDone,
          segments: p.segments,
          scanned: p.scanned,
          indexed: p.indexed,
        }),
      ),
  });
  const progress = await sync.backfill;
  if (progress) console.error(JSON.stringify({ level: 'info', msg: 'backfill done', ...progress }));
} catch (error) {
  console.error(`search-sync worker stopped: ${errorMessage(error)}`);
  process.exit(1);
}
