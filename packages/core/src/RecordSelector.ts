import { ChangeEventName, type ChangeRecord } from './ChangeRecord.js';
import type { Sink } from './contracts.js';
import { ConfigurationError } from './errors.js';
import type { EventBus } from './events.js';
import { filterInputOf } from './filterInput.js';
import {
  compileFilterCriteria,
  type FilterCriteriaInput,
  type FilterPredicate,
} from './filterPattern.js';
import {
  isReplicationBookkeeping,
  REPLICATION_UPDATE_REGION,
  withoutReplicationAttributes,
} from './globalTables.js';
import type { Metrics } from './metrics.js';
import type { RecordOutcome } from './RecordOutcome.js';

/** Why a record was filtered out before the handler or sink (it counts as done). */
export const FilterReason = {
  /** It matched none of the `filters` patterns. */
  Filter: 'filter',
  /** A TTL delete, with `ttlDeletes: 'skip'`. */
  TtlDelete: 'ttl-delete',
  /** Global tables 2017.11.29 bookkeeping: a MODIFY that changed only `aws:rep:*` attributes. */
  Replication: 'replication',
  /** Written in another Region than `globalTables.onlyOrigin.region`. */
  OtherRegion: 'other-region',
} as const;
/** One of {@link FilterReason}. */
export type FilterReason = (typeof FilterReason)[keyof typeof FilterReason];

/**
 * What to do with DynamoDB TTL deletes (REMOVEs whose `userIdentity` is the TTL service, see
 * `ChangeRecord.isTtlDelete`):
 * - `'apply'`: like any delete (the default);
 * - `'skip'`: filtered out: counted (`records_filtered_total{reason="ttl-delete"}`, the
 *   `record.filtered` event) and checkpointed, never given to the handler or sink;
 * - `{ routeTo: sink }`: written to that sink instead of the main handler or sink (an archive
 *   of expired items, e.g. `S3ArchiveSink`), with the same retries and failure destination. The
 *   route's sink is flushed with the main one, before each checkpoint.
 */
export type TtlDeletes = 'apply' | 'skip' | { readonly routeTo: Sink };

/** Global tables versions whose streams Shardline knows. */
export type GlobalTablesVersion = '2017.11.29' | '2019.11.21';

/** Options for reading one replica of a global table. */
export interface GlobalTablesOptions {
  /** The global tables version of the table (see DescribeTable's `GlobalTableVersion`). */
  readonly version: GlobalTablesVersion;
  /**
   * Version 2017.11.29 only: whether the handler sees the `aws:rep:*` attributes in the images
   * (`'expose'`) or not (`'strip'`). Either way the choice holds for every record, old and new
   * image alike, and MODIFYs that change only those attributes are dropped (counted as
   * `replication`). `raw` is never changed.
   * @default 'strip'
   */
  readonly replicationAttributes?: 'strip' | 'expose';
  /**
   * Process only the changes written in one Region, so one consumer per Region (each reading
   * its own replica's stream) applies every change once. The Region that wrote a change is read
   * from the new image, or for a REMOVE from the old image (the Region of the item's last
   * write: deletes need an OLD_IMAGE or NEW_AND_OLD_IMAGES view), in:
   * - 2017.11.29: `aws:rep:updateregion`, which the replicator maintains;
   * - 2019.11.21: `attribute`, which your writers must set to their Region on every write
   *   (version 2019.11.21 records carry no origin of their own).
   */
  readonly onlyOrigin?: {
    /** The Region whose writes this consumer applies, e.g. `process.env.AWS_REGION`. */
    readonly region: string;
    /** The attribute holding the writer's Region. Required for 2019.11.21. */
    readonly attribute?: string;
    /**
     * Changes whose image has no origin (items written before the stamping began, KEYS_ONLY
     * streams): `'process'` them in every Region (safe only for idempotent targets) or `'skip'`
     * them (counted as `other-region`).
     * @default 'process'
     */
    readonly unstamped?: 'process' | 'skip';
  };
}

/** Options that choose which records reach the handler or sink; shared by both runtimes. */
export interface RecordSelectionOptions {
  /**
   * Lambda event filtering patterns (the `FilterCriteria` of an event source mapping, or its
   * patterns): a record is kept when it matches one; the others are filtered out before the
   * handler, counted (`records_filtered_total{reason="filter"}`, the `record.filtered` event),
   * checkpointed, never retried and never sent to the failure destination. Patterns see the
   * record as Lambda's event shows it (see `filterInputOf`): `dynamodb.NewImage` in DynamoDB
   * JSON for DynamoDB Streams, `data` for Kinesis JSON payloads.
   *
   * @example
   * filters: [{ eventName: ['INSERT'], dynamodb: { NewImage: { status: { S: ['paid'] } } } }]
   */
  readonly filters?: FilterCriteriaInput;
  /** What to do with DynamoDB TTL deletes. @default 'apply' */
  readonly ttlDeletes?: TtlDeletes;
  /** Global tables handling: bookkeeping duplicates, `aws:rep:*` attributes, origin Region. */
  readonly globalTables?: GlobalTablesOptions;
}

/** What the pipeline does with one record. */
export type Selection = 'keep' | 'route' | FilterReason;

/**
 * Decides, before the handler, what happens to each record: kept, routed to the TTL sink, or
 * filtered out (with the reason). Built once from {@link RecordSelectionOptions}; absent when
 * nothing is configured, so the pipeline pays nothing for the feature it does not use.
 */
export class RecordSelector {
  /** Where TTL deletes go with `ttlDeletes: { routeTo }`. */
  readonly routeTo: Sink | undefined;
  readonly #filter: FilterPredicate | undefined;
  readonly #skipTtl: boolean;
  readonly #dropBookkeeping: boolean;
  readonly #strip: boolean;
  readonly #origin:
    | { readonly region: string; readonly attribute: string; readonly skipUnstamped: boolean }
    | undefined;

  /** A selector for `options`, or `undefined` when they select nothing. */
  static from(options: RecordSelectionOptions): RecordSelector | undefined {
    const { filters, ttlDeletes, globalTables } = options;
    if (
      compileFilterCriteria(filters) === undefined &&
      (ttlDeletes === undefined || ttlDeletes === 'apply') &&
      globalTables === undefined
    ) {
      return undefined;
    }
    return new RecordSelector(options);
  }

  constructor(options: RecordSelectionOptions) {
    this.#filter = compileFilterCriteria(options.filters);
    const ttl = options.ttlDeletes ?? 'apply';
    if (ttl !== 'apply' && ttl !== 'skip') {
      if (typeof ttl !== 'object' || ttl === null || typeof ttl.routeTo?.write !== 'function') {
        throw new ConfigurationError(
          `ttlDeletes must be 'apply', 'skip' or { routeTo: sink } with a Sink, got ${JSON.stringify(ttl)}.`,
        );
      }
      this.routeTo = ttl.routeTo;
    }
    this.#skipTtl = ttl === 'skip';
    const global = options.globalTables;
    this.#dropBookkeeping = false;
    this.#strip = false;
    if (global !== undefined) {
      if (global.version !== '2017.11.29' && global.version !== '2019.11.21') {
        throw new ConfigurationError(
          `globalTables.version must be '2017.11.29' or '2019.11.21' (DescribeTable's GlobalTableVersion), got ${JSON.stringify(global.version)}.`,
        );
      }
      const legacy = global.version === '2017.11.29';
      const attributes = global.replicationAttributes ?? 'strip';
      if (attributes !== 'strip' && attributes !== 'expose') {
        throw new ConfigurationError(
          `globalTables.replicationAttributes must be 'strip' or 'expose', got ${JSON.stringify(attributes)}.`,
        );
      }
      if (!legacy && global.replicationAttributes !== undefined) {
        throw new ConfigurationError(
          `globalTables.replicationAttributes applies to version 2017.11.29 only; version 2019.11.21 writes no aws:rep:* attributes. Remove the option.`,
        );
      }
      this.#dropBookkeeping = legacy;
      this.#strip = legacy && attributes === 'strip';
      const origin = global.onlyOrigin;
      if (origin !== undefined) {
        if (typeof origin.region !== 'string' || origin.region === '') {
          throw new ConfigurationError(
            `globalTables.onlyOrigin.region must name a Region such as 'us-east-1' (often process.env.AWS_REGION), got ${JSON.stringify(origin.region)}.`,
          );
        }
        const attribute = origin.attribute ?? (legacy ? REPLICATION_UPDATE_REGION : undefined);
        if (!attribute) {
          throw new ConfigurationError(
            `globalTables.onlyOrigin.attribute is required for version 2019.11.21: name the attribute your writers set to their Region on every write (for example 'writtenIn').`,
          );
        }
        const unstamped = origin.unstamped ?? 'process';
        if (unstamped !== 'process' && unstamped !== 'skip') {
          throw new ConfigurationError(
            `globalTables.onlyOrigin.unstamped must be 'process' or 'skip', got ${JSON.stringify(unstamped)}.`,
          );
        }
        this.#origin = { region: origin.region, attribute, skipUnstamped: unstamped === 'skip' };
      }
    }
  }

  /** Whether records reach the handler as views without `aws:rep:*` attributes. */
  get stripsReplicationAttributes(): boolean {
    return this.#strip;
  }

  /** What happens to `record`. An undecodable record is always kept (it is parked or blocks). */
  select(record: ChangeRecord): Selection {
    if (record.decodeError) return 'keep';
    if (this.#filter && !this.#filter(filterInputOf(record))) return FilterReason.Filter;
    if (this.#dropBookkeeping && isReplicationBookkeeping(record)) return FilterReason.Replication;
    if (this.#origin && !this.#fromOrigin(record)) return FilterReason.OtherRegion;
    if (record.isTtlDelete) {
      if (this.#skipTtl) return FilterReason.TtlDelete;
      if (this.routeTo) return 'route';
    }
    return 'keep';
  }

  /**
   * The record as the handler or sink sees it (`aws:rep:*` stripped when asked). The same view
   * object for the same record, so a runtime can tell which records a handler finished.
   */
  view(record: ChangeRecord): ChangeRecord {
    return this.#strip && !record.decodeError ? withoutReplicationAttributes(record) : record;
  }

  #fromOrigin(record: ChangeRecord): boolean {
    const origin = this.#origin!;
    const image = record.eventName === ChangeEventName.Remove ? record.oldImage : record.newImage;
    const writtenIn = image?.[origin.attribute];
    if (typeof writtenIn !== 'string') return !origin.skipUnstamped;
    return writtenIn === origin.region;
  }
}

/**
 * One flush for every sink a pipeline writes to (the main sink and a TTL route's), for the
 * runtimes to call before a checkpoint or before answering Lambda. `undefined` when none buffers.
 */
export function flushOfSinks(
  ...sinks: readonly (Sink | undefined)[]
): ((signal?: AbortSignal) => Promise<void>) | undefined {
  const buffering = [...new Set(sinks)].filter(
    (s): s is Sink & Required<Pick<Sink, 'flush'>> => typeof s?.flush === 'function',
  );
  if (buffering.length === 0) return undefined;
  if (buffering.length === 1) return (signal) => buffering[0]!.flush(signal);
  return async (signal) => {
    await Promise.all(buffering.map((s) => s.flush(signal)));
  };
}

/** The sink `ttlDeletes` routes to, if any. */
export function ttlRouteOf(ttlDeletes: TtlDeletes | undefined): Sink | undefined {
  return typeof ttlDeletes === 'object' && ttlDeletes !== null ? ttlDeletes.routeTo : undefined;
}

/** One shared outcome per filter reason: no allocation per filtered record. */
const FILTERED: Readonly<Record<FilterReason, RecordOutcome>> = Object.freeze({
  filter: Object.freeze({ status: 'filtered', reason: 'filter' }),
  'ttl-delete': Object.freeze({ status: 'filtered', reason: 'ttl-delete' }),
  replication: Object.freeze({ status: 'filtered', reason: 'replication' }),
  'other-region': Object.freeze({ status: 'filtered', reason: 'other-region' }),
});

/**
 * Counts a record left out before the handler (`records_filtered_total{shard, reason}`), emits
 * `record.filtered`, and returns its (done) outcome. The one report of every runtime and mode.
 */
export function reportFiltered(
  record: ChangeRecord,
  reason: FilterReason,
  to: { readonly metrics?: Metrics | undefined; readonly events?: EventBus | undefined },
): RecordOutcome {
  to.metrics?.increment('records_filtered_total', 1, {
    stream: record.streamId,
    shard: record.shardId,
    reason,
  });
  if (to.events?.has('record.filtered')) {
    to.events.emit('record.filtered', {
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      orderingKey: record.orderingKey,
      reason,
    });
  }
  return FILTERED[reason];
}
