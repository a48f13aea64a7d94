import type { ChangeEventName, ChangeRecord, Item } from '@shardline/core';
import { usageError } from './CliError.js';

/** One condition of `--filter`: `attr=value`, `attr!=value`, or `attr` (present). */
export interface FilterCondition {
  readonly attribute: string;
  readonly op: '=' | '!=' | 'exists';
  readonly value: string | undefined;
}

/** What `tail` prints: conditions (all must hold) and event names. */
export interface RecordFilter {
  readonly conditions: readonly FilterCondition[];
  readonly events: ReadonlySet<ChangeEventName> | undefined;
}

const CONDITION = /^([^=!]+?)\s*(!=|=)\s*(.*)$/;

/**
 * Parses `--filter` expressions (`vote=A`, `vote!=B`, `Email`) and `--events insert,remove`.
 *
 * @throws CliError (usage) naming the bad expression and the accepted forms.
 */
export function parseRecordFilter(
  expressions: readonly string[],
  events: string | undefined,
): RecordFilter {
  const conditions = expressions.map((text): FilterCondition => {
    const match = CONDITION.exec(text);
    if (match) {
      const attribute = match[1]!.trim();
      if (attribute.length > 0)
        return { attribute, op: match[2] as '=' | '!=', value: match[3]!.trim() };
    } else if (/^[^\s=!]+$/.test(text)) {
      return { attribute: text, op: 'exists', value: undefined };
    }
    throw usageError(
      `--filter "${text}" is not a condition.`,
      'Use attr=value, attr!=value or attr (the attribute is present), e.g. --filter vote=A.',
    );
  });
  let eventSet: Set<ChangeEventName> | undefined;
  if (events !== undefined) {
    eventSet = new Set();
    for (const name of events.split(',').map((e) => e.trim().toUpperCase())) {
      if (name !== 'INSERT' && name !== 'MODIFY' && name !== 'REMOVE' && name !== 'RECORD') {
        throw usageError(
          `--events "${events}" names an unknown event "${name}".`,
          'Use a comma-separated list of insert, modify, remove (and record for plain Kinesis).',
        );
      }
      eventSet.add(name);
    }
  }
  return { conditions, events: eventSet };
}

/**
 * Whether a change passes the filter: its event is selected, and its new image (or its old image,
 * so a vote moved away from A still shows under `vote=A`) satisfies every condition.
 */
export function matchesFilter(record: ChangeRecord, filter: RecordFilter): boolean {
  if (filter.events && !filter.events.has(record.eventName)) return false;
  if (filter.conditions.length === 0) return true;
  const images = [record.newImage, record.oldImage, record.keys].filter(
    (i): i is Item => i !== undefined,
  );
  return images.some((image) => filter.conditions.every((c) => holds(image, c)));
}

function holds(image: Item, condition: FilterCondition): boolean {
  const value = image[condition.attribute];
  switch (condition.op) {
    case 'exists':
      return value !== undefined;
    case '=':
      return value !== undefined && String(value) === condition.value;
    case '!=':
      return value === undefined || String(value) !== condition.value;
  }
}
