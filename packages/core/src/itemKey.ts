import type { ChangeRecord } from './ChangeRecord.js';
import { canonicalKey } from './orderingKey.js';

/**
 * The identity of the item a change is about: the table name and the canonical primary key
 * (`Votes/id=S:v1`), or `undefined` for a record that is not an item change (a plain Kinesis
 * record).
 *
 * Why not the ordering key: the ordering key says which changes run one after another, and it
 * can be overridden (`orderingKey` option) to group several items, a tenant say. A version
 * compares only changes of one item, so the stale check keys on this, never on the ordering
 * key. The table name is part of it because several tables may stream into one Kinesis stream.
 *
 * @example
 * itemKey(record) // 'Votes/id=S:v1'
 */
export function itemKey(
  record: Pick<ChangeRecord, 'tableName' | 'marshalledKeys'>,
): string | undefined {
  const keys = record.marshalledKeys;
  if (!keys) return undefined;
  const key = canonicalKey(keys);
  return record.tableName === undefined ? key : `${record.tableName}/${key}`;
}
