import {
  BatchProcessor,
  type BatchProcessorOptions,
  type ChangeRecord,
  ConfigurationError,
  comparePositions,
  type FailedRecord,
  isDone,
  type ReplayableFailureDestination,
} from '@shardline/core';
import type { KinesisPayloadFormat } from '@shardline/kinesis';
import { decodeFailedRecord } from './decodeFailedRecord.js';

/** Options of {@link replayFailures}: the same handler, sink and retry options as the handler. */
export interface ReplayFailuresOptions extends BatchProcessorOptions {
  /** Where the parked records are read from. */
  readonly destination: ReplayableFailureDestination;
  /** Payload format of plain Kinesis records. @default 'raw' */
  readonly payload?: KinesisPayloadFormat;
  /** Records asked for per `receive`. @default 100 */
  readonly maxRecords?: number;
  /**
   * The most parked records read before any is applied. Everything the destination has, up to
   * this many, is read first and then applied in stream order per shard, because a destination
   * such as an SQS standard queue returns messages in any order: applied as they came, a later
   * change of an item could be applied (and acknowledged) before an earlier one read in a later
   * receive. Beyond the bound the records are applied in chunks of about this size, each in
   * order; across chunks an item's earlier change may come after a later one (one `receive` can
   * bring `maxRecords` more than the bound, so a chunk may be a little larger).
   * @default DEFAULT_REPLAY_MAX_BUFFERED_RECORDS (10_000)
   */
  readonly maxBufferedRecords?: number;
  readonly orderingKey?: (record: ChangeRecord) => string;
  readonly signal?: AbortSignal;
}

/** Defaults of {@link replayFailures}. */
export const DEFAULT_REPLAY_MAX_RECORDS = 100;
/** @see ReplayFailuresOptions.maxBufferedRecords */
export const DEFAULT_REPLAY_MAX_BUFFERED_RECORDS = 10_000;

/** What a replay did. */
export interface ReplayResult {
  /** Parked records read. */
  readonly received: number;
  /** Records applied (or parked again, in `failureDestination`) and acknowledged. */
  readonly acknowledged: number;
  /** Records that failed again and stay in the destination. */
  readonly failed: number;
}

type Received = Awaited<ReturnType<ReplayableFailureDestination['receive']>>[number];

/**
 * Reads parked records back from a failure destination and runs them through the same pipeline
 * as the handler (per-key order, retries, sink), acknowledging each one that is done so it
 * leaves the destination. Records that fail again stay there. `shardline replay` uses it.
 *
 * Order: everything available (up to `maxBufferedRecords`) is read before anything is applied,
 * then applied per shard in stream position order (shards with older records first), so an
 * item's changes are applied in the order they happened whatever order the destination returns
 * them in. Past the bound, chunks are applied one after another, each in order; a sink that
 * keeps per-item versions (the shipped ones do) still ends right, an unversioned one may not:
 * raise the bound above the number of parked records for it.
 *
 * Each record is tried once per call: the replay stops when a `receive` brings nothing new.
 * De-duplication is off by default (the point is to apply again); sinks should be idempotent.
 *
 * @example
 * const result = await replayFailures({ destination: sqsDestination, sink });
 */
export async function replayFailures(options: ReplayFailuresOptions): Promise<ReplayResult> {
  const { destination, signal } = options;
  const perReceive = wholeAtLeastOne('maxRecords', options.maxRecords, DEFAULT_REPLAY_MAX_RECORDS);
  const bound = wholeAtLeastOne(
    'maxBufferedRecords',
    options.maxBufferedRecords,
    DEFAULT_REPLAY_MAX_BUFFERED_RECORDS,
  );
  const processor = new BatchProcessor({ ...options, deduper: options.deduper ?? false });
  const attempted = new Set<string>();
  let received = 0;
  let acknowledged = 0;
  let failed = 0;
  while (!signal?.aborted) {
    const chunk: Received[] = [];
    let drained = false;
    while (chunk.length < bound && !signal?.aborted) {
      const messages = await destination.receive({
        // Records held unacknowledged, and those that failed again, may still be visible (a
        // destination without visibility timeouts returns them first): ask for that many more,
        // so every receive can reach new ones.
        maxRecords: perReceive + chunk.length + failed,
        ...(signal ? { signal } : {}),
      });
      const fresh = messages.filter((m) => !attempted.has(positionOf(m.failed)));
      if (fresh.length === 0) {
        drained = true;
        break;
      }
      for (const m of fresh) {
        attempted.add(positionOf(m.failed));
        chunk.push(m);
      }
    }
    if (chunk.length === 0) break;
    received += chunk.length;
    const done = await applyInOrder(processor, chunk, options, signal);
    acknowledged += done;
    failed += chunk.length - done;
    if (drained) break;
  }
  return { received, acknowledged, failed };
}

/** Applies one chunk per shard in position order, acknowledging what is done; returns that count. */
async function applyInOrder(
  processor: BatchProcessor,
  chunk: readonly Received[],
  options: ReplayFailuresOptions,
  signal: AbortSignal | undefined,
): Promise<number> {
  const shards = new Map<string, { message: Received; record: ChangeRecord }[]>();
  for (const message of chunk) {
    const record = decodeFailedRecord(message.failed, options);
    const shard = `${record.streamId} ${record.shardId}`;
    const group = shards.get(shard);
    if (group) group.push({ message, record });
    else shards.set(shard, [{ message, record }]);
  }
  const groups = [...shards.values()];
  for (const group of groups) group.sort((a, b) => comparePositions(a.record, b.record));
  // A parent shard's records are older than its children's: start with the oldest shard.
  groups.sort((a, b) => comparePositions(a[0]!.record, b[0]!.record));
  let done = 0;
  for (const group of groups) {
    const result = await processor.process(
      group.map((e) => e.record),
      signal ? { signal } : {},
    );
    for (let i = 0; i < group.length; i++) {
      if (isDone(result.outcomes[i])) {
        await group[i]!.message.acknowledge();
        done++;
      }
    }
  }
  return done;
}

function wholeAtLeastOne(name: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigurationError(
      `${name} must be a whole number of 1 or more, got ${String(value)}.`,
    );
  }
  return n;
}

function positionOf(failed: FailedRecord): string {
  return `${failed.streamId} ${failed.shardId} ${failed.sequenceNumber} ${failed.subSequenceNumber ?? ''}`;
}
