import type { ChangeRecord, Sink, SinkRecordResult } from '../../src/index.js';

/**
 * A sink over a Map that applies records in the order given, and can be told to fail records
 * (by sequence number) a number of times, or to throw for a whole batch containing a record.
 */
export class ScriptedSink implements Sink {
  readonly name = 'scripted';
  readonly applied: string[] = [];
  readonly writes: number[] = [];
  readonly #failures = new Map<string, { times: number; retriable: boolean }>();
  readonly #poison = new Set<string>();

  failRecord(sequenceNumber: string, times: number, retriable = true): void {
    this.#failures.set(sequenceNumber, { times, retriable });
  }

  /** Any batch containing this record throws as a whole. */
  poison(sequenceNumber: string): void {
    this.#poison.add(sequenceNumber);
  }

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    this.writes.push(records.length);
    if (records.some((r) => this.#poison.has(r.sequenceNumber))) throw new Error('batch rejected');
    return records.map((record) => {
      const failure = this.#failures.get(record.sequenceNumber);
      if (failure && failure.times > 0) {
        failure.times--;
        return {
          status: 'failed',
          error: new Error(`cannot write ${record.sequenceNumber}`),
          retriable: failure.retriable,
        };
      }
      this.applied.push(record.sequenceNumber);
      return { status: 'ok' };
    });
  }
}

/**
 * A counting sink that applies deltas, as the DynamoDB summary sinks do: each change adds its
 * `newImage.n` minus its `oldImage.n` to the item's total. It needs every change once, in any
 * order; dropping one loses its delta.
 */
export class DeltaCountSink implements Sink {
  readonly name = 'delta-count';
  readonly effect = 'delta' as const;
  readonly totals = new Map<string, number>();
  readonly applied: string[] = [];

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    return records.map((record) => {
      const id = String(record.keys?.id);
      const delta = Number(record.newImage?.n ?? 0) - Number(record.oldImage?.n ?? 0);
      this.totals.set(id, (this.totals.get(id) ?? 0) + delta);
      this.applied.push(record.eventId);
      return { status: 'ok' };
    });
  }
}

/** A replica of each item's latest image, keyed by item id: a last-writer-wins target. */
export class ReplicaSink implements Sink {
  readonly name = 'replica';
  readonly effect = 'last-writer-wins' as const;
  readonly items = new Map<string, Record<string, unknown> | undefined>();
  readonly applied: string[] = [];

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    return records.map((record) => {
      this.items.set(String(record.keys?.id), record.newImage);
      this.applied.push(record.eventId);
      return { status: 'ok' };
    });
  }
}
