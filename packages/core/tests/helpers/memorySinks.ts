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
