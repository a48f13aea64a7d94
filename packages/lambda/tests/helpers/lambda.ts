import {
  type ChangeRecord,
  compareSequenceNumbers,
  ShardlineError,
  type Sink,
  type SinkRecordResult,
} from '@shardline/core';
import type { LambdaTimeContext } from '../../src/index.js';

/** A Lambda context whose remaining time runs out `remainingMs` after it is made. */
export function fakeContext(remainingMs: number): LambdaTimeContext {
  const end = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
}

/** An error the retry policy retries (throttling, a timeout). */
export function retriableError(message = 'throttled'): ShardlineError {
  return new ShardlineError(message, { retriable: true });
}

/** An error the retry policy does not retry (bad input). */
export function permanentError(message = 'bad input'): ShardlineError {
  return new ShardlineError(message, { retriable: false });
}

/** One item held by the {@link VersionedMemorySink}. */
export interface VersionedItem {
  readonly sequenceNumber: string;
  readonly image: Record<string, unknown> | undefined;
}

/**
 * An idempotent sink, as the shipped ones are: each item keeps the sequence number of the
 * change that wrote it, and an older or equal change is acknowledged without being applied.
 */
export class VersionedMemorySink implements Sink {
  readonly name = 'versioned-memory';
  readonly items = new Map<string, VersionedItem>();
  /** Every change applied, in order. */
  readonly applied: string[] = [];

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    return records.map((record) => {
      const current = this.items.get(record.orderingKey);
      if (!current || compareSequenceNumbers(record.sequenceNumber, current.sequenceNumber) > 0) {
        this.items.set(record.orderingKey, {
          sequenceNumber: record.sequenceNumber,
          image: record.eventName === 'REMOVE' ? undefined : record.newImage,
        });
        this.applied.push(record.sequenceNumber);
      }
      return { status: 'ok' } as const;
    });
  }

  /** The sink's content, for equality checks. */
  snapshot(): Record<string, VersionedItem> {
    return Object.fromEntries([...this.items.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
