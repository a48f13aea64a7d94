import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { Client } from '@opensearch-project/opensearch';
import {
  type ChangeRecord,
  ConfigurationError,
  decodeDynamoDBRecord,
  RetryPolicy,
  ShardlineError,
  sleep,
} from '@shardline/core';
import { createUserSearchSink } from './searchSink.js';

/** Progress of a running backfill, reported after every page. */
export interface BackfillProgress {
  readonly segments: number;
  readonly segmentsDone: number;
  /** Items read from the table so far. */
  readonly scanned: number;
  /** Items written to the index (refused as older than the index counts as written). */
  readonly indexed: number;
  /** Pages read again because they had waited too long before being written. */
  readonly pagesReread: number;
}

/** Options of {@link backfillIndex}. */
export interface BackfillOptions {
  readonly dynamodb: Pick<DynamoDBClient, 'send'>;
  readonly tableName: string;
  readonly opensearch: Client;
  readonly index: string;
  /**
   * When the stream position was taken, in epoch ms: before the scan began, and before the
   * worker started reading (from TRIM_HORIZON, or LATEST taken at this time).
   */
  readonly streamPositionTakenAtMs: number;
  /** Parallel Scan segments. @default 4 */
  readonly segments?: number;
  /** Items per Scan page. @default 100 */
  readonly pageSize?: number;
  /** Largest clock difference between this host and DynamoDB, in ms. @default 60_000 */
  readonly clockSkewMarginMs?: number;
  /**
   * A page not yet written this long after it was read is read again, so a delete the stream
   * applied meanwhile cannot be undone: OpenSearch forgets a delete's version after
   * `index.gc_deletes` (60 s by default). Keep it well under that. @default 20_000
   */
  readonly maxPageAgeMs?: number;
  readonly refresh?: boolean;
  readonly onProgress?: (progress: BackfillProgress) => void;
  readonly signal?: AbortSignal;
}

/** Defaults of {@link BackfillOptions}. */
export const DEFAULT_BACKFILL = {
  segments: 4,
  pageSize: 100,
  clockSkewMarginMs: 60_000,
  maxPageAgeMs: 20_000,
} as const;

const NANOS_PER_SECOND = 1_000_000_000n;

/**
 * The external version of every backfilled document: the start of the second before
 * `positionTakenAtMs − clockSkewMarginMs`, in the sink's version unit (ns).
 *
 * Why this value: a stream change's version is its creation second in ns plus the low digits of
 * its sequence number, so every change made after the stream position (creation time ≥ that
 * moment minus clock skew) has a version **above** this one and wins over the scanned copy,
 * whichever is written first. The scanned copy wins only over changes older than the margin,
 * and the scan, which began after them, read a state at least as new. A change inside the margin
 * but before the position is kept (it is newer than the version) and is exact: the scan cannot
 * have read anything older than it.
 */
export function backfillVersion(positionTakenAtMs: number, clockSkewMarginMs: number): bigint {
  const second = Math.floor((positionTakenAtMs - clockSkewMarginMs) / 1000) - 1;
  return BigInt(Math.max(0, second)) * NANOS_PER_SECOND;
}

/**
 * Fills the index from a parallel Scan of the table while the stream worker runs, so an existing
 * table can be mirrored without stopping writes. Each scanned item is written as a document with
 * {@link backfillVersion}: OpenSearch refuses it when the stream already wrote a newer change,
 * and the stream's later changes refuse nothing from it. A deleted item cannot come back: a page
 * is written at most `maxPageAgeMs` after it was read (else it is read again), well inside the
 * time OpenSearch keeps the delete's version.
 *
 * @returns the final progress.
 */
export async function backfillIndex(options: BackfillOptions): Promise<BackfillProgress> {
  const segments = options.segments ?? DEFAULT_BACKFILL.segments;
  const pageSize = options.pageSize ?? DEFAULT_BACKFILL.pageSize;
  const maxPageAgeMs = options.maxPageAgeMs ?? DEFAULT_BACKFILL.maxPageAgeMs;
  if (!Number.isInteger(segments) || segments < 1) {
    throw new ConfigurationError(`segments must be a whole number of 1 or more, got ${segments}.`);
  }
  const version = backfillVersion(
    options.streamPositionTakenAtMs,
    options.clockSkewMarginMs ?? DEFAULT_BACKFILL.clockSkewMarginMs,
  );
  const sink = createUserSearchSink({
    client: options.opensearch,
    index: options.index,
    version,
    ...(options.refresh ? { refresh: true } : {}),
  });
  const keyNames = await keyAttributes(options.dynamodb, options.tableName);
  const progress = { segments, segmentsDone: 0, scanned: 0, indexed: 0, pagesReread: 0 };
  const report = () => options.onProgress?.({ ...progress });
  report();

  const runSegment = async (segment: number) => {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      let page: { items: Record<string, AttributeValue>[]; next: typeof startKey; readAt: number };
      for (;;) {
        const readAt = Date.now();
        const out = await options.dynamodb.send(
          new ScanCommand({
            TableName: options.tableName,
            Segment: segment,
            TotalSegments: segments,
            Limit: pageSize,
            ConsistentRead: true,
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
          options.signal ? { abortSignal: options.signal } : {},
        );
        page = { items: out.Items ?? [], next: out.LastEvaluatedKey, readAt };
        if (Date.now() - readAt <= maxPageAgeMs) break;
        progress.pagesReread++;
      }
      const records = page.items.map((item, i) =>
        scannedRecord(item, keyNames, options.tableName, segment, i),
      );
      await writeAll(sink, records, page.readAt, maxPageAgeMs, options.signal);
      progress.scanned += page.items.length;
      progress.indexed += records.length;
      report();
      startKey = page.next;
    } while (startKey && !options.signal?.aborted);
    progress.segmentsDone++;
    report();
  };
  await Promise.all(Array.from({ length: segments }, (_, segment) => runSegment(segment)));
  return { ...progress };
}

/** Retriable write failures of a page are retried with core's backoff until the page's age limit. */
const WRITE_BACKOFF = RetryPolicy.untilStopped(200, 2000);

async function writeAll(
  sink: ReturnType<typeof createUserSearchSink>,
  records: ChangeRecord[],
  readAt: number,
  maxPageAgeMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  let pending = records;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (Date.now() - readAt > maxPageAgeMs) {
      // Too old to write safely (a delete's tombstone may be gone): the caller's next run reads
      // the table again, and the stream covers every change since the position.
      throw new ShardlineError(
        `A backfill page waited ${Date.now() - readAt} ms before it could be written (limit ${maxPageAgeMs} ms); stopping so a deleted user cannot be written back. Run the backfill again (SEARCH_SYNC_BACKFILL=always) once OpenSearch accepts writes.`,
        { retriable: true },
      );
    }
    const results = await sink.write(pending, { attempt, signal });
    const failed: ChangeRecord[] = [];
    results.forEach((result, i) => {
      if (result.status === 'ok') return;
      if (!result.retriable) throw result.error;
      failed.push(pending[i]!);
    });
    pending = failed;
    if (pending.length > 0) await sleep(WRITE_BACKOFF.delayMs(attempt), signal);
  }
}

/** A scanned item as an INSERT record, so the stream's sink writes it the same way. */
function scannedRecord(
  item: Record<string, AttributeValue>,
  keyNames: readonly string[],
  tableName: string,
  segment: number,
  index: number,
): ChangeRecord {
  const keys = Object.fromEntries(keyNames.map((name) => [name, item[name]!]));
  return decodeDynamoDBRecord(
    {
      eventName: 'INSERT',
      tableName,
      dynamodb: {
        Keys: keys as never,
        NewImage: item as never,
        SequenceNumber: String(index),
        StreamViewType: 'NEW_IMAGE',
      },
    },
    { streamId: `backfill:${tableName}`, shardId: `segment-${segment}` },
  );
}

async function keyAttributes(
  client: Pick<DynamoDBClient, 'send'>,
  tableName: string,
): Promise<string[]> {
  const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return (out.Table?.KeySchema ?? []).map((k) => k.AttributeName!);
}
