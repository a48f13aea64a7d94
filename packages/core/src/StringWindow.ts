import { ConfigurationError } from './errors.js';

/** Bytes of arena per entry a window starts with: a DynamoDB `eventID` is 32 characters. */
const INITIAL_BYTES_PER_ENTRY = 32;
/** Entries a window has room for at first: a batch of up to 1000 records needs no growth. */
const INITIAL_ENTRIES = 1024;
/**
 * An insert that steps over more than this many slots holding its own hash switches a window
 * from sampled to whole-key hashes. Equal 32-bit hashes among a probe run's neighbours are what
 * keys varying only where the sample does not look produce; random keys almost never give two.
 * (A probe run's length alone is no signal: linear probing at this load makes runs over 32 slots
 * by chance, and random DynamoDB `eventID`s switched a window to whole keys, which cost twice the
 * hashing, within 200,000 inserts.)
 */
const MAX_SAME_HASH_PROBES = 8;
/** Keys whose characters are copied into the arena at once. */
const PENDING_KEYS = 256;
/**
 * The arrays of a window that holds nothing yet, shared and never written (the first key
 * allocates a window's own): a Lambda container built per invocation, as in the benchmark,
 * does not allocate a dozen empty typed arrays per deduper.
 */
const NO_SLOTS = new Int32Array(4);
const NO_ENTRIES = new Int32Array(0);
const NO_FLAGS = new Uint8Array(0);
const NO_VALUES = new Float64Array(0);
const NO_BYTES = Buffer.alloc(0);
/** A code unit a latin1 byte cannot hold. */
const WIDE_CHARACTER = /[\u0100-\uffff]/;

/**
 * A bounded map from strings to numbers that forgets its oldest entries first, held in typed
 * arrays: the de-duplication windows of {@link Deduper} (event ids; newest version per item).
 *
 * Why not a `Set<string>` / `Map<string, bigint>`: a window of 100,000 event ids in a `Set`
 * took about 75 bytes per id (the string object, the hash-table entry) and 1.5–2 µs per record
 * once full, most of it cache misses in a table far larger than the CPU's caches, and the
 * garbage collector walked every retained string. Here an entry is its characters copied into
 * one byte arena (latin1; a key with a code unit above 255 is kept as a string instead, which
 * event ids and item keys of ASCII names never need) plus 13 bytes of typed arrays (21 with a
 * value) and 12–16 bytes of open-addressing index: about 60 bytes for a 32-character DynamoDB
 * `eventID`, none of it visible to the garbage collector.
 *
 * Lookups are exact: the 32-bit hash only selects the slot and rejects most non-matches; a hit
 * is confirmed by comparing every character. So a hash collision costs one comparison and can
 * never make an unseen key look present (a duplicate check that says "seen" always saw it).
 *
 * Entries live in a ring in insertion order. `set` of a present key moves it to the newest end
 * (least-recently-updated order); its old place stays as a dead entry until the ring passes it,
 * so a window that refreshes keys often holds somewhat fewer than `maxEntries` live keys.
 *
 * @example
 * const ids = new StringWindow(10_000);
 * if (!ids.has(eventId)) ids.set(eventId, 0);
 */
export class StringWindow {
  readonly #maxEntries: number;
  readonly #withValues: boolean;
  /** Entries the ring has room for now: grows by doubling up to `maxEntries`. */
  #capacity = 0;
  /**
   * Open addressing, linear probing, two numbers a slot: entry index + 1 (0: empty) and the
   * entry's hash, side by side, so a probe and a deletion read one array, not the entry arrays
   * at random (cache misses that made a full window cost more than an empty one).
   */
  #index = NO_SLOTS;
  #mask = NO_SLOTS.length / 2 - 1;
  #hash = NO_ENTRIES;
  #offset = NO_ENTRIES;
  /** Code units of the key; -1 for a key held as a string (`#wideKeys`). */
  #length = NO_ENTRIES;
  #dead = NO_FLAGS;
  #value = NO_VALUES;
  #bytes = NO_BYTES;
  #writeAt = 0;
  #oldest = 0;
  /** Entries in the ring, live and dead. */
  #count = 0;
  #live = 0;
  /**
   * Keys of the newest entries whose characters are not in the arena yet, oldest first; their
   * room is reserved from `#pendingAt` on, one run. Written in one `Buffer.write` of the joined
   * keys every `PENDING_KEYS` (a `charCodeAt` loop per key cost more than the rest of `set`).
   */
  #pending: string[] = [];
  #pendingAt = 0;
  /** Keys with a code unit above 255, by entry: held as strings (event ids never have one). */
  #wideKeys: Map<number, string> | undefined;
  /** The last key hashed and its hash: `has` then `set` of one key hashes it once. */
  #lastKey: string | undefined;
  #lastHash = 0;
  /** Whether keys are hashed whole (after sampled hashes made a long probe run), else sampled. */
  #wholeKeys = false;

  /**
   * @param maxEntries - The most keys held; 0 holds none (every `set` is forgotten at once).
   *   Room is allocated as keys come (from 1024 entries, doubling), so a window that is never
   *   filled, as in a Lambda container that handles one small batch, costs little.
   * @param withValues - Whether keys carry values (8 bytes an entry); without, `get` gives 0
   *   for a held key and `set` ignores the value.
   */
  constructor(maxEntries: number, withValues = true) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new ConfigurationError(
        `A StringWindow holds a whole number of 0 or more entries, got ${String(maxEntries)}.`,
      );
    }
    this.#maxEntries = maxEntries;
    this.#withValues = withValues;
  }

  /** Keys held now: never above `maxEntries`. */
  get size(): number {
    return this.#live;
  }

  /** Bytes of typed arrays this window holds now (index, entries and the character arena). */
  get byteLength(): number {
    return (
      this.#index.byteLength +
      this.#hash.byteLength +
      this.#offset.byteLength +
      this.#length.byteLength +
      this.#dead.byteLength +
      this.#value.byteLength +
      this.#bytes.byteLength
    );
  }

  /**
   * Whether keys are hashed whole: set once an insert stepped over more than 8 slots of its own
   * sampled hash (keys that differ only in characters the sample skips). For tests and
   * diagnostics.
   */
  get hashesWholeKeys(): boolean {
    return this.#wholeKeys;
  }

  /** Whether `key` is held. */
  has(key: string): boolean {
    return this.#find(key) !== -1;
  }

  /** The value of `key`, or `undefined` when it is not held. */
  get(key: string): number | undefined {
    const entry = this.#find(key);
    return entry === -1 ? undefined : (this.#value[entry] ?? 0);
  }

  /** Holds `key` with `value` as the newest entry, forgetting the oldest one when full. */
  set(key: string, value: number): void {
    const present = this.#find(key);
    if (present !== -1) this.#kill(present);
    this.#insert(key, value);
  }

  /**
   * Holds `key` (value 0) as the newest entry unless it is held already; returns whether it was
   * added. One lookup, where `has` then `set` takes two.
   */
  add(key: string): boolean {
    if (this.#find(key) !== -1) return false;
    this.#insert(key, 0);
    return true;
  }

  /** Files `key`, which is not held, as the newest entry (`#lastHash` is its hash). */
  #insert(key: string, value: number): void {
    if (this.#maxEntries === 0) return;
    if (this.#count === this.#capacity) {
      if (this.#capacity < this.#maxEntries) {
        const capacity = Math.min(this.#maxEntries, Math.max(INITIAL_ENTRIES, this.#capacity * 2));
        this.#rebuild(capacity, Math.max(this.#bytes.length, capacity * INITIAL_BYTES_PER_ENTRY));
      } else this.#evictOldest();
    }
    const offset = this.#reserve(Math.max(1, key.length));
    const entry = (this.#oldest + this.#count) % this.#capacity;
    this.#count++;
    this.#live++;
    this.#hash[entry] = this.#lastHash;
    this.#offset[entry] = offset;
    this.#length[entry] = key.length;
    this.#dead[entry] = 0;
    if (this.#withValues) this.#value[entry] = value;
    if (this.#pending.length === 0) this.#pendingAt = offset;
    // An empty key still takes its byte of room, so the joined run stays aligned.
    this.#pending.push(key.length === 0 ? '\0' : key);
    // Batching needs the oldest entry never pending (eviction frees its room): a ring of at
    // least INITIAL_ENTRIES evicts only when full, far past the PENDING_KEYS newest.
    if (this.#pending.length >= PENDING_KEYS || this.#capacity < INITIAL_ENTRIES) this.#flush();
    if (this.#insertIndex(entry) > MAX_SAME_HASH_PROBES && !this.#wholeKeys) this.#hashWholeKeys();
  }

  /** Forgets `key`; returns whether it was held. */
  delete(key: string): boolean {
    const entry = this.#find(key);
    if (entry === -1) return false;
    this.#kill(entry);
    return true;
  }

  /** The entry holding `key`, or -1. Leaves the key's hash in `#lastHash` for `set`. */
  #find(key: string): number {
    if (key !== this.#lastKey) {
      this.#lastKey = key;
      this.#lastHash = this.#wholeKeys ? stringHash(key) : sampledHash(key);
    }
    const h = this.#lastHash;
    const index = this.#index;
    const mask = this.#mask;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const held = index[2 * slot]!;
      if (held === 0) return -1;
      if (index[2 * slot + 1] === h && this.#equals(held - 1, key)) return held - 1;
    }
  }

  /** Whether the entry's key is exactly `key` (every character compared). */
  #equals(entry: number, key: string): boolean {
    const length = this.#length[entry]!;
    if (length < 0) return this.#wideKeys?.get(entry) === key;
    if (length !== key.length) return false;
    if (length === 0) return true;
    const pending = this.#pendingIndex(entry);
    if (pending !== -1) return this.#pending[pending] === key;
    const bytes = this.#bytes;
    const offset = this.#offset[entry]!;
    for (let i = 0; i < length; i++) if (bytes[offset + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  /** Where `entry` is in `#pending`, or -1 when its characters are in the arena. */
  #pendingIndex(entry: number): number {
    const pending = this.#pending.length;
    if (pending === 0) return -1;
    const age = (entry - this.#oldest + this.#capacity) % this.#capacity;
    const at = age - (this.#count - pending);
    return at >= 0 ? at : -1;
  }

  /** Writes the pending keys' characters into their reserved run of the arena. */
  #flush(): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    const joined = pending.length === 1 ? pending[0]! : pending.join('');
    if (!WIDE_CHARACTER.test(joined)) {
      this.#bytes.write(joined, this.#pendingAt, 'latin1');
    } else {
      const first = (this.#oldest + this.#count - pending.length) % this.#capacity;
      let at = this.#pendingAt;
      for (let i = 0; i < pending.length; i++) {
        const key = pending[i]!;
        if (WIDE_CHARACTER.test(key)) {
          const entry = (first + i) % this.#capacity;
          this.#wideKeys ??= new Map();
          this.#wideKeys.set(entry, key);
          this.#length[entry] = -1;
        } else this.#bytes.write(key, at, 'latin1');
        at += key.length;
      }
    }
    pending.length = 0;
  }

  /** Files `entry` in the index; returns how many slots holding its hash it stepped over. */
  #insertIndex(entry: number): number {
    const index = this.#index;
    const mask = this.#mask;
    let sameHash = 0;
    const h = this.#hash[entry]!;
    let slot = h & mask;
    while (index[2 * slot] !== 0) {
      if (index[2 * slot + 1] === h) sameHash++;
      slot = (slot + 1) & mask;
    }
    index[2 * slot] = entry + 1;
    index[2 * slot + 1] = h;
    return sameHash;
  }

  /** Takes a live entry out of the index; its ring place stays until the ring passes it. */
  #kill(entry: number): void {
    const index = this.#index;
    const mask = this.#mask;
    let hole = this.#hash[entry]! & mask;
    while (index[2 * hole] !== entry + 1) hole = (hole + 1) & mask;
    index[2 * hole] = 0;
    // Backward-shift deletion: move up every later entry of the probe run that may fill the hole.
    for (let slot = (hole + 1) & mask; index[2 * slot] !== 0; slot = (slot + 1) & mask) {
      const home = index[2 * slot + 1]! & mask;
      const stays = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (stays) continue;
      index[2 * hole] = index[2 * slot]!;
      index[2 * hole + 1] = index[2 * slot + 1]!;
      index[2 * slot] = 0;
      hole = slot;
    }
    this.#dead[entry] = 1;
    this.#live--;
  }

  #evictOldest(): void {
    const entry = this.#oldest;
    if (this.#dead[entry] === 0) this.#kill(entry);
    if (this.#length[entry]! < 0) this.#wideKeys?.delete(entry);
    this.#oldest = (entry + 1) % this.#capacity;
    this.#count--;
  }

  /** From now on hashes every character of a key; rehashes the entries held. */
  #hashWholeKeys(): void {
    this.#flush();
    this.#wholeKeys = true;
    this.#lastKey = undefined;
    this.#index.fill(0);
    for (let i = 0; i < this.#count; i++) {
      const entry = (this.#oldest + i) % this.#capacity;
      if (this.#dead[entry] === 1) continue;
      this.#hash[entry] = stringHash(this.#keyOf(entry));
      this.#insertIndex(entry);
    }
  }

  /** The key an entry holds, read back from the arena (pending keys are flushed first). */
  #keyOf(entry: number): string {
    const length = this.#length[entry]!;
    if (length < 0) return this.#wideKeys!.get(entry)!;
    const offset = this.#offset[entry]!;
    return this.#bytes.toString('latin1', offset, offset + length);
  }

  /**
   * The arena offset for `size` new bytes. The arena is a circular log in ring order: oldest
   * entries are forgotten to make room once the ring is at `maxEntries`; before that, or when
   * keys are longer than 32 characters, the arena grows instead.
   */
  #reserve(size: number): number {
    for (;;) {
      const capacity = this.#bytes.length;
      if (this.#count === 0) {
        if (size > capacity) this.#rebuild(this.#capacity, capacity + size);
        this.#writeAt = size;
        return 0;
      }
      const head = this.#writeAt;
      const tail = this.#offset[this.#oldest]!;
      if (head > tail) {
        // In use: [tail, head).
        if (capacity - head >= size) {
          this.#writeAt = head + size;
          return head;
        }
        if (tail >= size) {
          this.#flush(); // the pending run ends here; the next starts at 0
          this.#writeAt = size;
          return 0;
        }
      } else if (tail - head >= size) {
        // In use: [tail, end) and [0, head); free: [head, tail).
        this.#writeAt = head + size;
        return head;
      }
      if (this.#count < this.#capacity) {
        // Room for the ring's entries at the average key length seen, not just 1.5 times more.
        const average = Math.ceil(capacity / Math.max(1, this.#count));
        const arena = Math.max(Math.ceil(capacity * 1.25), average * this.#capacity);
        this.#rebuild(this.#capacity, arena + size);
      } else this.#evictOldest();
    }
  }

  /**
   * New arrays for `capacity` entries and `arenaBytes` of characters, with the live entries
   * copied in ring order from the start (dead ones dropped) and the index rebuilt.
   */
  #rebuild(capacity: number, arenaBytes: number): void {
    this.#flush();
    const hash = new Int32Array(capacity);
    const offset = new Int32Array(capacity);
    const length = new Int32Array(capacity);
    const value = new Float64Array(this.#withValues ? capacity : 0);
    const bytes = Buffer.alloc(arenaBytes);
    const wideKeys = this.#wideKeys ? new Map<number, string>() : undefined;
    let count = 0;
    let at = 0;
    // Characters are copied a run at a time: entries laid out one after another in the old
    // arena stay so in the new one (one `copy` call per entry cost more than the rest of a
    // window's growth). A run ends at a dead entry, a wide key or the arena's wrap.
    let runFrom = 0;
    let runTo = 0;
    let runAt = 0;
    for (let i = 0; i < this.#count; i++) {
      const entry = (this.#oldest + i) % this.#capacity;
      if (this.#dead[entry] === 1) continue;
      const keyLength = this.#length[entry]!;
      const size = Math.max(1, keyLength);
      const from = this.#offset[entry]!;
      if (keyLength > 0) {
        if (from !== runTo || runTo === runFrom || at !== runAt + (runTo - runFrom)) {
          if (runTo > runFrom) this.#bytes.copy(bytes, runAt, runFrom, runTo);
          runFrom = from;
          runAt = at;
        }
        runTo = from + size;
      }
      if (keyLength < 0) wideKeys!.set(count, this.#wideKeys!.get(entry)!);
      hash[count] = this.#hash[entry]!;
      offset[count] = at;
      length[count] = keyLength;
      if (this.#withValues) value[count] = this.#value[entry]!;
      at += size;
      count++;
    }
    if (runTo > runFrom) this.#bytes.copy(bytes, runAt, runFrom, runTo);
    // Load factor at most 2/3: short probe sequences, 12–16 bytes of index per entry.
    let slots = 2;
    while (slots < capacity * 1.5) slots *= 2;
    this.#capacity = capacity;
    this.#hash = hash;
    this.#offset = offset;
    this.#length = length;
    this.#dead = new Uint8Array(capacity);
    this.#value = value;
    this.#bytes = bytes;
    this.#wideKeys = wideKeys;
    this.#writeAt = at;
    this.#oldest = 0;
    this.#count = count;
    this.#index = new Int32Array(2 * slots);
    this.#mask = slots - 1;
    for (let entry = 0; entry < count; entry++) this.#insertIndex(entry);
  }
}

/**
 * The 32-bit hash of a whole key: FNV-1a over the UTF-16 code units, then murmur3's finalizer
 * (FNV alone leaves the low bits, which pick the slot, poorly mixed). Exported for tests that
 * need two keys of one hash.
 */
export function stringHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return finalize(h);
}

/**
 * The 32-bit hash a {@link StringWindow} files `key` under at first: the length, the last 8
 * code units and 4 or 5 spread over the rest (all of a key of 12 or fewer).
 *
 * Why a sample: a JavaScript loop over `charCodeAt` costs about 1 ns a character, while a `Set`
 * reuses the hash V8 keeps in the string; hashing a 36-character id whole cost this window more
 * than the rest of its work. Event ids vary at the end (Kinesis sequence numbers, counters) or
 * everywhere (DynamoDB's random `eventID`s). Keys that differ only where the sample does not
 * look share hashes, and the window then hashes whole keys (`hashesWholeKeys`).
 */
export function sampledHash(key: string): number {
  const length = key.length;
  let h = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  if (length <= 12) {
    for (let i = 0; i < length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  } else {
    for (let i = length - 8; i < length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const step = Math.max(1, ((length - 8) / 5) | 0);
    for (let i = step; i < length - 8; i += step) {
      h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    }
  }
  return finalize(h);
}

/** murmur3's 32-bit finalizer: every input bit reaches every output bit. */
function finalize(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
