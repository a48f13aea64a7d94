import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BlockedByEarlierFailureError,
  ChangeEffect,
  type ChangeRecord,
  ConfigurationError,
  errorMessage,
  type Logger,
  OldestEntries,
  ShardlineError,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
  StreamViewType,
  silentLogger,
  toError,
} from '@shardline/core';
import { type Contribution, coalesceContributions } from './coalesceContributions.js';
import { isRetriableWriteError } from './isRetriableWriteError.js';
import { type ItemPlan, planSummaryUpdates } from './planSummaryUpdates.js';
import { runConcurrently } from './runConcurrently.js';
import type { DeltaFunction, SummaryMapping } from './types.js';
import { watermarkPosition, watermarkTime, watermarkValue } from './watermark.js';

/** The part of a DynamoDB client the sink uses (a `DynamoDBClient` from the caller). */
export type SummaryClient = Pick<DynamoDBClient, 'send'>;

/** Options of a {@link DynamoDBSummarySink}. */
export interface DynamoDBSummarySinkOptions {
  /** The DynamoDB client, built and owned by the caller (`new DynamoDBClient({})`). */
  readonly client: SummaryClient;
  /** The summary table. Its key schema is whatever the deltas' keys name. */
  readonly tableName: string;
  /** Maps each change to summary deltas: a function, or a mapping such as {@link countBy}. */
  readonly deltas: SummaryMapping | DeltaFunction;
  /**
   * The source stream's view type, when known at start: checked against the mapping at once.
   * Without it, the view type of each record is checked as it arrives.
   */
  readonly streamViewType?: StreamViewType;
  /** UpdateItem calls in flight at once, per write. @default DEFAULT_SUMMARY_CONCURRENCY */
  readonly concurrency?: number;
  /** Prefix of the watermark attributes on summary items. @default DEFAULT_WATERMARK_PREFIX */
  readonly watermarkPrefix?: string;
  /**
   * Watermarks whose last change is older than this (ms) are removed from an item the next
   * time it is updated, so items do not grow with every shard the stream ever had. Must exceed
   * the longest time a record can still be redelivered (stream retention plus processing lag);
   * `0` keeps watermarks forever.
   * @default DEFAULT_WATERMARK_TTL_MS (8 days: Kinesis retention up to 7 days, DynamoDB 24 h)
   */
  readonly watermarkTtlMs?: number;
  /**
   * Conditional-check rounds per item and write: each failed round reads the watermarks back,
   * drops the changes already applied and tries again. @default DEFAULT_MAX_CONDITION_ROUNDS
   */
  readonly maxConditionRounds?: number;
  /** Name for logs and metrics. @default 'dynamodb-summary' */
  readonly name?: string;
  readonly logger?: Logger;
  /** The clock, epoch ms, for watermark pruning. @default Date.now */
  readonly now?: () => number;
}

/** Default of {@link DynamoDBSummarySinkOptions.concurrency}. */
export const DEFAULT_SUMMARY_CONCURRENCY = 16;
/** Default of {@link DynamoDBSummarySinkOptions.watermarkPrefix}. */
export const DEFAULT_WATERMARK_PREFIX = '_wm:';
/** Default of {@link DynamoDBSummarySinkOptions.watermarkTtlMs}: 8 days. */
export const DEFAULT_WATERMARK_TTL_MS = 8 * 24 * 3600 * 1000;
/** Default of {@link DynamoDBSummarySinkOptions.maxConditionRounds}. */
export const DEFAULT_MAX_CONDITION_ROUNDS = 5;
/** How many items with prunable watermarks are remembered between writes. */
const MAX_STALE_ITEMS = 10_000;

type Failure = { readonly error: Error; readonly retriable: boolean };

/** The view types that carry an item image (all but KEYS_ONLY). */
const IMAGE_VIEW_TYPES: readonly StreamViewType[] = [
  StreamViewType.NewImage,
  StreamViewType.OldImage,
  StreamViewType.NewAndOldImages,
];

/**
 * Summary tables (vote counts) from a change stream, applied exactly once under replay.
 *
 * Every change is mapped to deltas on summary items. All deltas of a batch for one item become
 * a single UpdateItem (`ADD`), so writes per batch are at most the number of distinct items. Each
 * item carries, per source shard, a watermark: the position of the last change of that shard
 * applied to it. The update is conditional on the watermark being below the lowest contributing
 * position and moves it to the highest, in the same request; when the condition fails, the sink
 * drops the changes at or below the stored watermark and writes the rest. A replayed, partially
 * replayed or differently split batch therefore never counts twice (proof in the README).
 *
 * @example
 * const sink = new DynamoDBSummarySink({
 *   client: new DynamoDBClient({}),
 *   tableName: 'VoteSummary',
 *   deltas: countBy({ attribute: 'vote', counter: 'num' }),
 * });
 */
export class DynamoDBSummarySink implements Sink {
  readonly name: string;
  /** Each change adds its deltas: every change must reach the sink, none is dropped as stale. */
  readonly effect = ChangeEffect.Delta;
  /**
   * The mapping's view types (`countBy`: NEW_AND_OLD_IMAGES, to take a change's old value
   * back), else any view with an image: checked against the stream at start.
   */
  readonly requiredStreamViewTypes: readonly StreamViewType[];
  readonly #client: SummaryClient;
  readonly #tableName: string;
  readonly #mapping: SummaryMapping;
  readonly #concurrency: number;
  readonly #watermarkPrefix: string;
  readonly #watermarkTtlMs: number;
  readonly #maxConditionRounds: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** `item id \0 watermark attribute` → the earliest change whose contribution failed. */
  readonly #blocked = new Map<string, { position: string; sequenceNumber: string }>();
  /** item id → watermark attributes (and the value seen) old enough to remove. */
  readonly #stale = new Map<string, Map<string, AttributeValue>>();
  readonly #oldestStale = new OldestEntries(this.#stale);

  constructor(options: DynamoDBSummarySinkOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError(
        'DynamoDBSummarySink needs a DynamoDB client: pass client: new DynamoDBClient({}).',
      );
    }
    if (typeof options.tableName !== 'string' || options.tableName.length < 3) {
      throw new ConfigurationError(
        `tableName must be a DynamoDB table name (3+ characters), got ${JSON.stringify(options.tableName)}.`,
      );
    }
    const mapping =
      typeof options.deltas === 'function' ? { deltas: options.deltas } : options.deltas;
    if (!mapping || typeof mapping.deltas !== 'function') {
      throw new ConfigurationError(
        'deltas must be a function (record) => [{ key, add }] or a mapping such as countBy({ attribute }).',
      );
    }
    this.#mapping = mapping;
    this.requiredStreamViewTypes = mapping.streamViewTypes ?? IMAGE_VIEW_TYPES;
    const view = options.streamViewType;
    if (view !== undefined && mapping.streamViewTypes && !mapping.streamViewTypes.includes(view)) {
      throw new ConfigurationError(
        `The summary mapping needs stream view ${mapping.streamViewTypes.join(' or ')}, but streamViewType is ${view}. Set the table's StreamViewType to ${mapping.streamViewTypes[0]}.`,
      );
    }
    if (view === StreamViewType.KeysOnly) {
      throw new ConfigurationError(
        "A KEYS_ONLY stream carries no item images, so no summary can be computed from it. Set the table's StreamViewType to NEW_AND_OLD_IMAGES.",
      );
    }
    this.#concurrency = options.concurrency ?? DEFAULT_SUMMARY_CONCURRENCY;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new ConfigurationError(
        `concurrency must be a whole number of at least 1, got ${String(options.concurrency)}.`,
      );
    }
    this.#watermarkTtlMs = options.watermarkTtlMs ?? DEFAULT_WATERMARK_TTL_MS;
    if (!(this.#watermarkTtlMs >= 0)) {
      throw new ConfigurationError(
        `watermarkTtlMs must be 0 (keep forever) or more, got ${String(options.watermarkTtlMs)}.`,
      );
    }
    this.#maxConditionRounds = options.maxConditionRounds ?? DEFAULT_MAX_CONDITION_ROUNDS;
    if (!Number.isInteger(this.#maxConditionRounds) || this.#maxConditionRounds < 1) {
      throw new ConfigurationError(
        `maxConditionRounds must be a whole number of at least 1, got ${String(options.maxConditionRounds)}.`,
      );
    }
    this.#watermarkPrefix = options.watermarkPrefix ?? DEFAULT_WATERMARK_PREFIX;
    if (this.#watermarkPrefix.length === 0) {
      throw new ConfigurationError(
        `watermarkPrefix must not be empty; keep the default ${JSON.stringify(DEFAULT_WATERMARK_PREFIX)}.`,
      );
    }
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.name = options.name ?? 'dynamodb-summary';
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /** Applies the batch's deltas: at most one UpdateItem per distinct summary item. */
  async write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]> {
    const plan = planSummaryUpdates(records, {
      mapping: this.#mapping,
      watermarkPrefix: this.#watermarkPrefix,
    });
    const failures = new Map<number, Failure>();
    for (const [index, error] of plan.failures) {
      failures.set(index, { error, retriable: error.retriable });
    }
    const items = [...plan.items.values()];
    for (const item of items) this.#holdBackBlocked(item, failures);
    await runConcurrently(items, this.#concurrency, async (item) => {
      if (item.contributions.length === 0) return;
      const failure = await this.#applyItem(item, context.signal);
      if (failure) {
        this.#block(item);
        for (const c of item.contributions)
          if (!failures.has(c.index)) failures.set(c.index, failure);
      } else {
        this.#unblock(item);
      }
    });
    return records.map((_, i): SinkRecordResult => {
      const failure = failures.get(i);
      return failure ? { status: 'failed', ...failure } : { status: 'ok' };
    });
  }

  /**
   * Per item and shard, a change may be applied only after every earlier change of that shard
   * to that item (the watermark would otherwise skip the earlier one when it is retried). A
   * change whose earlier sibling failed in a previous write is held back until it lands.
   */
  #holdBackBlocked(item: ItemPlan, failures: Map<number, Failure>): void {
    const kept: Contribution[] = [];
    for (const c of item.contributions) {
      const blocked = this.#blocked.get(`${item.id}\u0000${c.watermarkAttribute}`);
      const blockerPresent =
        blocked !== undefined &&
        item.contributions.some(
          (o) => o.watermarkAttribute === c.watermarkAttribute && o.position === blocked.position,
        );
      if (blocked && !blockerPresent && c.position > blocked.position) {
        const error = new BlockedByEarlierFailureError(
          `summary item ${item.id}`,
          blocked.sequenceNumber,
        );
        if (!failures.has(c.index)) failures.set(c.index, { error, retriable: true });
      } else {
        kept.push(c);
      }
    }
    item.contributions.splice(0, item.contributions.length, ...kept);
  }

  #block(item: ItemPlan): void {
    for (const c of item.contributions) {
      const id = `${item.id}\u0000${c.watermarkAttribute}`;
      const current = this.#blocked.get(id);
      if (!current || c.position < current.position) {
        this.#blocked.set(id, { position: c.position, sequenceNumber: c.sequenceNumber });
      }
    }
  }

  #unblock(item: ItemPlan): void {
    if (this.#blocked.size === 0) return;
    for (const c of item.contributions)
      this.#blocked.delete(`${item.id}\u0000${c.watermarkAttribute}`);
  }

  /** Applies one item's contributions; returns the failure, or undefined when they landed. */
  async #applyItem(item: ItemPlan, signal: AbortSignal | undefined): Promise<Failure | undefined> {
    let pending: readonly Contribution[] = item.contributions;
    for (let round = 1; round <= this.#maxConditionRounds; round++) {
      const update = coalesceContributions(pending);
      const names: Record<string, string> = {};
      const values: Record<string, AttributeValue> = {};
      const adds: string[] = [];
      const sets: string[] = [];
      const conditions: string[] = [];
      let n = 0;
      for (const [counter, amount] of update.add) {
        names[`#c${n}`] = counter;
        values[`:c${n}`] = { N: String(amount) };
        adds.push(`#c${n} :c${n}`);
        n++;
      }
      n = 0;
      for (const [attribute, range] of update.watermarks) {
        names[`#w${n}`] = attribute;
        values[`:f${n}`] = { S: range.first };
        values[`:l${n}`] = { S: watermarkValue(range.last, range.lastCreatedAtMs) };
        sets.push(`#w${n} = :l${n}`);
        conditions.push(`(attribute_not_exists(#w${n}) OR #w${n} < :f${n})`);
        n++;
      }
      const removes: string[] = [];
      const stale = this.#stale.get(item.id);
      if (stale) {
        n = 0;
        for (const [attribute, seen] of stale) {
          if (update.watermarks.has(attribute)) continue;
          names[`#s${n}`] = attribute;
          values[`:s${n}`] = seen;
          removes.push(`#s${n}`);
          // Remove only the value judged stale: a newer write of that shard must survive.
          conditions.push(`#s${n} = :s${n}`);
          n++;
        }
      }
      const expression = [
        adds.length ? `ADD ${adds.join(', ')}` : '',
        `SET ${sets.join(', ')}`,
        removes.length ? `REMOVE ${removes.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      try {
        const response = await this.#client.send(
          new UpdateItemCommand({
            TableName: this.#tableName,
            Key: item.key,
            UpdateExpression: expression,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: this.#watermarkTtlMs > 0 ? 'ALL_NEW' : 'NONE',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
          { abortSignal: signal },
        );
        if (removes.length) this.#stale.delete(item.id);
        this.#noteStale(item.id, response.Attributes);
        return undefined;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) {
          return { error: this.#wrap(error, item), retriable: isRetriableWriteError(error) };
        }
        let current = error.Item;
        if (!current) {
          // The re-read is part of this item's write: its failure fails this item (and blocks
          // its later changes), never the whole batch.
          try {
            current = await this.#read(item, signal);
          } catch (readError) {
            return {
              error: this.#wrap(readError, item),
              retriable: isRetriableWriteError(readError),
            };
          }
        }
        this.#stale.delete(item.id);
        this.#noteStale(item.id, current);
        // Drop what the stored watermarks say was applied; the rest is new.
        pending = pending.filter((c) => {
          const stored = current?.[c.watermarkAttribute]?.S;
          return stored === undefined || watermarkPosition(stored) < c.position;
        });
        if (pending.length === 0) return undefined;
      }
    }
    return {
      error: new ShardlineError(
        `Summary item ${item.id} of ${this.#tableName}: the watermark condition failed ${this.#maxConditionRounds} times in a row. Another writer is updating this item from the same shard: check that only one consumer reads each shard.`,
        { retriable: true },
      ),
      retriable: true,
    };
  }

  async #read(
    item: ItemPlan,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, AttributeValue> | undefined> {
    const response = await this.#client.send(
      new GetItemCommand({ TableName: this.#tableName, Key: item.key, ConsistentRead: true }),
      { abortSignal: signal },
    );
    return response.Item;
  }

  /** Remembers the watermarks of `attributes` whose last change is older than the TTL. */
  #noteStale(id: string, attributes: Record<string, AttributeValue> | undefined): void {
    if (!attributes || this.#watermarkTtlMs === 0) return;
    const cutoff = this.#now() - this.#watermarkTtlMs;
    let stale: Map<string, AttributeValue> | undefined;
    for (const [name, value] of Object.entries(attributes)) {
      if (!name.startsWith(this.#watermarkPrefix) || value.S === undefined) continue;
      const time = watermarkTime(value.S);
      if (time === undefined || time >= cutoff) continue;
      stale ??= new Map();
      stale.set(name, value);
    }
    if (!stale) return;
    this.#stale.set(id, stale);
    this.#oldestStale.trimTo(MAX_STALE_ITEMS);
  }

  #wrap(error: unknown, item: ItemPlan): Error {
    const cause = toError(error);
    this.#logger.warn(
      { table: this.#tableName, item: item.id, err: cause },
      'summary update failed',
    );
    return new ShardlineError(
      `UpdateItem of summary item ${item.id} in ${this.#tableName} failed: ${errorMessage(error)}`,
      { cause, retriable: isRetriableWriteError(error) },
    );
  }
}
