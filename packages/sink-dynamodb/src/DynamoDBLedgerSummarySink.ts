import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  ChangeEffect,
  type ChangeRecord,
  ConfigurationError,
  canonicalKey,
  changeVersion,
  errorMessage,
  type Logger,
  ShardlineError,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
  StreamViewType,
  silentLogger,
  toError,
} from '@shardline/core';
import { applyNewestPerItem, asShardlineError, failed } from './applyNewestPerItem.js';
import { isRetriableWriteError } from './isRetriableWriteError.js';
import type { ContributionFunction, SummaryDelta, SummaryMapping } from './types.js';

/** The part of a DynamoDB client the ledger sink uses (a `DynamoDBClient` from the caller). */
export type LedgerSummaryClient = Pick<DynamoDBClient, 'send'>;

/** Options of a {@link DynamoDBLedgerSummarySink}. */
export interface DynamoDBLedgerSummarySinkOptions {
  /** The DynamoDB client, built and owned by the caller (`new DynamoDBClient({})`). */
  readonly client: LedgerSummaryClient;
  /** The summary table. Its key schema is whatever the contributions' keys name. */
  readonly tableName: string;
  /**
   * The ledger table: partition key `pk` (S), no sort key. One item per source item, holding
   * what that item currently contributes to the summary and the version of the change that
   * produced it. Enable TTL on its `expiresAt` attribute so tombstones of deleted items expire.
   */
  readonly ledgerTableName: string;
  /**
   * What one source item image contributes to summary items: a function of the new image, or a
   * mapping such as {@link countBy} that provides `contributions`.
   */
  readonly contributions: SummaryMapping | ContributionFunction;
  /** The source stream's view type, when known at start: checked against the mapping at once. */
  readonly streamViewType?: StreamViewType;
  /**
   * The version of a change, as a string whose string order is the order of the item's changes.
   * Not called for bootstrap records (`record.bootstrap`): they seed an entry only where none
   * exists, with core's `BOOTSTRAP_VERSION` (`'0'`), so a custom version must sort above `'0'`
   * (zero-padded digits do).
   * @default core's `changeVersion`: for DynamoDB Streams the sequence number zero-padded to 64
   * digits (DynamoDB numbers one item's changes in increasing order, across shard rollovers
   * too); for Kinesis Data Streams for DynamoDB, whose sequence numbers do not order one item's
   * changes, the record's `version` (creation time in µs) zero-padded.
   */
  readonly versionOf?: (record: ChangeRecord) => string;
  /** Source items applied at once, per write. @default DEFAULT_LEDGER_CONCURRENCY */
  readonly concurrency?: number;
  /**
   * Attempts per source item and write when another writer moved the same ledger item or a
   * transaction conflicted. @default DEFAULT_LEDGER_ROUNDS
   */
  readonly maxRounds?: number;
  /**
   * How long (s) a deleted item's tombstone is kept (`expiresAt`, for the ledger table's TTL).
   * It must exceed the longest time an older change of that item can still arrive: stream
   * retention (24 h) plus the failure destination's retention (SQS: up to 14 days).
   * `0` keeps tombstones forever. @default DEFAULT_TOMBSTONE_TTL_SECONDS (15 days)
   */
  readonly tombstoneTtlSeconds?: number;
  /** Name for logs and metrics. @default 'dynamodb-ledger-summary' */
  readonly name?: string;
  readonly logger?: Logger;
  /** The clock, epoch ms, for tombstone expiry. @default Date.now */
  readonly now?: () => number;
}

/** Default of {@link DynamoDBLedgerSummarySinkOptions.concurrency}. */
export const DEFAULT_LEDGER_CONCURRENCY = 16;
/** Default of {@link DynamoDBLedgerSummarySinkOptions.maxRounds}. */
export const DEFAULT_LEDGER_ROUNDS = 8;
/** Default of {@link DynamoDBLedgerSummarySinkOptions.tombstoneTtlSeconds}: 15 days. */
export const DEFAULT_TOMBSTONE_TTL_SECONDS = 15 * 24 * 3600;

type Outcome = SinkRecordResult;
interface Entry {
  readonly id: string;
  readonly key: Record<string, AttributeValue>;
  readonly add: Map<string, number>;
}

/**
 * Summary tables (vote counts) applied exactly once without knowing the shard: the sink keeps,
 * per source item, a ledger entry of what the item currently contributes and the version of the
 * change that produced it. A change newer than the entry replaces it and, in the same
 * transaction, adds the difference to the summary items; an older or equal change is stale and
 * applies nothing. The summary therefore always equals the sum of the ledger's contributions,
 * and ends equal to the contributions of each item's latest image, whatever the order,
 * duplication, sharding or concurrency of deliveries (proof in the README).
 *
 * @example
 * const sink = new DynamoDBLedgerSummarySink({
 *   client: new DynamoDBClient({}),
 *   tableName: 'VoteSummary',
 *   ledgerTableName: 'VoteSummary-ledger',
 *   contributions: countBy({ attribute: 'vote', counter: 'num' }),
 * });
 */
export class DynamoDBLedgerSummarySink implements Sink {
  /** Each change's contribution is computed from its new image: checked against the stream at start. */
  readonly requiredStreamViewTypes: readonly StreamViewType[] = [
    StreamViewType.NewImage,
    StreamViewType.NewAndOldImages,
  ];
  readonly name: string;
  /**
   * The summary moves by deltas, and the sink orders an item's changes by its own version
   * (`versionOf`), which is not the pipeline's: every change must reach it, none is dropped as
   * stale before the write.
   */
  readonly effect = ChangeEffect.Delta;
  readonly #client: LedgerSummaryClient;
  readonly #tableName: string;
  readonly #ledgerTableName: string;
  readonly #contributions: ContributionFunction;
  readonly #versionOf: (record: ChangeRecord) => string;
  readonly #concurrency: number;
  readonly #maxRounds: number;
  readonly #tombstoneTtlSeconds: number;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(options: DynamoDBLedgerSummarySinkOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError(
        'DynamoDBLedgerSummarySink needs a DynamoDB client: pass client: new DynamoDBClient({}).',
      );
    }
    for (const [option, value] of [
      ['tableName', options.tableName],
      ['ledgerTableName', options.ledgerTableName],
    ] as const) {
      if (typeof value !== 'string' || value.length < 3) {
        throw new ConfigurationError(
          `${option} must be a DynamoDB table name (3+ characters), got ${JSON.stringify(value)}.`,
        );
      }
    }
    if (options.tableName === options.ledgerTableName) {
      throw new ConfigurationError(
        `ledgerTableName must differ from tableName (both "${options.tableName}"): the ledger is a table of its own, key pk (S).`,
      );
    }
    const given = options.contributions;
    const contributions = typeof given === 'function' ? given : given?.contributions;
    if (typeof contributions !== 'function') {
      throw new ConfigurationError(
        'contributions must be a function (image, record) => [{ key, add }] or a mapping such as countBy({ attribute }).',
      );
    }
    this.#contributions = contributions;
    const view = options.streamViewType;
    if (view === StreamViewType.KeysOnly || view === StreamViewType.OldImage) {
      throw new ConfigurationError(
        `A ${view} stream does not carry the new image each change's contribution is computed from. Set the table's StreamViewType to NEW_IMAGE or NEW_AND_OLD_IMAGES.`,
      );
    }
    this.#concurrency = wholeNumber('concurrency', options.concurrency, DEFAULT_LEDGER_CONCURRENCY);
    this.#maxRounds = wholeNumber('maxRounds', options.maxRounds, DEFAULT_LEDGER_ROUNDS);
    this.#tombstoneTtlSeconds = options.tombstoneTtlSeconds ?? DEFAULT_TOMBSTONE_TTL_SECONDS;
    if (!(this.#tombstoneTtlSeconds >= 0)) {
      throw new ConfigurationError(
        `tombstoneTtlSeconds must be 0 (keep forever) or more, got ${String(options.tombstoneTtlSeconds)}.`,
      );
    }
    this.#versionOf = options.versionOf ?? changeVersion;
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#ledgerTableName = options.ledgerTableName;
    this.name = options.name ?? 'dynamodb-ledger-summary';
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Applies the batch: per source item only its newest change matters (the contribution is a
   * function of the item's state), so each distinct source item costs one ledger read and at
   * most one transaction.
   */
  async write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]> {
    return applyNewestPerItem(records, {
      idOf: (record) => this.#sourceItemId(record),
      versionOf: this.#versionOf,
      concurrency: this.#concurrency,
      apply: (id, version, record) => this.#apply(id, version, record, context.signal),
    });
  }

  async #apply(
    id: string,
    version: string,
    record: ChangeRecord,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    let next: Map<string, Entry>;
    try {
      if (record.decodeError) throw record.decodeError;
      next = this.#contributionOf(record);
    } catch (error) {
      return failed(asShardlineError(error, record, 'has no contribution'), false);
    }
    for (let round = 1; round <= this.#maxRounds; round++) {
      try {
        const stored = await this.#readLedger(id, signal);
        // Stale or a duplicate; a bootstrap record seeds only an item the ledger knows nothing of.
        if (stored && (record.bootstrap === true || stored.version >= version)) return OK;
        const actions = this.#plan(id, version, record, stored, next);
        if (actions.length === 1) {
          await this.#client.send(new PutItemCommand(actions[0]!.Put!), { abortSignal: signal });
        } else {
          await this.#client.send(new TransactWriteItemsCommand({ TransactItems: actions }), {
            abortSignal: signal,
          });
        }
        return OK;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) continue; // the entry moved
        if (error instanceof TransactionCanceledException) {
          const reasons = error.CancellationReasons ?? [];
          if (
            reasons.every(
              (r) =>
                r.Code === 'None' ||
                r.Code === 'ConditionalCheckFailed' ||
                r.Code === 'TransactionConflict',
            )
          ) {
            continue; // another writer moved the entry or touched a summary item: read again
          }
        }
        return failed(this.#wrap(error, id, record), isRetriableWriteError(error));
      }
    }
    return failed(
      new ShardlineError(
        `Ledger entry ${id} in ${this.#ledgerTableName}: ${this.#maxRounds} attempts in a row met another writer. This is contention, not loss: the record is retried.`,
        { retriable: true },
      ),
      true,
    );
  }

  #plan(
    id: string,
    version: string,
    record: ChangeRecord,
    stored: StoredEntry | undefined,
    next: Map<string, Entry>,
  ): TransactWriteItem[] {
    const previous = stored?.contribution ?? new Map<string, Entry>();
    const ledgerItem: Record<string, AttributeValue> = {
      pk: { S: id },
      v: { S: version },
      c: { L: [...next.values()].map(entryToAttribute) },
    };
    if (record.eventName === 'REMOVE' && this.#tombstoneTtlSeconds > 0) {
      ledgerItem.expiresAt = {
        N: String(Math.floor(this.#now() / 1000) + this.#tombstoneTtlSeconds),
      };
    }
    const actions: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.#ledgerTableName,
          Item: ledgerItem,
          // The difference below is against exactly the entry that was read.
          ConditionExpression: stored ? 'v = :read' : 'attribute_not_exists(pk)',
          ...(stored ? { ExpressionAttributeValues: { ':read': { S: stored.version } } } : {}),
        },
      },
    ];
    for (const summaryId of new Set([...previous.keys(), ...next.keys()])) {
      const before = previous.get(summaryId);
      const after = next.get(summaryId);
      const names: Record<string, string> = {};
      const values: Record<string, AttributeValue> = {};
      const adds: string[] = [];
      for (const counter of new Set([
        ...(before?.add.keys() ?? []),
        ...(after?.add.keys() ?? []),
      ])) {
        const amount = (after?.add.get(counter) ?? 0) - (before?.add.get(counter) ?? 0);
        if (amount === 0) continue;
        const n = adds.length;
        names[`#c${n}`] = counter;
        values[`:c${n}`] = { N: String(amount) };
        adds.push(`#c${n} :c${n}`);
      }
      if (adds.length === 0) continue;
      actions.push({
        Update: {
          TableName: this.#tableName,
          Key: (after ?? before)!.key,
          UpdateExpression: `ADD ${adds.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      });
    }
    if (actions.length > 100) {
      throw new ShardlineError(
        `Record ${record.sequenceNumber} of shard ${record.shardId} changes ${actions.length - 1} summary items; one transaction holds at most 99 besides the ledger entry. Make the contribution function touch fewer items per source item.`,
        { retriable: false },
      );
    }
    return actions;
  }

  #contributionOf(record: ChangeRecord): Map<string, Entry> {
    const out = new Map<string, Entry>();
    if (record.eventName === 'REMOVE') return out;
    if (!record.newImage) {
      throw new ConfigurationError(
        `Record ${record.sequenceNumber} of shard ${record.shardId} (${record.eventName}) has no new image (stream view ${record.streamViewType ?? 'unknown'}). Set the table's StreamViewType to NEW_IMAGE or NEW_AND_OLD_IMAGES.`,
      );
    }
    const deltas: readonly SummaryDelta[] = this.#contributions(record.newImage, record);
    for (const delta of deltas) {
      const key = marshall(delta.key as Record<string, unknown>, {
        convertClassInstanceToMap: false,
      });
      const id = canonicalKey(key);
      const entry = out.get(id) ?? { id, key, add: new Map<string, number>() };
      for (const [counter, amount] of Object.entries(delta.add)) {
        if (typeof amount !== 'number' || !Number.isFinite(amount)) {
          throw new ShardlineError(
            `The contribution of record ${record.sequenceNumber} adds ${String(amount)} to ${counter}; amounts must be finite numbers.`,
            { retriable: false },
          );
        }
        entry.add.set(counter, (entry.add.get(counter) ?? 0) + amount);
      }
      out.set(id, entry);
    }
    return out;
  }

  #sourceItemId(record: ChangeRecord): string {
    if (!record.marshalledKeys) {
      throw new ShardlineError(
        `Record ${record.sequenceNumber} of shard ${record.shardId} carries no item keys; the ledger summary needs DynamoDB change records.`,
        { retriable: false },
      );
    }
    return `${record.tableName ?? record.streamId}|${canonicalKey(record.marshalledKeys)}`;
  }

  async #readLedger(id: string, signal: AbortSignal | undefined): Promise<StoredEntry | undefined> {
    const response = await this.#client.send(
      new GetItemCommand({
        TableName: this.#ledgerTableName,
        Key: { pk: { S: id } },
        ConsistentRead: true,
      }),
      { abortSignal: signal },
    );
    const item = response.Item;
    if (!item?.v?.S) return undefined;
    const contribution = new Map<string, Entry>();
    for (const value of item.c?.L ?? []) {
      const entry = attributeToEntry(value);
      contribution.set(entry.id, entry);
    }
    return { version: item.v.S, contribution };
  }

  #wrap(error: unknown, id: string, record: ChangeRecord): Error {
    const cause = toError(error);
    this.#logger.warn(
      {
        table: this.#tableName,
        ledger: this.#ledgerTableName,
        item: id,
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        err: cause,
      },
      'ledger summary update failed',
    );
    return new ShardlineError(
      `Applying record ${record.sequenceNumber} (item ${id}) to ${this.#tableName} through ledger ${this.#ledgerTableName} failed: ${errorMessage(error)}`,
      { cause, retriable: isRetriableWriteError(error) },
    );
  }
}

interface StoredEntry {
  readonly version: string;
  readonly contribution: Map<string, Entry>;
}

const OK: Outcome = { status: 'ok' };

function entryToAttribute(entry: Entry): AttributeValue {
  const add: Record<string, AttributeValue> = {};
  for (const [counter, amount] of entry.add) add[counter] = { N: String(amount) };
  return { M: { k: { M: entry.key }, a: { M: add } } };
}

function attributeToEntry(value: AttributeValue): Entry {
  const key = value.M?.k?.M ?? {};
  const add = new Map<string, number>();
  for (const [counter, amount] of Object.entries(value.M?.a?.M ?? {})) {
    add.set(counter, Number(amount.N));
  }
  return { id: canonicalKey(key), key, add };
}

function wholeNumber(option: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigurationError(
      `${option} must be a whole number of at least 1, got ${String(value)}.`,
    );
  }
  return n;
}
