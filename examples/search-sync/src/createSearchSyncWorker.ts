import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Client } from '@opensearch-project/opensearch';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { createWorker, type Worker, type WorkerOptions } from '@shardline/worker';
import { type BackfillProgress, backfillIndex } from './backfill.js';
import { isBackfillDone, markBackfillDone } from './backfillMarker.js';
import { BackfillMode, type SearchSyncConfig } from './config.js';
import { createUserSearchSink } from './searchSink.js';

/** Options of {@link startSearchSync}. */
export interface SearchSyncOptions {
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly opensearch: Client;
  readonly config: SearchSyncConfig;
  /** Worker settings (from `SHARDLINE_*` variables, or tests' short lease durations). */
  readonly worker?: Partial<Omit<WorkerOptions, 'sources' | 'sink' | 'handler'>>;
  /** Make index writes searchable at once (tests). @default false */
  readonly refresh?: boolean;
  /** Backfill progress, after every page. */
  readonly onBackfillProgress?: (progress: BackfillProgress) => void;
}

/** A running search sync: the worker, and the backfill when one runs. */
export interface SearchSync {
  readonly worker: Worker;
  /** Settles when the backfill is done (at once when none was needed). */
  readonly backfill: Promise<BackfillProgress | undefined>;
}

/**
 * Starts the long-running consumer: the stream worker, then, when asked (SEARCH_SYNC_BACKFILL),
 * a parallel-Scan backfill of the items that exist already. The stream position is taken
 * **before** the scan begins: the worker starts first (from TRIM_HORIZON for a shard without a
 * checkpoint, i.e. everything the stream still holds), and the scan's version is derived from
 * the moment just before that, so the two may overlap freely (see `backfillVersion`).
 */
export async function startSearchSync(options: SearchSyncOptions): Promise<SearchSync> {
  const { config } = options;
  const source = await DynamoDBStreamsSource.fromTable({
    client: options.streams,
    dynamodb: options.dynamodb,
    tableName: config.sourceTable,
  });
  const worker = createWorker({
    applicationName: config.applicationName,
    leaseTable: config.leaseTable,
    dynamoDBClient: options.dynamodb,
    initialPosition: 'TRIM_HORIZON',
    ...options.worker,
    sources: source,
    sink: createUserSearchSink({
      client: options.opensearch,
      index: config.opensearchIndex,
      ...(options.refresh ? { refresh: true } : {}),
    }),
  });
  const positionTakenAtMs = Date.now();
  await worker.start();
  const needed =
    config.backfill === BackfillMode.Always ||
    (config.backfill === BackfillMode.Auto &&
      !(await isBackfillDone(options.opensearch, config.opensearchIndex)));
  const backfill = needed
    ? backfillIndex({
        dynamodb: options.dynamodb,
        tableName: config.sourceTable,
        opensearch: options.opensearch,
        index: config.opensearchIndex,
        // The worker's lease table (created by now): progress and segment claims.
        progressTable: config.leaseTable,
        // 'always' backfills again from the start; 'auto' resumes an unfinished backfill.
        restart: config.backfill === BackfillMode.Always,
        streamPositionTakenAtMs: positionTakenAtMs,
        segments: config.scanSegments,
        ...(options.refresh ? { refresh: true } : {}),
        ...(options.onBackfillProgress ? { onProgress: options.onBackfillProgress } : {}),
      }).then(async (progress) => {
        await markBackfillDone(options.opensearch, config.opensearchIndex, {
          scanned: progress.scanned,
          finishedAt: new Date().toISOString(),
        });
        return progress;
      })
    : Promise.resolve(undefined);
  return { worker, backfill };
}
