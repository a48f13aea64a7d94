import { readFileSync } from 'node:fs';
import {
  ChangeEffect,
  type ChangeRecord,
  compareSequenceNumbers,
  ShardlineError,
  type Sink,
  type SinkRecordResult,
} from '@shardline/core';
import { aggregate } from 'aws-kinesis-agg';
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

/**
 * A counting sink, as the DynamoDB summary sinks are: each change adds its `newImage.n` minus its
 * `oldImage.n` to the item's total, so it needs every change once, in any order.
 */
export class DeltaCountSink implements Sink {
  readonly name = 'delta-count';
  readonly effect = ChangeEffect.Delta;
  readonly totals = new Map<string, number>();

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    return records.map((record) => {
      const id = record.orderingKey;
      const delta = Number(record.newImage?.n ?? 0) - Number(record.oldImage?.n ?? 0);
      this.totals.set(id, (this.totals.get(id) ?? 0) + delta);
      return { status: 'ok' } as const;
    });
  }
}

/** Reads a JSON file of tests/fixtures (documented sample events). */
export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

/** Packs user records into one KPL aggregate, as the KPL does (magic, protobuf, MD5). */
export function kplAggregate(
  users: readonly { partitionKey: string; data: string; explicitHashKey?: string }[],
): Promise<{ partitionKey: string; explicitHashKey?: string; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const encoded: { partitionKey: string; explicitHashKey?: string; data: Buffer }[] = [];
    aggregate(
      users.map((u) => ({ ...u, data: Buffer.from(u.data) })),
      (record, callback) => {
        encoded.push(record);
        callback();
      },
      () => {
        if (encoded.length === 1) resolve(encoded[0]!);
        else reject(new Error(`expected one aggregate, got ${encoded.length}`));
      },
      reject,
    );
  });
}
