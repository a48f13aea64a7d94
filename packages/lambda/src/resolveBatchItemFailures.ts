import { compareSequenceNumbers, isDone, type RecordOutcome } from '@shardline/core';
import type { BatchItemFailure } from './types.js';

const DECIMAL = /^\d+$/;

/**
 * The `itemIdentifier`s of a batch, read on demand: only records that are not done need one, so
 * a batch that fully succeeds reads none.
 */
export interface ItemIdentifiers {
  readonly length: number;
  identifierAt(index: number): string;
}

/**
 * The `batchItemFailures` that move Lambda's checkpoint exactly to the first unfinished record:
 * for each shard, the single lowest `itemIdentifier` whose record is not done.
 *
 * Why only one: Lambda checkpoints at the lowest reported sequence number and redelivers
 * everything after it, so reporting more changes nothing but hides which record holds the
 * shard. Records of a KPL aggregate share their identifier, so one unfinished user record
 * reports the whole aggregate. An identifier that is not a decimal sequence number (a malformed
 * record that could not be parked) wins over every other: Lambda treats it as a failure of the
 * whole batch, the only safe answer when the position is unknown.
 *
 * @param identifiers the `itemIdentifier` of each change record (its Lambda record's), as an
 *   array or read on demand
 * @param shardKeys the shard of each change record (Lambda batches hold one shard; this is
 *   defensive)
 * @param outcomes the outcome of each change record; `undefined` counts as not done
 */
export function resolveBatchItemFailures(
  identifiers: readonly string[] | ItemIdentifiers,
  shardKeys: readonly string[] | undefined,
  outcomes: readonly (RecordOutcome | undefined)[],
): BatchItemFailure[] {
  let lowest: Map<string, string> | undefined;
  const identifierAt = Array.isArray(identifiers)
    ? (i: number) => (identifiers as readonly string[])[i]!
    : (i: number) => (identifiers as ItemIdentifiers).identifierAt(i);
  for (let i = 0; i < identifiers.length; i++) {
    if (isDone(outcomes[i])) continue;
    const shard = shardKeys?.[i] ?? '';
    const identifier = identifierAt(i);
    lowest ??= new Map();
    const current = lowest.get(shard);
    if (current === undefined || isLower(identifier, current)) lowest.set(shard, identifier);
  }
  if (!lowest) return [];
  return [...lowest.values()].map((itemIdentifier) => ({ itemIdentifier }));
}

function isLower(candidate: string, current: string): boolean {
  if (!DECIMAL.test(current)) return false;
  if (!DECIMAL.test(candidate)) return true;
  return compareSequenceNumbers(candidate, current) < 0;
}
