import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Client } from '@opensearch-project/opensearch';
import { type BootstrapProgress, bootstrapTable } from '@shardline/bootstrap';
import { createUserSearchSink } from './searchSink.js';

/** Progress of a running backfill, reported after every page. */
export interface BackfillProgress {
  readonly segments: number;
  readonly segmentsDone: number;
  /** Items read from the table so far (over every run of this backfill). */
  readonly scanned: number;
  /** Items written to the index (refused as older than the index counts as written). */
  readonly indexed: number;
  /** Pages read again because they had waited too long before being written. */
  readonly pagesReread: number;
}

/** Options of {@link backfillIndex}. */
export interface BackfillOptions {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly opensearch: Client;
  readonly index: string;
  /**
   * The lease table to keep the backfill's progress in (segment positions and claims), so a
   * backfill resumes after a crash and several processes share one.
   */
  readonly progressTable: string;
  /**
   * When the stream position was taken, in epoch ms: before the scan began, and before the
   * worker started reading (from TRIM_HORIZON, or LATEST taken at this time).
   */
  readonly streamPositionTakenAtMs: number;
  /** Parallel Scan segments. @default 4 */
  readonly segments?: number;
  /** Items per Scan page, at most. @default 100 */
  readonly pageSize?: number;
  /** The share of the table's read capacity the scan may use (see `@shardline/bootstrap`). @default 0.5 */
  readonly readPercent?: number;
  /** The table's read capacity, for an on-demand table. @default provisioned, or 4000 on demand */
  readonly readCapacityUnits?: number;
  /** Largest clock difference between this host and DynamoDB, in ms. @default 60_000 */
  readonly clockSkewMarginMs?: number;
  /**
   * A page not yet written this long after it was read is read again, so a delete the stream
   * applied meanwhile cannot be undone: OpenSearch forgets a delete's version after
   * `index.gc_deletes` (60 s by default). Keep it well under that. @default 20_000
   */
  readonly maxPageAgeMs?: number;
  /** Start over, forgetting the progress of an earlier backfill of this index. @default false */
  readonly restart?: boolean;
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
 * table can be mirrored without stopping writes: `@shardline/bootstrap`'s `bootstrapTable`,
 * within a share of the table's read capacity and resumable. Each scanned item is written as a
 * document with {@link backfillVersion}: OpenSearch refuses it when the stream already wrote a
 * newer change, and the stream's later changes refuse nothing from it. A deleted item cannot
 * come back: a page is written at most `maxPageAgeMs` after it was read (it is read again when
 * it waited longer, and retries stop at that age), well inside the time OpenSearch keeps the
 * delete's version.
 *
 * @returns the final progress.
 */
export async function backfillIndex(options: BackfillOptions): Promise<BackfillProgress> {
  const maxPageAgeMs = options.maxPageAgeMs ?? DEFAULT_BACKFILL.maxPageAgeMs;
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
  let last: BackfillProgress | undefined;
  const report = (p: BootstrapProgress): void => {
    last = {
      segments: p.parts,
      segmentsDone: p.partsDone,
      scanned: p.itemsTotal,
      indexed: p.itemsTotal,
      pagesReread: p.pagesReread,
    };
    options.onProgress?.(last);
  };
  const result = await bootstrapTable({
    client: options.dynamodb,
    table: options.tableName,
    sink,
    progressTable: options.progressTable,
    bootstrapId: `search-sync-${options.index}`,
    segments: options.segments ?? DEFAULT_BACKFILL.segments,
    maxPageItems: options.pageSize ?? DEFAULT_BACKFILL.pageSize,
    // A consistent read: the scanned copy is at least as new as every change before the scan.
    consistentRead: true,
    maxPageAgeMs,
    retry: { maxRecordAgeMs: maxPageAgeMs },
    ...(options.readPercent !== undefined ? { readPercent: options.readPercent } : {}),
    ...(options.readCapacityUnits !== undefined
      ? { readCapacityUnits: options.readCapacityUnits }
      : {}),
    ...(options.restart ? { restart: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: report,
  });
  return {
    segments: result.parts,
    segmentsDone: result.parts,
    scanned: result.itemsTotal,
    indexed: result.itemsTotal,
    pagesReread: last?.pagesReread ?? 0,
  };
}
