import {
  BOOTSTRAP_VERSION,
  type ChangeRecord,
  errorMessage,
  ShardlineError,
  type SinkRecordResult,
  toError,
} from '@shardline/core';
import { runConcurrently } from './runConcurrently.js';

/** How {@link applyNewestPerItem} identifies, orders and applies the changes of a batch. */
export interface NewestPerItemOptions {
  /** The source item a record changes (throws for a record that is not an item change). */
  readonly idOf: (record: ChangeRecord) => string;
  /** The version of a stream change (bootstrap records get core's `BOOTSTRAP_VERSION`). */
  readonly versionOf: (record: ChangeRecord) => string;
  /** Source items applied at once. */
  readonly concurrency: number;
  /** Applies the newest change of one source item. */
  readonly apply: (id: string, version: string, record: ChangeRecord) => Promise<SinkRecordResult>;
}

/**
 * Applies a batch to a sink whose target is a function of each source item's latest state
 * (ledger entries, projections): per source item only the change with the highest version is
 * applied, whatever its place in the batch, and the item's other records share its outcome
 * (they are superseded once it lands). Source items run concurrently, at most `concurrency` at
 * once. A record that cannot be identified fails alone, not retriable.
 */
export async function applyNewestPerItem(
  records: readonly ChangeRecord[],
  options: NewestPerItemOptions,
): Promise<SinkRecordResult[]> {
  const results: SinkRecordResult[] = new Array(records.length);
  const groups = new Map<string, { indexes: number[]; newest: number; version: string }>();
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    let id: string;
    let version: string;
    try {
      id = options.idOf(record);
      version = record.bootstrap === true ? BOOTSTRAP_VERSION : options.versionOf(record);
    } catch (error) {
      results[index] = failed(asShardlineError(error, record, 'could not be identified'), false);
      continue;
    }
    const group = groups.get(id);
    if (!group) groups.set(id, { indexes: [index], newest: index, version });
    else {
      group.indexes.push(index);
      if (version > group.version) {
        group.newest = index;
        group.version = version;
      }
    }
  }
  await runConcurrently([...groups], options.concurrency, async ([id, group]) => {
    const outcome = await options.apply(id, group.version, records[group.newest]!);
    for (const index of group.indexes) results[index] = outcome;
  });
  return results;
}

/** A failed record result. */
export function failed(error: Error, retriable: boolean): SinkRecordResult {
  return { status: 'failed', error, retriable };
}

/** `error` as a not retriable `ShardlineError` naming the record, unless it is one already. */
export function asShardlineError(
  error: unknown,
  record: ChangeRecord,
  what: string,
): ShardlineError {
  if (error instanceof ShardlineError) return error;
  return new ShardlineError(
    `Record ${record.sequenceNumber} of shard ${record.shardId} ${what}: ${errorMessage(error)}`,
    { cause: toError(error), retriable: false },
  );
}
