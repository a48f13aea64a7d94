/**
 * Sequence numbers are decimal strings of varying length (DynamoDB: 21+ digits, Kinesis: 56),
 * so they are compared as integers, never as strings.
 */

/** A position in a shard: a sequence number and, inside a KPL aggregate, a sub-sequence. */
export interface StreamPosition {
  readonly sequenceNumber: string;
  readonly subSequenceNumber?: number | undefined;
}

/** Compares two sequence numbers numerically: negative, zero or positive. */
export function compareSequenceNumbers(a: string, b: string): number {
  // Fast path: the same length compares the same as strings, with no BigInt allocation.
  if (a.length === b.length) return a < b ? -1 : a > b ? 1 : 0;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Compares two positions: sequence number first, then sub-sequence (absent sorts first). */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  const bySequence = compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber);
  if (bySequence !== 0) return bySequence;
  return (a.subSequenceNumber ?? -1) - (b.subSequenceNumber ?? -1);
}

/**
 * Pads a sequence number with zeros to a fixed width, so that string comparison is numeric
 * (for DynamoDB condition expressions, which compare strings).
 * @throws RangeError when the number is longer than `width`.
 */
export function padSequenceNumber(sequenceNumber: string, width = 64): string {
  if (!/^\d+$/.test(sequenceNumber)) {
    throw new RangeError(`Sequence number must be decimal digits, got "${sequenceNumber}"`);
  }
  if (sequenceNumber.length > width) {
    throw new RangeError(`Sequence number ${sequenceNumber} is longer than ${width} digits`);
  }
  return sequenceNumber.padStart(width, '0');
}
