import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Client } from '@opensearch-project/opensearch';
import { errorMessage } from '@shardline/core';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { backfillIndex } from './backfill.js';
import { markBackfillDone } from './backfillMarker.js';
import { readSearchSyncConfig } from './config.js';

// `npm run backfill`: the one-off backfill for the Lambda deployment. Start the event source
// mapping (TRIM_HORIZON) first, then run this: the stream position precedes the scan.
try {
  const config = readSearchSyncConfig();
  const startedAt = Date.now();
  const dynamodb = new DynamoDBClient({});
  // Progress (segment positions) is kept in LEASE_TABLE, so a crashed backfill resumes; the
  // Lambda deployment has no worker to create it.
  await new DynamoDBLeaseStore({
    client: dynamodb,
    tableName: config.leaseTable,
    streamId: config.sourceTable,
  }).createTableIfNotExists();
  const progress = await backfillIndex({
    dynamodb,
    progressTable: config.leaseTable,
    tableName: config.sourceTable,
    opensearch: new Client({ node: config.opensearchUrl }),
    index: config.opensearchIndex,
    streamPositionTakenAtMs: startedAt,
    segments: config.scanSegments,
    onProgress: (p) =>
      process.stderr.write(
        `\rbackfill: ${p.segmentsDone}/${p.segments} segments, ${p.scanned} items read, ${p.indexed} written`,
      ),
  });
  await markBackfillDone(new Client({ node: config.opensearchUrl }), config.opensearchIndex, {
    scanned: progress.scanned,
    finishedAt: new Date().toISOString(),
  });
  process.stderr.write(`\nbackfill done in ${Math.round((Date.now() - startedAt) / 1000)} s\n`);
} catch (error) {
  console.error(`backfill failed: ${errorMessage(error)}`);
  process.exit(1);
}
