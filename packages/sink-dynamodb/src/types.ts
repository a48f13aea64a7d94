import type { NumberValue } from '@aws-sdk/util-dynamodb';
import type { ChangeRecord, Item, StreamViewType } from '@shardline/core';
import type { DynamoDBLedgerSummarySink } from './DynamoDBLedgerSummarySink.js';

/** A value of a summary item's key attribute: DynamoDB keys are strings, numbers or binary. */
export type SummaryKeyValue = string | number | bigint | NumberValue | Uint8Array;

/** The primary key of a summary item, as plain values (`{ vote: 'A' }`). */
export type SummaryKey = Readonly<Record<string, SummaryKeyValue>>;

/**
 * What one change does to one summary item: numbers to add to its counters (negative numbers
 * subtract). A delta with an empty `add` still counts as a contribution (see the README).
 *
 * @example
 * { key: { vote: 'A' }, add: { num: 1 } }
 */
export interface SummaryDelta {
  /** The summary item's primary key. */
  readonly key: SummaryKey;
  /** Counter attribute → amount. Integers stay exact up to 2^53; fractions add as doubles. */
  readonly add: Readonly<Record<string, number>>;
}

/**
 * What one source item, in the state of `image`, contributes to summary items (for a vote
 * count: `[{ key: { vote: image.vote }, add: { num: 1 } }]`); `[]` when it counts nowhere. The
 * ledger sink applies the difference between an item's previous and new contribution.
 */
export type ContributionFunction = (image: Item, record: ChangeRecord) => readonly SummaryDelta[];

/** Maps one change to the deltas it makes; `[]` when it changes no summary. */
export type DeltaFunction = (record: ChangeRecord) => readonly SummaryDelta[];

/**
 * A {@link DeltaFunction} together with the stream views it can work with, so a stream that
 * lacks an image it needs is reported as a configuration error instead of a wrong count.
 */
export interface SummaryMapping {
  readonly deltas: DeltaFunction;
  /** The stream view types that carry the images `deltas` reads. `undefined`: any view. */
  readonly streamViewTypes?: readonly StreamViewType[];
  /** The same summary as a contribution per item state, for {@link DynamoDBLedgerSummarySink}. */
  readonly contributions?: ContributionFunction;
}
