import type { Checkpoint } from './contracts.js';

/**
 * A checkpoint as people read it: a sentinel (`TRIM_HORIZON`), a sequence number, or
 * `sequence:subSequence` inside a KPL aggregate; `(none)` when there is none yet. Used by the
 * CLI's tables and the worker's log lines alike.
 */
export function describeCheckpoint(checkpoint: Checkpoint | undefined): string {
  if (checkpoint === undefined) return '(none)';
  if (typeof checkpoint === 'string') return checkpoint;
  // The KCL writes sub-sequence 0 for records that were not KPL-aggregated: nothing to show.
  return !checkpoint.subSequenceNumber
    ? checkpoint.sequenceNumber
    : `${checkpoint.sequenceNumber}:${checkpoint.subSequenceNumber}`;
}
