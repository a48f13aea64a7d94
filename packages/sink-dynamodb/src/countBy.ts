import { NumberValueImpl } from '@aws-sdk/util-dynamodb';
import { type ChangeRecord, ConfigurationError, type Item, StreamViewType } from '@shardline/core';
import type { SummaryDelta, SummaryKey, SummaryKeyValue, SummaryMapping } from './types.js';

/** Options of {@link countBy}. */
export interface CountByOptions {
  /** The attribute of the source item to count by (`vote`). */
  readonly attribute: string;
  /** The key attribute of the summary item that holds the value. @default attribute */
  readonly summaryKey?: string;
  /** The counter attribute of the summary item. @default DEFAULT_COUNTER_ATTRIBUTE */
  readonly counter?: string;
}

/** Default of {@link CountByOptions.counter}. */
export const DEFAULT_COUNTER_ATTRIBUTE = 'count';

/**
 * The common summary: how many source items currently hold each value of one attribute.
 * INSERT of value A adds 1 to A; MODIFY from A to B subtracts 1 from A and adds 1 to B (nothing
 * when the value did not change); REMOVE subtracts 1 from the old value. Items without the
 * attribute are not counted.
 *
 * Needs both images (stream view `NEW_AND_OLD_IMAGES`): a MODIFY or REMOVE without its old
 * image cannot say which count to decrement.
 *
 * @example
 * new DynamoDBSummarySink({
 *   client, tableName: 'VoteSummary',
 *   deltas: countBy({ attribute: 'vote', counter: 'num' }),
 * });
 */
export function countBy(options: CountByOptions): SummaryMapping {
  const attribute = options?.attribute;
  if (typeof attribute !== 'string' || attribute.length === 0) {
    throw new ConfigurationError(
      `countBy needs the attribute to count by, got ${JSON.stringify(attribute)}; pass countBy({ attribute: 'vote' }).`,
    );
  }
  const summaryKey = options.summaryKey ?? attribute;
  const counter = options.counter ?? DEFAULT_COUNTER_ATTRIBUTE;
  if (counter === summaryKey) {
    throw new ConfigurationError(
      `countBy: counter and summaryKey are both "${counter}"; a key attribute cannot be a counter, pick another counter name.`,
    );
  }
  const delta = (value: SummaryKeyValue, amount: number): SummaryDelta => ({
    key: { [summaryKey]: value } as SummaryKey,
    add: { [counter]: amount },
  });
  return {
    streamViewTypes: [StreamViewType.NewAndOldImages],
    contributions(item: Item): SummaryDelta[] {
      const value = attributeValue(item, attribute);
      return value === undefined ? [] : [delta(value, 1)];
    },
    deltas(record: ChangeRecord): SummaryDelta[] {
      switch (record.eventName) {
        case 'INSERT': {
          const value = attributeValue(image(record, 'newImage'), attribute);
          return value === undefined ? [] : [delta(value, 1)];
        }
        case 'MODIFY': {
          const before = attributeValue(image(record, 'oldImage'), attribute);
          const after = attributeValue(image(record, 'newImage'), attribute);
          if (sameValue(before, after)) return [];
          const out: SummaryDelta[] = [];
          if (before !== undefined) out.push(delta(before, -1));
          if (after !== undefined) out.push(delta(after, 1));
          return out;
        }
        case 'REMOVE': {
          const value = attributeValue(image(record, 'oldImage'), attribute);
          return value === undefined ? [] : [delta(value, -1)];
        }
        default:
          return [];
      }
    },
  };
}

function image(record: ChangeRecord, which: 'newImage' | 'oldImage'): Item {
  const found = record[which];
  if (found) return found;
  throw new ConfigurationError(
    `countBy needs the ${which === 'newImage' ? 'new' : 'old'} image of ${record.eventName} records, and record ${record.sequenceNumber} of shard ${record.shardId} has none (stream view ${record.streamViewType ?? 'unknown'}). Set the table's StreamViewType to NEW_AND_OLD_IMAGES.`,
  );
}

function attributeValue(item: Item, attribute: string): SummaryKeyValue | undefined {
  const value = item[attribute];
  if (value === undefined || value === null) return undefined;
  if (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    value instanceof Uint8Array ||
    isNumberValue(value)
  ) {
    return value as SummaryKeyValue;
  }
  // Sets, lists, maps and booleans cannot be DynamoDB key values.
  return undefined;
}

function isNumberValue(value: unknown): boolean {
  return value instanceof NumberValueImpl;
}

function sameValue(a: SummaryKeyValue | undefined, b: SummaryKeyValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(b);
  // A number may come back as number or NumberValue; compare their exact decimal text.
  return typeof a !== 'string' && typeof b !== 'string' && String(a) === String(b);
}
