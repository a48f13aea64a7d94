import type { ChangeRecord } from './ChangeRecord.js';
import { ConfigurationError } from './errors.js';
import { itemKey } from './itemKey.js';
import { StringWindow } from './StringWindow.js';

/** Options of a {@link Deduper}. */
export interface DeduperOptions {
  /**
   * How many event ids to remember, the most recently applied ones; older ids are forgotten
   * first. The default holds every record of the largest batch a Lambda event source mapping
   * sends (BatchSize 10,000), so a redelivery of the previous batch is dropped whole. Raise it
   * when duplicates arrive further apart; each id costs about 60 bytes (a 32-character
   * DynamoDB `eventID`) to 75 bytes (a Kinesis shard:sequence id, kept packed).
   * @default 10_000
   */
  readonly maxEventIds?: number;
  /**
   * How many items' newest applied versions to remember (the stale check of last-writer-wins
   * targets, for sources that reorder): a change older than one applied to its item is caught
   * while fewer than this many other items were changed in between. About 60 bytes an item.
   * @default 4096
   */
  readonly maxKeyVersions?: number;
}

/**
 * Default size of the {@link Deduper}'s event id window: one Lambda batch at its largest
 * (BatchSize 10,000 for DynamoDB Streams and Kinesis).
 */
export const DEFAULT_MAX_EVENT_IDS = 10_000;
/**
 * Default size of the {@link Deduper}'s item version window. Smaller than the id window: the
 * shipped last-writer-wins sink refuses older versions itself (OpenSearch external versions),
 * so this window only saves writes, and reordering by Kinesis Data Streams for DynamoDB spans
 * changes written close together.
 */
export const DEFAULT_MAX_KEY_VERSIONS = 4096;

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
 * Both windows are {@link StringWindow}s: typed arrays, exact on every hit, under 1 MB together
 * at the defaults. What the defaults are sized to catch, and why the sinks no longer need more,
 * is in the package README ("What the dedup window catches").
 *
 * A record is remembered only once it is done (`remember`), never when first seen: a record that
 * fails and comes back is not a duplicate, so dedup never drops a first application.
 */
export class Deduper {
  readonly #ids: StringWindow;
  /** Newest applied version per item, as a number (see `versionNumber`). */
  readonly #versions: StringWindow;
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
    this.#ids = new StringWindow(this.#maxEventIds, false);
    this.#versions = new StringWindow(this.#maxKeyVersions);
  }

  /**
   * Whether `record` was already applied (`seen`), or, with `staleChanges: 'drop'`, is older
   * than the newest applied change of its item (`stale`).
   *
   * @param eventKey - `keyOf(record)`, when the caller keeps it for `remember` (see `keyOf`);
   * else it is built only when the window holds ids.
   */
  check(
    record: DedupRecord,
    staleChanges: StaleChanges = 'apply',
    eventKey?: string,
  ): DuplicateReason {
    // An empty window (a Lambda handler on a healthy stream, see `remember`) costs no key and no
    // hashing.
    if (this.#ids.size > 0 && this.#ids.has(eventKey ?? this.keyOf(record))) return 'seen';
    if (staleChanges === 'drop' && record.version !== undefined && this.#versions.size > 0) {
      const item = itemKey(record);
      const newest = item === undefined ? undefined : this.#versions.get(item);
      if (newest !== undefined && versionNumber(record.version) < newest) return 'stale';
    }
    return undefined;
  }

  /**
   * Records that `record` was applied.
   *
   * @param eventKey - `keyOf(record)` of this same record, as given to `check`.
   */
  remember(record: DedupRecord, eventKey?: string): void {
    if (this.#maxEventIds > 0) this.#ids.add(eventKey ?? this.keyOf(record));
    if (record.version !== undefined && this.#maxKeyVersions > 0) {
      const item = itemKey(record);
      if (item === undefined) return;
      const newest = this.#versions.get(item);
      const version = versionNumber(record.version);
      // set moves the item to the newest end: least-recently-updated items are forgotten first.
      if (newest === undefined || version > newest) this.#versions.set(item, version);
    }
  }

  /**
   * Forgets that `record` was applied: its write did not become durable (a buffering sink's
   * flush failed), so its redelivery must be applied again, not dropped as seen.
   */
  forget(record: DedupRecord): void {
    this.#ids.delete(this.keyOf(record));
    if (record.version === undefined) return;
    const item = itemKey(record);
    if (item !== undefined && this.#versions.get(item) === versionNumber(record.version)) {
      this.#versions.delete(item);
    }
  }

  /**
   * The key a record's event id is filed under ({@link compactEventId}). A caller that checks a
   * record, runs it while other records are checked, then remembers it (a concurrent handler)
   * keeps this and passes it to both calls, so a Kinesis id is packed once, not twice.
   */
  keyOf(record: Pick<DedupRecord, 'eventId'>): string {
    return compactEventId(record.eventId);
  }

  /** Bytes the two windows hold (typed arrays, allocated up front for the configured maxima). */
  get byteLength(): number {
    return this.#ids.byteLength + this.#versions.byteLength;
  }

  /** Entries held now (ids, item versions): never above the configured maxima. */
  get size(): { eventIds: number; keyVersions: number } {
    return { eventIds: this.#ids.size, keyVersions: this.#versions.size };
  }
}

/**
 * A version as a double. Rounding is monotonic (`a <= b` implies `Number(a) <= Number(b)`), so
 * `Number(a) < Number(b)` still proves `a < b`: a change is never called stale by rounding.
 * Versions are creation times in µs (below 2^53, exact) in practice; two beyond 2^53 that round
 * alike compare equal, and the older one is then applied, never wrongly dropped.
 */
function versionNumber(version: bigint): number {
  return Number(version);
}

/** Bytes of a compact event id: `KINESIS_ID`, shard digits, `SEPARATOR`, sequence digits. */
const KINESIS_ID = 1;
const SEPARATOR = 2;
/** Two decimal digits `ab` become one byte, `PAIR + 10a + b` (32–131). */
const PAIR = 32;
/** A lone last digit `d` becomes `SINGLE + d` (140–149), apart from every pair. */
const SINGLE = 140;
const SHARD_PREFIX = 'shardId-';
/** Longest id packed (a Kinesis id is 77 characters); longer ones are kept as they are. */
const MAX_PACKED_ID = 256;
const scratch = Buffer.allocUnsafe(MAX_PACKED_ID / 2 + 4);

/**
 * The key an event id is remembered by: a Kinesis id (`shardId-000000000003:4959…`, 77
 * characters) packed two digits to a latin1 character (36 characters), other ids as they are.
 * Injective, so exact lookups stay exact: a packed id starts with code 1, and an id of any other
 * form that starts with code 0 or 1 gets a code 0 in front. With Kinesis ids the default window
 * held 1.37 MB per shard, over the 1 MB target; packed, 0.97 MB. Packing costs about 180 ns an
 * id (one latin1 string built from a scratch buffer), paid by Kinesis records only.
 */
export function compactEventId(id: string): string {
  const first = id.charCodeAt(0);
  if (first === 115 /* s */ && id.length <= MAX_PACKED_ID && id.startsWith(SHARD_PREFIX)) {
    const colon = id.indexOf(':', SHARD_PREFIX.length);
    if (colon > SHARD_PREFIX.length && colon < id.length - 1) {
      scratch[0] = KINESIS_ID;
      let n = packDigits(id, SHARD_PREFIX.length, colon, 1);
      if (n > 0) {
        scratch[n++] = SEPARATOR;
        n = packDigits(id, colon + 1, id.length, n);
        if (n > 0) return scratch.toString('latin1', 0, n);
      }
    }
    return id;
  }
  return first <= KINESIS_ID ? `\u0000${id}` : id;
}

/**
 * Packs the digits `id[from, to)` into `scratch` from `at`; the end offset, or 0 when one of
 * them is not a digit.
 */
function packDigits(id: string, from: number, to: number, at: number): number {
  let i = from;
  let n = at;
  for (; i + 1 < to; i += 2) {
    const a = id.charCodeAt(i) - 48;
    const b = id.charCodeAt(i + 1) - 48;
    if (a < 0 || a > 9 || b < 0 || b > 9) return 0;
    scratch[n++] = PAIR + a * 10 + b;
  }
  if (i < to) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return 0;
    scratch[n++] = SINGLE + d;
  }
  return n;
}
