import type { FilterReason } from './RecordSelector.js';

/** What happened to one record of a batch. */
export const OutcomeStatus = {
  /** The handler or sink applied it. */
  Succeeded: 'succeeded',
  /** Dropped by the deduper as already applied (or, for a last-writer-wins target, older than an applied change of its item). */
  Duplicate: 'duplicate',
  /** Given up on by the retry policy and sent whole to the failure destination. Counts as done. */
  Parked: 'parked',
  /** Failed and not parked: not done; the checkpoint stops before it. */
  Failed: 'failed',
  /** Not run because an earlier record of the same key failed in this batch. Not done. */
  Blocked: 'blocked',
  /**
   * Left out before the handler by a filter, `ttlDeletes: 'skip'` or a global tables option.
   * Counts as done: checkpointed, never retried, never sent to the failure destination.
   */
  Filtered: 'filtered',
} as const;
/** One of {@link OutcomeStatus}. */
export type OutcomeStatus = (typeof OutcomeStatus)[keyof typeof OutcomeStatus];

/** The outcome of one record, with the error and attempt count where it failed. */
export type RecordOutcome =
  | { readonly status: 'succeeded' }
  | { readonly status: 'duplicate'; readonly reason: 'seen' | 'stale' }
  | { readonly status: 'parked'; readonly error: Error; readonly attempts: number }
  | { readonly status: 'failed'; readonly error: Error; readonly attempts: number }
  | {
      readonly status: 'blocked';
      /** Why it was not run: an earlier failure of its key, the time limit, or an abort. */
      readonly reason: 'key-failed' | 'deadline' | 'aborted';
      /** The sequence number of the failed record of the same key, for `key-failed`. */
      readonly blockedBy?: string;
    }
  | { readonly status: 'filtered'; readonly reason: FilterReason };

/** The shared outcome object for a success: no allocation per record on the hot path. */
export const SUCCEEDED: RecordOutcome = Object.freeze({ status: OutcomeStatus.Succeeded });

/** The shared outcome of a record not started because its caller aborted. */
export const ABORTED: RecordOutcome = Object.freeze({
  status: OutcomeStatus.Blocked,
  reason: 'aborted',
});

/** The outcome of a record not run because `blockedBy`, an earlier record of its key, failed. */
export function blockedBehind(blockedBy: string): RecordOutcome {
  return { status: OutcomeStatus.Blocked, reason: 'key-failed', blockedBy };
}

/**
 * The keys of a batch that stopped at a record that stays failed, each with that record's
 * sequence number: their later records are blocked, so no change of a key overtakes one that
 * is redelivered. The first failure of a key is the one kept.
 */
export class FailedKeys {
  readonly #blockedBy = new Map<string, string>();

  /** Notes that `record` stays failed: the later records of its key are blocked. */
  add(record: { readonly orderingKey: string; readonly sequenceNumber: string }): void {
    if (!this.#blockedBy.has(record.orderingKey)) {
      this.#blockedBy.set(record.orderingKey, record.sequenceNumber);
    }
  }

  /** The `blocked` outcome of a record of `key` when the key failed, else `undefined`. */
  blocked(key: string): RecordOutcome | undefined {
    const blockedBy = this.#blockedBy.get(key);
    return blockedBy === undefined ? undefined : blockedBehind(blockedBy);
  }
}

/** Whether an outcome lets the checkpoint move past the record. */
export function isDone(outcome: RecordOutcome | undefined): boolean {
  return (
    outcome !== undefined &&
    (outcome.status === 'succeeded' ||
      outcome.status === 'duplicate' ||
      outcome.status === 'parked' ||
      outcome.status === 'filtered')
  );
}
