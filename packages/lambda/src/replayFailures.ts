import {
  BatchProcessor,
  type BatchProcessorOptions,
  type ChangeRecord,
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
  readonly orderingKey?: (record: ChangeRecord) => string;
  readonly signal?: AbortSignal;
}

/** Defaults of {@link replayFailures}. */
export const DEFAULT_REPLAY_MAX_RECORDS = 100;

/** What a replay did. */
export interface ReplayResult {
  /** Parked records read. */
  readonly received: number;
  /** Records applied (or parked again, in `failureDestination`) and acknowledged. */
  readonly acknowledged: number;
  /** Records that failed again and stay in the destination. */
  readonly failed: number;
}

/**
 * Reads parked records back from a failure destination and runs them through the same pipeline
 * as the handler (per-key order, retries, sink), acknowledging each one that is done so it
 * leaves the destination. Records that fail again stay there. `shardline replay` uses it.
 *
 * Each record is tried once per call: the replay stops when a `receive` brings nothing new.
 * De-duplication is off by default (the point is to apply again); sinks should be idempotent.
 *
 * @example
 * const result = await replayFailures({ destination: sqsDestination, sink });
 */
export async function replayFailures(options: ReplayFailuresOptions): Promise<ReplayResult> {
  const { destination, signal } = options;
  const processor = new BatchProcessor({ ...options, deduper: options.deduper ?? false });
  const attempted = new Set<string>();
  let received = 0;
  let acknowledged = 0;
  let failed = 0;
  while (!signal?.aborted) {
    const messages = await destination.receive({
      // Records that failed again may still be visible (a destination without visibility
      // timeouts returns them first): ask for that many more, so the replay reaches new ones.
      maxRecords: (options.maxRecords ?? DEFAULT_REPLAY_MAX_RECORDS) + failed,
      ...(signal ? { signal } : {}),
    });
    const fresh = messages.filter((m) => !attempted.has(positionOf(m.failed)));
    if (fresh.length === 0) break;
    received += fresh.length;
    for (const m of fresh) attempted.add(positionOf(m.failed));
    const decoded = fresh.map((message) => ({
      message,
      record: decodeFailedRecord(message.failed, options),
    }));
    const shards = new Map<string, typeof decoded>();
    for (const entry of decoded) {
      const shard = `${entry.record.streamId} ${entry.record.shardId}`;
      const group = shards.get(shard);
      if (group) group.push(entry);
      else shards.set(shard, [entry]);
    }
    for (const group of shards.values()) {
      group.sort((a, b) => comparePositions(a.record, b.record));
      const result = await processor.process(
        group.map((e) => e.record),
        signal ? { signal } : {},
      );
      for (let i = 0; i < group.length; i++) {
        if (isDone(result.outcomes[i])) {
          await group[i]!.message.acknowledge();
          acknowledged++;
        } else {
          failed++;
        }
      }
    }
  }
  return { received, acknowledged, failed };
}

function positionOf(failed: FailedRecord): string {
  return `${failed.streamId} ${failed.shardId} ${failed.sequenceNumber} ${failed.subSequenceNumber ?? ''}`;
}
