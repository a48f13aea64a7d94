import type { ChangeRecord } from './ChangeRecord.js';
import { padSequenceNumber } from './sequenceNumbers.js';

/** Digits a sequence number or a version is padded to (Kinesis: 56 digits; DynamoDB Streams: 21 to 40). */
export const VERSION_WIDTH = 64;
/** Digits a KPL sub-sequence number is padded to. */
export const SUB_SEQUENCE_WIDTH = 10;
/**
 * The version of an item read by a bootstrap (`record.bootstrap`): below every version
 * {@link changeVersion} gives a stream change (`'0'` is a proper prefix of each of them), so any
 * stream change of the item replaces what a bootstrap wrote, and a bootstrap never replaces
 * anything.
 */
export const BOOTSTRAP_VERSION = '0';

/**
 * A record's position in its shard as a fixed-width string whose string order is stream order:
 * the sequence number zero-padded to {@link VERSION_WIDTH} digits, then `:` and the padded
 * sub-sequence for a record of a KPL aggregate. DynamoDB compares strings byte by byte, so
 * `a < b` in a condition expression is numeric order.
 *
 * @example
 * paddedPosition({ sequenceNumber: '120', subSequenceNumber: undefined }) // '000…0120' (64 digits)
 */
export function paddedPosition(
  record: Pick<ChangeRecord, 'sequenceNumber' | 'subSequenceNumber'>,
): string {
  const sequence = padSequenceNumber(record.sequenceNumber, VERSION_WIDTH);
  if (record.subSequenceNumber === undefined) return sequence;
  return `${sequence}:${String(record.subSequenceNumber).padStart(SUB_SEQUENCE_WIDTH, '0')}`;
}

/**
 * The version of one item's change: a string whose string order is the order of that item's
 * changes, computed from the record alone so a replay, a redelivery or a concurrent invocation
 * computes the same one. Sinks that keep an item's latest state store it and write only a
 * higher one (DynamoDB condition expressions compare strings).
 *
 * - DynamoDB Streams (no `record.version`): {@link paddedPosition}. DynamoDB numbers the changes
 *   of one item in increasing order, across shard rollovers and splits too (a child shard's
 *   numbers are above its parent's), so the sequence number orders them without the shard id.
 * - Kinesis Data Streams for DynamoDB (`record.version` set: the creation time in µs): the
 *   version zero-padded to {@link VERSION_WIDTH} digits. Its Kinesis sequence numbers do not
 *   order one item's changes (a duplicate arrives again under a larger number), the creation
 *   time does. Two changes of one item in the same µs (the same ms at the destination's default
 *   MILLISECOND precision) get the same version: whichever is applied first stays.
 * - A bootstrap record (`record.bootstrap`): {@link BOOTSTRAP_VERSION}, below all of these.
 *
 * Versions of different items, or of one item from different kinds of source, do not compare.
 *
 * @example
 * changeVersion(record) > storedVersion // this change is newer than the one stored
 */
export function changeVersion(
  record: Pick<ChangeRecord, 'sequenceNumber' | 'subSequenceNumber' | 'version' | 'bootstrap'>,
): string {
  if (record.bootstrap === true) return BOOTSTRAP_VERSION;
  if (record.version !== undefined) {
    if (record.version < 0n) {
      throw new RangeError(`A change version must not be negative, got ${record.version}`);
    }
    return padSequenceNumber(record.version.toString(), VERSION_WIDTH);
  }
  return paddedPosition(record);
}
