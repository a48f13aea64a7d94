import type { ChangeRecord, StreamViewType } from './ChangeRecord.js';
import { ChangeEffect, type Sink, type SinkContext, type SinkRecordResult } from './contracts.js';
import { ConfigurationError, errorMessage, isRetriable, ShardlineError } from './errors.js';
import { OldestEntries } from './OldestEntries.js';

/** Options of a {@link FanOutSink}. */
export interface FanOutSinkOptions {
  /** The sinks every record goes to. At least one. */
  readonly targets: readonly Sink[];
  /** Name for logs and metrics. @default `fan-out(<target names>)` */
  readonly name?: string;
  /**
   * How many records to remember that some targets already applied while others failed, so a
   * retry goes only to the targets that still miss them. Oldest entries are forgotten first;
   * a forgotten record is simply written to every target again.
   * @default 10_000
   */
  readonly maxPendingRecords?: number;
}

/** Default of {@link FanOutSinkOptions.maxPendingRecords}. */
export const DEFAULT_MAX_PENDING_RECORDS = 10_000;

/**
 * Sends every record to several sinks at once (an archive on S3 and a summary table, say).
 * A record is `ok` only when every target has it; otherwise it fails with the first target's
 * error, and it is retriable only when every failing target said so.
 *
 * Why it remembers partial successes: when target A applied a record and target B failed, the
 * pipeline retries the record, and the retry goes to B only. Targets should still be idempotent
 * (the ones Shardline ships are), because that memory is bounded and lives in one process.
 *
 * @example
 * const sink = new FanOutSink({ targets: [summarySink, archiveSink] });
 * const processor = new BatchProcessor({ sink });
 */
export class FanOutSink implements Sink {
  readonly name: string;
  readonly maxBatchSize: number | undefined;
  /**
   * `last-writer-wins` only when every target is: a stale change dropped for one target would
   * be lost for the others. Otherwise `delta` when a target is, else `every-change`.
   */
  readonly effect: ChangeEffect;
  /** The view types every target can work with (the intersection of theirs). */
  readonly requiredStreamViewTypes: readonly StreamViewType[] | undefined;
  readonly #targets: readonly Sink[];
  readonly #maxPending: number;
  /** eventId → indexes of the targets that already applied the record. */
  readonly #applied = new Map<string, Set<number>>();
  readonly #oldestApplied = new OldestEntries(this.#applied);

  constructor(options: FanOutSinkOptions) {
    if (!Array.isArray(options?.targets) || options.targets.length === 0) {
      throw new ConfigurationError(
        `FanOutSink needs at least one target sink, got ${String(options?.targets?.length ?? options?.targets)}; pass targets: [sinkA, sinkB].`,
      );
    }
    this.#maxPending = options.maxPendingRecords ?? DEFAULT_MAX_PENDING_RECORDS;
    if (!Number.isInteger(this.#maxPending) || this.#maxPending < 0) {
      throw new ConfigurationError(
        `maxPendingRecords must be a whole number of 0 or more, got ${String(options.maxPendingRecords)}.`,
      );
    }
    this.#targets = [...options.targets];
    // Every target gets every record: the stream must suit them all.
    const needs = this.#targets.flatMap((t) =>
      t.requiredStreamViewTypes ? [t.requiredStreamViewTypes] : [],
    );
    if (needs.length > 0) {
      this.requiredStreamViewTypes = needs.reduce((a, b) => a.filter((v) => b.includes(v)));
    }
    this.name = options.name ?? `fan-out(${this.#targets.map((t) => t.name).join(',')})`;
    const sizes = this.#targets
      .map((t) => t.maxBatchSize)
      .filter((n): n is number => n !== undefined);
    this.maxBatchSize = sizes.length > 0 ? Math.min(...sizes) : undefined;
    const effects = this.#targets.map((t) => t.effect ?? ChangeEffect.EveryChange);
    this.effect = effects.every((e) => e === ChangeEffect.LastWriterWins)
      ? ChangeEffect.LastWriterWins
      : effects.includes(ChangeEffect.Delta)
        ? ChangeEffect.Delta
        : ChangeEffect.EveryChange;
  }

  async write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]> {
    const perTarget = await Promise.all(
      this.#targets.map((target, t) => this.#writeTarget(target, t, records, context)),
    );
    return records.map((record, i) => {
      const failures: { target: Sink; result: Extract<SinkRecordResult, { status: 'failed' }> }[] =
        [];
      for (let t = 0; t < this.#targets.length; t++) {
        const result = perTarget[t]![i]!;
        if (result.status === 'failed') failures.push({ target: this.#targets[t]!, result });
      }
      if (failures.length === 0) {
        this.#applied.delete(record.eventId);
        return { status: 'ok' } as const;
      }
      for (let t = 0; t < this.#targets.length; t++) {
        if (perTarget[t]![i]!.status === 'ok') this.#remember(record.eventId, t);
      }
      const retriable = failures.every((f) => f.result.retriable);
      const first = failures[0]!;
      const error = new ShardlineError(
        `Sink ${first.target.name} failed record ${record.sequenceNumber} of shard ${record.shardId}: ${errorMessage(first.result.error)}${failures.length > 1 ? ` (and ${failures.length - 1} more target(s) failed)` : ''}`,
        { cause: first.result.error, retriable },
      );
      return { status: 'failed', error, retriable } as const;
    });
  }

  async flush(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.#targets.map((t) => t.flush?.(signal)));
  }

  async close(): Promise<void> {
    await Promise.all(this.#targets.map((t) => t.close?.()));
  }

  /** Writes the records target `t` still misses; a whole-batch throw fails those records. */
  async #writeTarget(
    target: Sink,
    t: number,
    records: readonly ChangeRecord[],
    context: SinkContext,
  ): Promise<SinkRecordResult[]> {
    const results = new Array<SinkRecordResult>(records.length).fill({ status: 'ok' });
    const missing: number[] = [];
    for (let i = 0; i < records.length; i++) {
      if (!this.#applied.get(records[i]!.eventId)?.has(t)) missing.push(i);
    }
    if (missing.length === 0) return results;
    try {
      const written = await target.write(
        missing.map((i) => records[i]!),
        context,
      );
      if (written.length !== missing.length) {
        throw new ShardlineError(
          `Sink ${target.name} returned ${written.length} results for ${missing.length} records; a sink must return one result per record.`,
        );
      }
      for (let j = 0; j < missing.length; j++) results[missing[j]!] = written[j]!;
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      const failed: SinkRecordResult = { status: 'failed', error, retriable: isRetriable(thrown) };
      for (const i of missing) results[i] = failed;
    }
    return results;
  }

  #remember(eventId: string, target: number): void {
    if (this.#maxPending === 0) return;
    let applied = this.#applied.get(eventId);
    if (!applied) {
      applied = new Set();
      this.#applied.set(eventId, applied);
      this.#oldestApplied.trimTo(this.#maxPending);
    }
    applied.add(target);
  }
}
