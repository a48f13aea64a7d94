import type { ChangeRecord } from './ChangeRecord.js';

/**
 * A shard's lag, kept true between reads: how far behind the stream its processing is, in ms,
 * computed when asked (at scrape time), not only when a page arrives.
 *
 * - Records read and not done yet (a page in progress, a handler failing and retrying): now −
 *   the approximate arrival time of the oldest of them. It grows with wall time while the shard
 *   is stuck, with no new page needed.
 * - Nothing pending: what the last successful read said. Kinesis: its `MillisBehindLatest`.
 *   DynamoDB Streams, which has no such field: the age of the page's newest record when read,
 *   and 0 for an empty page of an open shard (the reader is at the tip; the next non-empty page
 *   corrects it).
 * - Reads failing since the last success (throttling, a reader restarting): that read's lag plus
 *   the time since it, since nothing is known of what arrived meanwhile.
 * - Never read yet: unknown (`undefined`: no gauge value rather than a made-up one).
 *
 * DynamoDB Local rounds `ApproximateCreationDateTime` down to the minute, so on it the lag of a
 * record read at once shows up to 60 s; the service keeps seconds.
 */
export class ShardLag {
  #readLagMs: number | undefined;
  #readAtMs: number | undefined;
  #failing = false;
  #pendingSinceMs: number | undefined;

  /** A successful read: its lag as the source reported it (`undefined` when it had none). */
  read(millisBehindLatest: number | undefined, nowMs: number): void {
    if (millisBehindLatest !== undefined) this.#readLagMs = Math.max(0, millisBehindLatest);
    this.#readAtMs = nowMs;
    this.#failing = false;
  }

  /** A read (or the whole reader) failed; lag grows from the last success until a read succeeds. */
  readFailed(): void {
    this.#failing = true;
  }

  /**
   * The oldest record read and not done yet, or `undefined` when every record read is done. A
   * record without an arrival time counts from the last read, less that read's lag.
   */
  pending(oldest: ChangeRecord | undefined): void {
    if (oldest === undefined) {
      this.#pendingSinceMs = undefined;
      return;
    }
    this.#pendingSinceMs =
      oldest.approximateCreationTimeMs ??
      (this.#readAtMs !== undefined ? this.#readAtMs - (this.#readLagMs ?? 0) : undefined);
  }

  /** The lag at `nowMs`, in ms; `undefined` while nothing is known (no read yet). */
  valueAt(nowMs: number): number | undefined {
    if (this.#pendingSinceMs !== undefined) return Math.max(0, nowMs - this.#pendingSinceMs);
    if (this.#readAtMs === undefined || this.#readLagMs === undefined) return undefined;
    if (this.#failing) return this.#readLagMs + Math.max(0, nowMs - this.#readAtMs);
    return this.#readLagMs;
  }
}
