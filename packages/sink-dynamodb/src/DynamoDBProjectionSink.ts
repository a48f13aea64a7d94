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
  type Item,
  itemKey,
  type Logger,
  RetryPolicy,
  type RetryPolicyOptions,
  ShardlineError,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
  StreamViewType,
  silentLogger,
  sleep,
  toError,
} from '@shardline/core';
import { applyNewestPerItem, asShardlineError, failed } from './applyNewestPerItem.js';
import { isRetriableWriteError } from './isRetriableWriteError.js';
import type {
  FilterFunction,
  ProjectedItem,
  ProjectFunction,
  ProjectionTransactionFunction,
  TransformFunction,
} from './projectionTypes.js';

/** The part of a DynamoDB client the projection sink uses (a `DynamoDBClient` from the caller). */
export type ProjectionClient = Pick<DynamoDBClient, 'send'>;

/** Options of a {@link DynamoDBProjectionSink}. */
export interface DynamoDBProjectionSinkOptions {
  /** The DynamoDB client, built and owned by the caller (`new DynamoDBClient({})`). */
  readonly client: ProjectionClient;
  /**
   * The target table. Keyed projections (no `project`) write here, at the source item's key:
   * the table has the source table's key schema. Derived items go here unless they name
   * another table.
   */
  readonly tableName: string;
  /**
   * The state table: partition key `pk` (S), no sort key, TTL enabled on `expiresAt`. It holds
   * the tombstones of deleted items (both paths) and, for derived projections, per source item
   * the version applied last and the keys of the target items it produced.
   */
  readonly stateTableName: string;
  /**
   * Keyed projection: the target item's attributes for a source item in the state of the image
   * (`undefined`: no target item). Without `transform`, `project` and `attributes`, the target
   * is a copy of the source item.
   */
  readonly transform?: TransformFunction;
  /**
   * Keyed projection: the attributes to copy besides the key (applied after `transform`).
   * `undefined` or empty: all of them.
   */
  readonly attributes?: readonly string[];
  /**
   * Derived projection: every target item a source item produces (re-keyed, one-to-many,
   * several tables). Exclusive with `transform` and `attributes`.
   */
  readonly project?: ProjectFunction;
  /** Source items for which `filter` is false produce no target item (theirs are deleted). */
  readonly filter?: FilterFunction;
  /**
   * Extra actions on other tables, in the same transaction as the change's own writes (see
   * {@link ProjectionTransactionFunction}). A change with extra actions always goes through
   * `TransactWriteItems` (twice the WCU of a plain write).
   */
  readonly transaction?: ProjectionTransactionFunction;
  /** The attribute of each target item holding the version that wrote it. @default '_shardlineVersion' */
  readonly versionAttribute?: string;
  /**
   * How long (s) a tombstone is kept (`expiresAt`, for the state table's TTL). An older change
   * of a deleted item that arrives after its tombstone expired would bring the item back, so it
   * must exceed the longest time such a change can still arrive: the stream's retention (24 h)
   * plus how long failed records wait in the failure destination before they are replayed, and
   * longer than a bootstrap runs. `0` keeps tombstones forever.
   * @default DEFAULT_PROJECTION_TOMBSTONE_TTL_SECONDS (15 days: SQS's longest retention, 14
   * days, plus a day)
   */
  readonly tombstoneTtlSeconds?: number;
  /**
   * The version of a change, a string whose string order is the order of the item's changes.
   * Not called for bootstrap records (core's `BOOTSTRAP_VERSION`, `'0'`, below every version).
   * @default core's `changeVersion` (the padded sequence number for DynamoDB Streams, the
   * padded creation time in µs for Kinesis Data Streams for DynamoDB)
   */
  readonly versionOf?: (record: ChangeRecord) => string;
  /** Source items applied at once per write. @default DEFAULT_PROJECTION_CONCURRENCY */
  readonly concurrency?: number;
  /**
   * Backoff between attempts when another writer moved the same item or a transaction
   * conflicted (`TransactionConflict`); after `maxAttempts` the record fails as retriable and
   * the pipeline's own retry policy takes over. Throttling is not retried here: it goes back to
   * the pipeline at once. @default DEFAULT_PROJECTION_CONFLICT_RETRY
   */
  readonly conflictRetry?: RetryPolicyOptions;
  /** Name for logs and metrics. @default 'dynamodb-projection' */
  readonly name?: string;
  readonly logger?: Logger;
  /** The clock, epoch ms, for tombstone expiry. @default Date.now */
  readonly now?: () => number;
}

/** Default of {@link DynamoDBProjectionSinkOptions.concurrency}. */
export const DEFAULT_PROJECTION_CONCURRENCY = 16;
/**
 * Default of {@link DynamoDBProjectionSinkOptions.tombstoneTtlSeconds}: 15 days, longer than
 * the longest an SQS failure destination keeps a parked record (14 days) plus a day to replay
 * it; a tombstone that expired before an older parked change of its item is replayed would let
 * that change bring the item back.
 */
export const DEFAULT_PROJECTION_TOMBSTONE_TTL_SECONDS = 15 * 24 * 3600;
/** Default of {@link DynamoDBProjectionSinkOptions.versionAttribute}. */
export const DEFAULT_VERSION_ATTRIBUTE = '_shardlineVersion';
/** Default of {@link DynamoDBProjectionSinkOptions.conflictRetry}. */
export const DEFAULT_PROJECTION_CONFLICT_RETRY: RetryPolicyOptions = {
  maxAttempts: 8,
  baseDelayMs: 10,
  maxDelayMs: 500,
};
/** The most actions one `TransactWriteItems` call takes. */
export const MAX_TRANSACTION_ACTIONS = 100;

type Outcome = SinkRecordResult;
/** An item in the wire format, as the SDK types it. */
type Marshalled = Record<string, AttributeValue>;

/** A target item, marshalled, with its identity (`table|canonical key`). */
interface Target {
  readonly id: string;
  readonly tableName: string;
  readonly key: Marshalled;
  readonly item: Marshalled;
}

/** What a change asks for once mapped: the target items it leaves, and extra actions. */
interface Mapped {
  readonly targets: readonly Target[];
  readonly extra: readonly TransactWriteItem[];
}

interface StoredState {
  readonly version: string;
  readonly targets: readonly {
    readonly id: string;
    readonly tableName: string;
    readonly key: Marshalled;
  }[];
}

/** A transaction cancelled because some of the sink's own actions failed their condition. */
interface CancelledTransaction {
  /** The item each action found (when it asked for it with `ReturnValuesOnConditionCheckFailure`). */
  readonly items: readonly (Marshalled | undefined)[];
  /** Indexes of the actions whose condition failed. */
  readonly failedAt: readonly number[];
}

/** Why an attempt did not apply the change: another writer moved an item; try again. */
const AGAIN = Symbol('again');

/**
 * Copy tables and derived tables kept in step by the stream: each change maps to zero, one or
 * several target items (transform, filter, re-key, attribute projection), and a REMOVE, or a
 * change whose new image no longer maps to a target item, deletes the items the source item
 * produced before. Writes never regress: every target item carries the version of the change
 * that wrote it and every write is conditional on it, and a delete leaves a tombstone in the
 * state table, so replays, redeliveries, concurrent invocations, Kinesis Data Streams for
 * DynamoDB reordering and dead-letter replays in any order end in the same table (the README
 * has the argument and the WCU cost).
 *
 * Keyed projections (target key = source key) cost one conditional `PutItem` per change in the
 * steady state; derived ones (`project`) read the source item's state entry and apply one
 * transaction. Bootstrap records (`record.bootstrap`) are written only where nothing of the
 * item is held yet.
 *
 * @example
 * const sink = new DynamoDBProjectionSink({
 *   client: new DynamoDBClient({}),
 *   tableName: 'Users-copy',
 *   stateTableName: 'Users-copy-state',
 *   attributes: ['email', 'name'],
 *   filter: (user) => user.status === 'active',
 * });
 */
export class DynamoDBProjectionSink implements Sink {
  /**
   * Target items are built from the new image (a REMOVE needs only the keys): checked against
   * the stream at start, so a KEYS_ONLY stream fails the worker instead of every record.
   */
  readonly requiredStreamViewTypes: readonly StreamViewType[] = [
    StreamViewType.NewImage,
    StreamViewType.NewAndOldImages,
  ];
  readonly name: string;
  /** A target holds each source item's latest projection: an older change only rolls it back. */
  readonly effect = ChangeEffect.LastWriterWins;
  readonly #client: ProjectionClient;
  readonly #tableName: string;
  readonly #stateTableName: string;
  readonly #transform: TransformFunction | undefined;
  readonly #attributes: readonly string[] | undefined;
  readonly #project: ProjectFunction | undefined;
  readonly #filter: FilterFunction | undefined;
  readonly #transaction: ProjectionTransactionFunction | undefined;
  readonly #versionAttribute: string;
  readonly #tombstoneTtlSeconds: number;
  readonly #versionOf: (record: ChangeRecord) => string;
  readonly #concurrency: number;
  readonly #conflictRetry: RetryPolicy;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(options: DynamoDBProjectionSinkOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError(
        'DynamoDBProjectionSink needs a DynamoDB client: pass client: new DynamoDBClient({}).',
      );
    }
    for (const [option, value] of [
      ['tableName', options.tableName],
      ['stateTableName', options.stateTableName],
    ] as const) {
      if (typeof value !== 'string' || value.length < 3) {
        throw new ConfigurationError(
          `${option} must be a DynamoDB table name (3+ characters), got ${JSON.stringify(value)}.`,
        );
      }
    }
    if (options.tableName === options.stateTableName) {
      throw new ConfigurationError(
        `stateTableName must differ from tableName (both "${options.tableName}"): the state table is a table of its own, key pk (S), TTL on expiresAt.`,
      );
    }
    if (options.project !== undefined) {
      if (typeof options.project !== 'function') {
        throw new ConfigurationError(
          'project must be a function (image, record) => [{ tableName?, key, attributes? }].',
        );
      }
      if (options.transform !== undefined || options.attributes !== undefined) {
        throw new ConfigurationError(
          'project (derived items) cannot be combined with transform or attributes (keyed items): shape the items inside project.',
        );
      }
    }
    for (const [option, value] of [
      ['transform', options.transform],
      ['filter', options.filter],
      ['transaction', options.transaction],
      ['versionOf', options.versionOf],
    ] as const) {
      if (value !== undefined && typeof value !== 'function') {
        throw new ConfigurationError(`${option} must be a function, got ${typeof value}.`);
      }
    }
    if (
      options.attributes !== undefined &&
      (!Array.isArray(options.attributes) ||
        options.attributes.some((a) => typeof a !== 'string' || a.length === 0))
    ) {
      throw new ConfigurationError(
        `attributes must be a list of attribute names, got ${JSON.stringify(options.attributes)}.`,
      );
    }
    this.#versionAttribute = options.versionAttribute ?? DEFAULT_VERSION_ATTRIBUTE;
    if (typeof this.#versionAttribute !== 'string' || this.#versionAttribute.length === 0) {
      throw new ConfigurationError(
        `versionAttribute must be an attribute name, got ${JSON.stringify(options.versionAttribute)}.`,
      );
    }
    this.#tombstoneTtlSeconds =
      options.tombstoneTtlSeconds ?? DEFAULT_PROJECTION_TOMBSTONE_TTL_SECONDS;
    if (!(this.#tombstoneTtlSeconds >= 0)) {
      throw new ConfigurationError(
        `tombstoneTtlSeconds must be 0 (keep forever) or more, got ${String(options.tombstoneTtlSeconds)}.`,
      );
    }
    const concurrency = options.concurrency ?? DEFAULT_PROJECTION_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ConfigurationError(
        `concurrency must be a whole number of at least 1, got ${String(options.concurrency)}.`,
      );
    }
    this.#concurrency = concurrency;
    this.#conflictRetry = new RetryPolicy(
      options.conflictRetry ?? DEFAULT_PROJECTION_CONFLICT_RETRY,
    );
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#stateTableName = options.stateTableName;
    this.#transform = options.transform;
    this.#attributes = options.attributes?.length ? [...options.attributes] : undefined;
    this.#project = options.project;
    this.#filter = options.filter;
    this.#transaction = options.transaction;
    this.#versionOf = options.versionOf ?? changeVersion;
    this.name = options.name ?? 'dynamodb-projection';
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Applies the batch. A target holds a function of its source item's latest state, so per
   * source item only the newest change of the batch is written (by version: the order of the
   * batch does not matter), and the item's other records share its outcome. Source items are
   * applied concurrently, at most `concurrency` at once, each with its own conditional writes:
   * `BatchWriteItem` cannot carry a condition.
   */
  async write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]> {
    return applyNewestPerItem(records, {
      idOf: (record) => this.#stateId(record),
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
    let mapped: Mapped;
    try {
      if (record.decodeError) throw record.decodeError;
      mapped = this.#map(record, version);
    } catch (error) {
      return failed(asShardlineError(error, record, 'could not be projected'), false);
    }
    const attempts = this.#conflictRetry.maxAttempts;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const done = this.#project
          ? await this.#applyDerived(id, version, record, mapped, signal)
          : await this.#applyKeyed(id, version, record, mapped, signal);
        if (done !== AGAIN) return OK;
      } catch (error) {
        if (!isConflict(error))
          return failed(this.#wrap(error, id, record), isRetriableWriteError(error));
      }
      if (attempt < attempts) await sleep(this.#conflictRetry.delayMs(attempt), signal);
    }
    return failed(
      new ShardlineError(
        `Source item ${id}: ${attempts} attempts in a row met another writer of the same items in ${this.#tableName}. This is contention, not loss: the record is retried.`,
        { retriable: true },
      ),
      true,
    );
  }

  // ─── Keyed path ───────────────────────────────────────────────────────────────────────────

  /**
   * Target key = source key. Invariant: while the target item exists, its version is above
   * every tombstone of the item (a delete removes it in the tombstone's transaction, a creation
   * checks the tombstone), so a newer change of an existing item needs no look at the state.
   */
  async #applyKeyed(
    id: string,
    version: string,
    record: ChangeRecord,
    mapped: Mapped,
    signal: AbortSignal | undefined,
  ): Promise<undefined> {
    const target = mapped.targets[0];
    const keyName = Object.keys(record.marshalledKeys as Marshalled)[0]!;
    const names = { '#k': keyName, '#v': this.#versionAttribute };
    const values = { ':v': { S: version } };
    if (record.bootstrap === true) {
      if (!target) return;
      await this.#transact(
        [
          {
            ConditionCheck: {
              TableName: this.#stateTableName,
              Key: { pk: { S: id } },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: target.tableName,
              Item: target.item,
              ConditionExpression: 'attribute_not_exists(#k)',
              ExpressionAttributeNames: { '#k': keyName },
            },
          },
        ],
        mapped.extra,
        signal,
      );
      // Committed, or a tombstone or a target item was there: the stream got there first.
      return;
    }
    if (!target) {
      const tombstone: Marshalled = { pk: { S: id }, v: { S: version } };
      if (this.#tombstoneTtlSeconds > 0) {
        tombstone.expiresAt = {
          N: String(Math.floor(this.#now() / 1000) + this.#tombstoneTtlSeconds),
        };
      }
      await this.#transact(
        [
          {
            Delete: {
              TableName: this.#tableName,
              Key: record.marshalledKeys as Marshalled,
              ConditionExpression:
                'attribute_not_exists(#k) OR attribute_not_exists(#v) OR #v < :v',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            },
          },
          {
            Put: {
              TableName: this.#stateTableName,
              Item: tombstone,
              ConditionExpression: 'attribute_not_exists(pk) OR v < :v',
              ExpressionAttributeValues: values,
            },
          },
        ],
        mapped.extra,
        signal,
      );
      // Committed, or a newer target item or a newer tombstone was there: this delete is stale.
      return;
    }
    // The steady state: the item exists and this change is newer. An INSERT skips it (the
    // source item is new, so the target item most likely is not there yet: one call saved).
    if (record.eventName !== 'INSERT') {
      const update: TransactWriteItem = {
        Put: {
          TableName: target.tableName,
          Item: target.item,
          ConditionExpression: 'attribute_exists(#k) AND (attribute_not_exists(#v) OR #v < :v)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      };
      let current: Marshalled | undefined;
      if (mapped.extra.length === 0) {
        try {
          await this.#client.send(new PutItemCommand(update.Put!), { abortSignal: signal });
          return;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
          current = error.Item;
        }
      } else {
        const updated = await this.#transact([update], mapped.extra, signal);
        if (updated === true) return;
        current = updated.items[0];
      }
      // The condition failed on an item that exists: its version is at or above this one, so
      // this change is stale (or the same change again).
      if (current) return;
    }
    // Not there (never created, or deleted): create it unless a tombstone is as new. Each
    // condition fails only on a newer state (a tombstone at or above v, an item at or above v),
    // so a cancelled creation is a stale change too: nothing to read.
    await this.#transact(
      [
        {
          ConditionCheck: {
            TableName: this.#stateTableName,
            Key: { pk: { S: id } },
            ConditionExpression: 'attribute_not_exists(pk) OR v < :v',
            ExpressionAttributeValues: values,
          },
        },
        {
          Put: {
            TableName: target.tableName,
            Item: target.item,
            ConditionExpression: 'attribute_not_exists(#k) OR attribute_not_exists(#v) OR #v < :v',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
        },
      ],
      mapped.extra,
      signal,
    );
  }

  // ─── Derived path ─────────────────────────────────────────────────────────────────────────

  /**
   * Reads the source item's state entry (version, targets produced), then writes the new
   * targets, deletes the ones no longer produced and moves the entry, in one transaction
   * conditioned on the entry being the one read.
   */
  async #applyDerived(
    id: string,
    version: string,
    record: ChangeRecord,
    mapped: Mapped,
    signal: AbortSignal | undefined,
  ): Promise<undefined | typeof AGAIN> {
    const stored = await this.#readState(id, signal);
    // Stale or a duplicate; a bootstrap record is written only where nothing is held.
    if (stored && (record.bootstrap === true || stored.version >= version)) return;
    const entry: Marshalled = {
      pk: { S: id },
      v: { S: version },
      t: {
        L: mapped.targets.map((t) => ({ M: { tb: { S: t.tableName }, k: { M: t.key } } })),
      },
    };
    if (mapped.targets.length === 0 && this.#tombstoneTtlSeconds > 0) {
      entry.expiresAt = { N: String(Math.floor(this.#now() / 1000) + this.#tombstoneTtlSeconds) };
    }
    const actions: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.#stateTableName,
          Item: entry,
          // Everything below is planned against exactly the entry that was read.
          ConditionExpression: stored ? 'v = :read' : 'attribute_not_exists(pk)',
          ...(stored ? { ExpressionAttributeValues: { ':read': { S: stored.version } } } : {}),
        },
      },
    ];
    const produced = new Set(mapped.targets.map((t) => t.id));
    for (const target of mapped.targets) {
      actions.push({ Put: { TableName: target.tableName, Item: target.item } });
    }
    // A target this item no longer produces is deleted only while it is still the one this item
    // wrote (its version is the stored entry's: every change rewrites all its targets): another
    // source item may produce it by now (an e-mail address one user gave up and another took).
    for (const old of stored?.targets ?? []) {
      if (!produced.has(old.id))
        actions.push({
          Delete: {
            TableName: old.tableName,
            Key: old.key,
            ConditionExpression: 'attribute_not_exists(#v) OR #v = :read',
            ExpressionAttributeNames: { '#v': this.#versionAttribute },
            ExpressionAttributeValues: { ':read': { S: stored!.version } },
          },
        });
    }
    if (actions.length + mapped.extra.length > MAX_TRANSACTION_ACTIONS) {
      throw new ShardlineError(
        `Record ${record.sequenceNumber} (item ${id}) needs ${actions.length + mapped.extra.length} writes in one transaction (its state entry, ${mapped.targets.length} target items, ${actions.length - 1 - mapped.targets.length} deletes, ${mapped.extra.length} extra actions); TransactWriteItems takes at most ${MAX_TRANSACTION_ACTIONS}. Make project produce fewer items per source item.`,
        { retriable: false },
      );
    }
    if (actions.length === 1 && mapped.extra.length === 0) {
      try {
        await this.#client.send(new PutItemCommand(actions[0]!.Put!), { abortSignal: signal });
        return;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return AGAIN; // the entry moved
        throw error;
      }
    }
    let pending = actions;
    for (;;) {
      const result = await this.#transact(pending, mapped.extra, signal);
      if (result === true) return;
      // The entry moved: read it again. Otherwise only deletes of targets another source item
      // has taken over failed: leave those items to their new source, apply the rest.
      if (result.failedAt.includes(0)) return AGAIN;
      const taken = new Set(result.failedAt);
      pending = pending.filter((_, i) => !taken.has(i));
    }
  }

  // ─── Shared ───────────────────────────────────────────────────────────────────────────────

  /**
   * Sends the sink's own actions and the change's extra ones in one transaction. `true` when it
   * committed, otherwise the items the service returned per action and which of the sink's own
   * actions failed their condition. A conflict is thrown (backoff, then again); a failed
   * condition of an extra action is the user's and fails the record.
   */
  async #transact(
    own: readonly TransactWriteItem[],
    extra: readonly TransactWriteItem[],
    signal: AbortSignal | undefined,
  ): Promise<true | CancelledTransaction> {
    try {
      await this.#client.send(
        new TransactWriteItemsCommand({ TransactItems: [...own, ...extra] }),
        {
          abortSignal: signal,
        },
      );
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException) || isConflict(error)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failedAt = reasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []));
      if (failedAt.some((i) => i >= own.length)) {
        throw new ShardlineError(
          `An extra action of the transaction option failed its condition (reasons: ${reasons.map((r) => r.Code ?? 'None').join(', ')}). Extra actions must succeed whenever the change is applied.`,
          { retriable: false, cause: error },
        );
      }
      if (failedAt.length === 0) throw error;
      return { items: reasons.map((r) => r.Item as Marshalled | undefined), failedAt };
    }
  }

  #map(record: ChangeRecord, version: string): Mapped {
    const image = record.eventName === 'REMOVE' ? undefined : this.#newImage(record);
    const projected: ProjectedItem[] = [];
    if (image !== undefined && (this.#filter === undefined || this.#filter(image, record))) {
      if (this.#project) projected.push(...this.#project(image, record));
      else {
        const item = this.#keyedItem(image, record);
        if (item !== undefined) projected.push({ key: record.keys!, attributes: item });
      }
    }
    const targets: Target[] = [];
    const seen = new Set<string>();
    for (const p of projected) {
      const target = this.#toTarget(p, version, record);
      if (seen.has(target.id)) {
        throw new ShardlineError(
          `Record ${record.sequenceNumber} (item ${itemKey(record) ?? '?'}) projects two items with the key ${target.id}; each target item must appear once.`,
          { retriable: false },
        );
      }
      seen.add(target.id);
      targets.push(target);
    }
    const extra = this.#transaction?.({ record, image, targets: projected }) ?? [];
    return { targets, extra };
  }

  #keyedItem(image: Item, record: ChangeRecord): Item | undefined {
    const shaped = this.#transform ? this.#transform(image, record) : image;
    if (shaped === undefined) return undefined;
    if (!this.#attributes) return shaped;
    const picked: Item = {};
    for (const name of this.#attributes) if (name in shaped) picked[name] = shaped[name];
    return picked;
  }

  #toTarget(projected: ProjectedItem, version: string, record: ChangeRecord): Target {
    const tableName = projected.tableName ?? this.#tableName;
    if (tableName === this.#stateTableName) {
      throw new ConfigurationError(
        `Record ${record.sequenceNumber} projects an item into the state table ${tableName}; name a target table.`,
      );
    }
    const key =
      this.#project === undefined
        ? (record.marshalledKeys as Marshalled)
        : (marshall(projected.key, MARSHALL_OPTIONS) as Marshalled);
    if (Object.keys(key).length === 0) {
      throw new ShardlineError(
        `Record ${record.sequenceNumber} projects an item without a key into ${tableName}.`,
        { retriable: false },
      );
    }
    const attributes = marshall(projected.attributes ?? {}, MARSHALL_OPTIONS) as Marshalled;
    if (this.#versionAttribute in key) {
      throw new ConfigurationError(
        `The version attribute ${this.#versionAttribute} is a key attribute of ${tableName}; set versionAttribute to another name.`,
      );
    }
    return {
      id: `${tableName}|${canonicalKey(key)}`,
      tableName,
      key,
      item: { ...attributes, ...key, [this.#versionAttribute]: { S: version } },
    };
  }

  #newImage(record: ChangeRecord): Item {
    if (record.newImage) return record.newImage;
    throw new ConfigurationError(
      `Record ${record.sequenceNumber} of shard ${record.shardId} (${record.eventName}) has no new image (stream view ${record.streamViewType ?? 'unknown'}). Set the table's StreamViewType to NEW_IMAGE or NEW_AND_OLD_IMAGES.`,
    );
  }

  #stateId(record: ChangeRecord): string {
    const id = itemKey(record);
    if (id === undefined) {
      throw new ShardlineError(
        `Record ${record.sequenceNumber} of shard ${record.shardId} carries no item keys; the projection sink needs DynamoDB change records.`,
        { retriable: false },
      );
    }
    return id;
  }

  async #readState(id: string, signal: AbortSignal | undefined): Promise<StoredState | undefined> {
    const item = await this.#getItem(this.#stateTableName, { pk: { S: id } }, signal);
    if (!item?.v?.S) return undefined;
    const targets = (item.t?.L ?? []).map((value) => {
      const tableName = value.M?.tb?.S ?? this.#tableName;
      const key = (value.M?.k?.M ?? {}) as Marshalled;
      return { id: `${tableName}|${canonicalKey(key)}`, tableName, key };
    });
    return { version: item.v.S, targets };
  }

  async #getItem(
    tableName: string,
    key: Marshalled,
    signal: AbortSignal | undefined,
  ): Promise<Marshalled | undefined> {
    const response = await this.#client.send(
      new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
      { abortSignal: signal },
    );
    return response.Item as Marshalled | undefined;
  }

  #wrap(error: unknown, id: string, record: ChangeRecord): Error {
    if (error instanceof ShardlineError) return error;
    const cause = toError(error);
    this.#logger.warn(
      {
        table: this.#tableName,
        state: this.#stateTableName,
        item: id,
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        err: cause,
      },
      'projection write failed',
    );
    return new ShardlineError(
      `Applying record ${record.sequenceNumber} (item ${id}) to ${this.#tableName} failed: ${errorMessage(error)}`,
      { cause, retriable: isRetriableWriteError(error) },
    );
  }
}

const MARSHALL_OPTIONS = { removeUndefinedValues: true, convertClassInstanceToMap: false };

const OK: Outcome = { status: 'ok' };

function isConflict(error: unknown): boolean {
  return (
    error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict')
  );
}
