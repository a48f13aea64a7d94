import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  type ChangeRecord,
  ConfigurationError,
  canonicalKey,
  errorMessage,
  ShardlineError,
  type StreamViewType,
} from '@shardline/core';
import type { Contribution } from './coalesceContributions.js';
import type { SummaryDelta, SummaryMapping } from './types.js';
import { recordPosition, watermarkAttribute } from './watermark.js';

/** All contributions of a batch to one summary item. */
export interface ItemPlan {
  /** Canonical id of the item key (`canonicalKey`). */
  readonly id: string;
  readonly key: Record<string, AttributeValue>;
  readonly contributions: Contribution[];
}

/** What a batch does to the summary table. */
export interface SummaryPlan {
  /** One entry per distinct summary item: at most one UpdateItem each. */
  readonly items: Map<string, ItemPlan>;
  /** Records whose deltas could not be computed (index → error). */
  readonly failures: Map<number, ShardlineError>;
}

/** Settings {@link planSummaryUpdates} needs from the sink. */
export interface PlanSettings {
  readonly mapping: SummaryMapping;
  readonly watermarkPrefix: string;
}

/**
 * Groups a batch's deltas by summary item. A record with several deltas to the same item adds
 * them up into one contribution; a record with no delta contributes to nothing.
 */
export function planSummaryUpdates(
  records: readonly ChangeRecord[],
  settings: PlanSettings,
): SummaryPlan {
  const items = new Map<string, ItemPlan>();
  const failures = new Map<number, ShardlineError>();
  const { mapping, watermarkPrefix } = settings;
  const attributes = new Map<string, string>();
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    let deltas: readonly SummaryDelta[];
    try {
      refuseBootstrap(record);
      checkViewType(record, mapping.streamViewTypes);
      deltas = mapping.deltas(record);
    } catch (error) {
      failures.set(index, asShardlineError(error, record));
      continue;
    }
    if (deltas.length === 0) continue;
    const shardTag = `${record.streamId}\u0000${record.shardId}`;
    let attribute = attributes.get(shardTag);
    if (attribute === undefined) {
      attribute = watermarkAttribute(watermarkPrefix, record.streamId, record.shardId);
      attributes.set(shardTag, attribute);
    }
    const position = recordPosition(record);
    const perItem = new Map<
      string,
      { key: Record<string, AttributeValue>; add: Record<string, number> }
    >();
    try {
      for (const delta of deltas) {
        const key = marshallKey(delta, record);
        const id = canonicalKey(key as never);
        let entry = perItem.get(id);
        if (!entry) {
          entry = { key, add: {} };
          perItem.set(id, entry);
        }
        for (const [counter, amount] of Object.entries(delta.add)) {
          if (typeof amount !== 'number' || !Number.isFinite(amount)) {
            throw new ConfigurationError(
              `Delta of record ${record.sequenceNumber} adds ${String(amount)} to "${counter}"; amounts must be finite numbers.`,
            );
          }
          if (counter in delta.key) {
            throw new ConfigurationError(
              `Delta of record ${record.sequenceNumber} adds to "${counter}", which is a key attribute of the summary item; use another counter name.`,
            );
          }
          entry.add[counter] = (entry.add[counter] ?? 0) + amount;
        }
      }
    } catch (error) {
      failures.set(index, asShardlineError(error, record));
      continue;
    }
    for (const [id, entry] of perItem) {
      let plan = items.get(id);
      if (!plan) {
        plan = { id, key: entry.key, contributions: [] };
        items.set(id, plan);
      }
      plan.contributions.push({
        index,
        position,
        sequenceNumber: record.sequenceNumber,
        watermarkAttribute: attribute,
        createdAtMs: record.approximateCreationTimeMs,
        add: entry.add,
      });
    }
  }
  return { items, failures };
}

/**
 * A bootstrap record (an item read by a Scan or an export) is the item's state, not a change:
 * it has no delta, and a watermark cannot tell whether the stream already counted the item.
 * The ledger sink can (it seeds an entry only where none exists), so the error names it.
 */
function refuseBootstrap(record: ChangeRecord): void {
  if (record.bootstrap !== true) return;
  throw new ShardlineError(
    `Record ${record.sequenceNumber} (item ${record.marshalledKeys ? canonicalKey(record.marshalledKeys) : 'unknown'}) is a bootstrap record, an item read by a Scan or an export: DynamoDBSummarySink adds deltas per change and cannot tell whether the stream already counted this item, so it would count it twice. Use DynamoDBLedgerSummarySink (contributions instead of deltas), which seeds its ledger with bootstrap items only where the stream has written nothing.`,
    { retriable: false },
  );
}

function checkViewType(
  record: ChangeRecord,
  accepted: readonly StreamViewType[] | undefined,
): void {
  if (!accepted || record.streamViewType === undefined) return;
  if (accepted.includes(record.streamViewType)) return;
  throw new ConfigurationError(
    `The summary mapping needs stream view ${accepted.join(' or ')}, but record ${record.sequenceNumber} of shard ${record.shardId} comes from a ${record.streamViewType} stream. Change the table's StreamViewType (UpdateTable StreamSpecification) or the mapping.`,
  );
}

function marshallKey(delta: SummaryDelta, record: ChangeRecord): Record<string, AttributeValue> {
  const names = Object.keys(delta.key ?? {});
  if (names.length === 0) {
    throw new ConfigurationError(
      `A delta of record ${record.sequenceNumber} has no summary key; return { key: { vote: 'A' }, add: { num: 1 } }.`,
    );
  }
  return marshall(delta.key, { convertClassInstanceToMap: false }) as Record<
    string,
    AttributeValue
  >;
}

function asShardlineError(error: unknown, record: ChangeRecord): ShardlineError {
  if (error instanceof ShardlineError) return error;
  return new ShardlineError(
    `The summary mapping failed on record ${record.sequenceNumber} of shard ${record.shardId}: ${errorMessage(error)}`,
    // A mapping is a pure function of the record: the same record fails the same way again.
    { cause: error, retriable: false },
  );
}
