import type { ChangeRecord } from './ChangeRecord.js';
import { ConfigurationError } from './errors.js';
import { OldestEntries } from './OldestEntries.js';

/** Options of a {@link Deduper}. */
export interface DeduperOptions {
  /**
   * How many event ids to remember. Older ids are forgotten first (bounded memory).
   * @default 100_000
   */
  readonly maxEventIds?: number;
  /**
   * How many ordering keys' newest applied versions to remember (for sources that reorder).
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

/**
 * Drops records already applied, within bounded windows:
 *
 * - by event id (DynamoDB `eventID`, or shard:sequence for Kinesis): a redelivered record;
 * - by per-key version, for sources that may repeat and reorder changes ("Kinesis Data Streams
 *   for DynamoDB"): a change older than the newest one already applied for its key.
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

  /** Whether `record` was already applied, and why. */
  check(record: Pick<ChangeRecord, 'eventId' | 'orderingKey' | 'version'>): DuplicateReason {
    if (this.#ids.has(record.eventId)) return 'seen';
    if (record.version !== undefined) {
      const newest = this.#versions.get(record.orderingKey);
      if (newest !== undefined && record.version < newest) return 'stale';
    }
    return undefined;
  }

  /** Records that `record` was applied. */
  remember(record: Pick<ChangeRecord, 'eventId' | 'orderingKey' | 'version'>): void {
    if (this.#maxEventIds > 0) {
      this.#ids.add(record.eventId);
      this.#oldestIds.trimTo(this.#maxEventIds);
    }
    if (record.version !== undefined && this.#maxKeyVersions > 0) {
      const newest = this.#versions.get(record.orderingKey);
      if (newest === undefined || record.version > newest) {
        this.#versions.delete(record.orderingKey); // re-insert: most recently used last
        this.#versions.set(record.orderingKey, record.version);
        this.#leastRecentKeys.trimTo(this.#maxKeyVersions);
      }
    }
  }

  /**
   * Forgets that `record` was applied: its write did not become durable (a buffering sink's
   * flush failed), so its redelivery must be applied again, not dropped as seen.
   */
  forget(record: Pick<ChangeRecord, 'eventId' | 'orderingKey' | 'version'>): void {
    this.#ids.delete(record.eventId);
    if (record.version !== undefined && this.#versions.get(record.orderingKey) === record.version) {
      this.#versions.delete(record.orderingKey);
    }
  }

  /** Entries held now (ids, key versions): never above the configured maxima. */
  get size(): { eventIds: number; keyVersions: number } {
    return { eventIds: this.#ids.size, keyVersions: this.#versions.size };
  }
}
