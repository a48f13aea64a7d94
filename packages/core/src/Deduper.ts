import type { ChangeRecord } from './ChangeRecord.js';
import { ConfigurationError } from './errors.js';
import { itemKey } from './itemKey.js';
import { OldestEntries } from './OldestEntries.js';

/** Options of a {@link Deduper}. */
export interface DeduperOptions {
  /**
   * How many event ids to remember. Older ids are forgotten first (bounded memory).
   * @default 100_000
   */
  readonly maxEventIds?: number;
  /**
   * How many items' newest applied versions to remember (for sources that reorder).
   * @default 100_000
   */
  readonly maxKeyVersions?: number;
}

/** Default window sizes of the {@link Deduper}. */
export const DEFAULT_MAX_EVENT_IDS = 100_000;
/** @see DEFAULT_MAX_EVENT_IDS */
export const DEFAULT_MAX_KEY_VERSIONS = 100_000;

/** Why a record is a duplicate, or `undefined` when it is not. */
export type DuplicateReason = 'seen' | 'stale' | undefined;

/** What the {@link Deduper} reads of a record: its event id, and its version and item. */
export type DedupRecord = Pick<
  ChangeRecord,
  'eventId' | 'version' | 'tableName' | 'marshalledKeys'
>;

/**
 * Whether a change older than the newest applied change of its item is dropped (`drop`, right
 * only for last-writer-wins targets) or applied (`apply`, for every other target).
 */
export type StaleChanges = 'drop' | 'apply';

/**
 * Drops records already applied, within bounded windows:
 *
 * - by event id (DynamoDB `eventID`, or shard:sequence for Kinesis): a redelivered record;
 * - by per-item version, for sources that may repeat and reorder changes ("Kinesis Data Streams
 *   for DynamoDB"), and only when asked (`check(record, 'drop')`): a change older than the
 *   newest one already applied to the same item. That is right for last-writer-wins targets
 *   only; a delta target (a counter) needs every change, so the pipeline asks for it only when
 *   the sink or handler says it is last-writer-wins (see `ChangeEffect`).
 *
 * Versions are kept per item ({@link itemKey}: table and primary key), never per ordering key: a
 * custom ordering key may group several items, whose versions do not compare.
 *
 * A record is remembered only once it is done (`remember`), never when first seen: a record that
 * fails and comes back is not a duplicate, so dedup never drops a first application.
 */
export class Deduper {
  readonly #ids = new Set<string>();
  readonly #versions = new Map<string, bigint>();
  readonly #oldestIds = new OldestEntries(this.#ids);
  readonly #leastRecentKeys = new OldestEntries(this.#versions);
  readonly #maxEventIds: number;
  readonly #maxKeyVersions: number;

  constructor(options: DeduperOptions = {}) {
    this.#maxEventIds = options.maxEventIds ?? DEFAULT_MAX_EVENT_IDS;
    this.#maxKeyVersions = options.maxKeyVersions ?? DEFAULT_MAX_KEY_VERSIONS;
    for (const [name, value] of [
      ['maxEventIds', this.#maxEventIds],
      ['maxKeyVersions', this.#maxKeyVersions],
    ] as const) {
      if (!Number.isInteger(value) || value < 0) {
        throw new ConfigurationError(
          `${name} must be a whole number of 0 or more, got ${String(value)}; 0 turns that check off.`,
        );
      }
    }
  }

  /**
   * Whether `record` was already applied (`seen`), or, with `staleChanges: 'drop'`, is older
   * than the newest applied change of its item (`stale`).
   */
  check(record: DedupRecord, staleChanges: StaleChanges = 'apply'): DuplicateReason {
    if (this.#ids.has(record.eventId)) return 'seen';
    if (staleChanges === 'drop' && record.version !== undefined && this.#versions.size > 0) {
      const item = itemKey(record);
      const newest = item === undefined ? undefined : this.#versions.get(item);
      if (newest !== undefined && record.version < newest) return 'stale';
    }
    return undefined;
  }

  /** Records that `record` was applied. */
  remember(record: DedupRecord): void {
    if (this.#maxEventIds > 0) {
      this.#ids.add(record.eventId);
      this.#oldestIds.trimTo(this.#maxEventIds);
    }
    if (record.version !== undefined && this.#maxKeyVersions > 0) {
      const item = itemKey(record);
      if (item === undefined) return;
      const newest = this.#versions.get(item);
      if (newest === undefined || record.version > newest) {
        this.#versions.delete(item); // re-insert: most recently used last
        this.#versions.set(item, record.version);
        this.#leastRecentKeys.trimTo(this.#maxKeyVersions);
      }
    }
  }

  /**
   * Forgets that `record` was applied: its write did not become durable (a buffering sink's
   * flush failed), so its redelivery must be applied again, not dropped as seen.
   */
  forget(record: DedupRecord): void {
    this.#ids.delete(record.eventId);
    if (record.version === undefined) return;
    const item = itemKey(record);
    if (item !== undefined && this.#versions.get(item) === record.version) {
      this.#versions.delete(item);
    }
  }

  /** Entries held now (ids, item versions): never above the configured maxima. */
  get size(): { eventIds: number; keyVersions: number } {
    return { eventIds: this.#ids.size, keyVersions: this.#versions.size };
  }
}
