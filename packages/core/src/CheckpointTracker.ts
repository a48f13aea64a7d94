import type { Checkpoint } from './contracts.js';
import { ConfigurationError } from './errors.js';
import type { StreamPosition } from './sequenceNumbers.js';

/** Commits a resolved checkpoint (to a `CheckpointStore`, fenced by a lease). */
export type CommitCheckpoint = (checkpoint: Checkpoint) => Promise<void>;

/** Options of a {@link CheckpointTracker}. */
export interface CheckpointTrackerOptions {
  /** Writes a checkpoint. Without it the tracker only resolves (the Lambda runtime's case). */
  readonly commit?: CommitCheckpoint;
  /**
   * Commit once this many records were resolved since the last commit.
   * @default 1000
   */
  readonly commitEveryRecords?: number;
  /**
   * Commit once this long passed since the last commit, if anything new was resolved.
   * @default 5000
   */
  readonly commitIntervalMs?: number;
  /** The clock, in ms. @default Date.now */
  readonly now?: () => number;
}

/** Default commit thresholds, in the spirit of kafkajs' autoCommitThreshold/Interval. */
export const DEFAULT_COMMIT_EVERY_RECORDS = 1000;
/** @see DEFAULT_COMMIT_EVERY_RECORDS */
export const DEFAULT_COMMIT_INTERVAL_MS = 5000;

/**
 * Keeps the safe checkpoint of one shard: the highest position such that it and every earlier
 * record registered are done. Records are registered in shard order and finish in any order.
 *
 * Resolving is separate from committing (as in kafkajs): `markDone` only moves the resolved
 * position; `maybeCommit` writes it when the count or interval threshold is reached, and
 * `commit` writes it now (on shutdown, at shard end, before a lease handover).
 */
export class CheckpointTracker {
  readonly #positions: (StreamPosition | undefined)[] = [];
  readonly #done: boolean[] = [];
  #base = 0; // ticket number of #positions[0]
  #head = 0; // index into #positions of the first record not done
  #resolved: StreamPosition | undefined;
  #committed: Checkpoint | undefined;
  #resolvedSinceCommit = 0;
  #lastCommitAt: number;
  #committing: Promise<void> | undefined;
  readonly #commit: CommitCheckpoint | undefined;
  readonly #commitEveryRecords: number;
  readonly #commitIntervalMs: number;
  readonly #now: () => number;

  constructor(options: CheckpointTrackerOptions = {}) {
    this.#commit = options.commit;
    this.#commitEveryRecords = options.commitEveryRecords ?? DEFAULT_COMMIT_EVERY_RECORDS;
    this.#commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#commitEveryRecords) || this.#commitEveryRecords < 1) {
      throw new ConfigurationError(
        `commitEveryRecords must be a whole number of at least 1, got ${String(options.commitEveryRecords)}.`,
      );
    }
    if (!(this.#commitIntervalMs >= 0)) {
      throw new ConfigurationError(
        `commitIntervalMs must be 0 or more, got ${String(options.commitIntervalMs)}.`,
      );
    }
    this.#lastCommitAt = this.#now();
  }

  /** Registers the next record of the shard (in shard order); returns its ticket. */
  register(position: StreamPosition): number {
    this.#positions.push(position);
    this.#done.push(false);
    return this.#base + this.#positions.length - 1;
  }

  /**
   * Registers the records of a batch (in shard order) at once; returns the first ticket. The
   * tickets of the batch are that number plus each record's index.
   */
  registerBatch(positions: readonly StreamPosition[]): number {
    const first = this.#base + this.#positions.length;
    for (let i = 0; i < positions.length; i++) {
      this.#positions.push(positions[i]);
      this.#done.push(false);
    }
    return first;
  }

  /** Marks a registered record done (succeeded, duplicate or parked). */
  markDone(ticket: number): void {
    const index = ticket - this.#base;
    if (index < 0) return; // already resolved past it
    if (index >= this.#done.length) {
      throw new RangeError(`Unknown checkpoint ticket ${ticket}: register the record first.`);
    }
    this.#done[index] = true;
    if (index !== this.#head) return;
    let head = this.#head;
    while (head < this.#done.length && this.#done[head]) head++;
    this.#resolved = this.#positions[head - 1];
    this.#resolvedSinceCommit += head - this.#head;
    this.#head = head;
    // Positions are often whole records (a ChangeRecord is a StreamPosition), images and all:
    // keep none once done. Everything registered is done (a page finished): forget it all.
    if (head === this.#positions.length) {
      this.#positions.length = 0;
      this.#done.length = 0;
      this.#base += head;
      this.#head = 0;
    } else if (head > 1024 && head * 2 > this.#positions.length) {
      // Records still in flight: drop the resolved prefix now and then (amortized).
      this.#positions.splice(0, head);
      this.#done.splice(0, head);
      this.#base += head;
      this.#head = 0;
    }
  }

  /** The safe checkpoint: every record up to and including it is done. */
  get resolved(): StreamPosition | undefined {
    return this.#resolved;
  }

  /** The last checkpoint written by `commit`. */
  get committed(): Checkpoint | undefined {
    return this.#committed;
  }

  /** Records registered and not yet resolved (the in-flight window). */
  get pending(): number {
    return this.#positions.length - this.#head;
  }

  /** The first registered record that is not done, if any. */
  get firstPending(): StreamPosition | undefined {
    return this.#positions[this.#head];
  }

  /** Commits when the count or interval threshold is reached. Returns whether it committed. */
  async maybeCommit(): Promise<boolean> {
    if (this.#resolvedSinceCommit === 0) return false;
    const due =
      this.#resolvedSinceCommit >= this.#commitEveryRecords ||
      this.#now() - this.#lastCommitAt >= this.#commitIntervalMs;
    if (!due) return false;
    await this.commit();
    return true;
  }

  /**
   * Commits the resolved position now, if it moved since the last commit. Concurrent calls
   * share one write. Errors (such as `LeaseLostError`) propagate.
   */
  async commit(): Promise<void> {
    while (this.#committing) await this.#committing;
    const position = this.#resolved;
    if (!this.#commit || position === undefined || position === this.#committed) return;
    const pendingCount = this.#resolvedSinceCommit;
    this.#committing = this.#commit(position);
    try {
      await this.#committing;
      this.#committed = position;
      this.#resolvedSinceCommit -= pendingCount;
      this.#lastCommitAt = this.#now();
    } finally {
      this.#committing = undefined;
    }
  }

  /** Commits a sentinel such as `SHARD_END` (after every record of the shard is done). */
  async commitSentinel(checkpoint: Checkpoint): Promise<void> {
    if (this.pending > 0) {
      throw new RangeError(
        `Cannot commit ${String(checkpoint)}: ${this.pending} records of the shard are not done yet.`,
      );
    }
    while (this.#committing) await this.#committing;
    if (!this.#commit) return;
    await this.#commit(checkpoint);
    this.#committed = checkpoint;
    this.#resolvedSinceCommit = 0;
    this.#lastCommitAt = this.#now();
  }
}
