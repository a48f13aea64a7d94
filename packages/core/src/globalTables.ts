import { ChangeEventName, type ChangeRecord, type Item } from './ChangeRecord.js';

/**
 * The attributes global tables version 2017.11.29 writes into every replicated item
 * (`aws:rep:updateregion`, `aws:rep:updatetime`, `aws:rep:deleting`): its replication
 * bookkeeping, not user data.
 */
export const REPLICATION_ATTRIBUTE_PREFIX = 'aws:rep:';

/** The attribute in which version 2017.11.29 records the Region that wrote the item. */
export const REPLICATION_UPDATE_REGION = 'aws:rep:updateregion';

/**
 * Whether a change of a version 2017.11.29 global table is replication bookkeeping only: a
 * MODIFY whose images differ in `aws:rep:*` attributes and nothing else (the replicator stamps
 * the item after a write, and marks it `aws:rep:deleting` before replicating a delete). Needs
 * both images (`NEW_AND_OLD_IMAGES`, which version 2017.11.29 requires); a record without them
 * is never taken for bookkeeping.
 */
export function isReplicationBookkeeping(record: ChangeRecord): boolean {
  if (record.eventName !== ChangeEventName.Modify) return false;
  const before = record.oldImage;
  const after = record.newImage;
  if (!before || !after) return false;
  for (const name in after) {
    if (name.startsWith(REPLICATION_ATTRIBUTE_PREFIX)) continue;
    if (!(name in before) || !sameValue(before[name], after[name])) return false;
  }
  for (const name in before) {
    if (name.startsWith(REPLICATION_ATTRIBUTE_PREFIX)) continue;
    if (!(name in after)) return false;
  }
  return true;
}

/**
 * A view of `record` whose `newImage` and `oldImage` leave out the `aws:rep:*` attributes, so a
 * handler or sink sees the same items in every Region and with every global tables version.
 * Everything else (the keys, `raw`, ids, positions) is the record's own. The same view object
 * for the same record, so a runtime can tell which records a handler finished.
 */
export function withoutReplicationAttributes(record: ChangeRecord): ChangeRecord {
  let view = views.get(record);
  if (!view) {
    view = new ReplicationStrippedRecord(record);
    views.set(record, view);
  }
  return view;
}

const views = new WeakMap<ChangeRecord, ChangeRecord>();

/** `image` without its `aws:rep:*` attributes (the same object when it has none). */
export function stripReplicationAttributes(image: Item | undefined): Item | undefined {
  if (!image) return image;
  let copy: Item | undefined;
  for (const name in image) {
    if (!name.startsWith(REPLICATION_ATTRIBUTE_PREFIX)) continue;
    copy ??= { ...image };
    delete copy[name];
  }
  return copy ?? image;
}

class ReplicationStrippedRecord implements ChangeRecord {
  readonly #record: ChangeRecord;
  #newImage: Item | null | undefined;
  #oldImage: Item | null | undefined;

  constructor(record: ChangeRecord) {
    this.#record = record;
  }
  get source() {
    return this.#record.source;
  }
  get streamId() {
    return this.#record.streamId;
  }
  get shardId() {
    return this.#record.shardId;
  }
  get sequenceNumber() {
    return this.#record.sequenceNumber;
  }
  get subSequenceNumber() {
    return this.#record.subSequenceNumber;
  }
  get orderingKey() {
    return this.#record.orderingKey;
  }
  get eventId() {
    return this.#record.eventId;
  }
  get eventName() {
    return this.#record.eventName;
  }
  get tableName() {
    return this.#record.tableName;
  }
  get keys() {
    return this.#record.keys;
  }
  get newImage() {
    if (this.#newImage === undefined)
      this.#newImage = stripReplicationAttributes(this.#record.newImage) ?? null;
    return this.#newImage ?? undefined;
  }
  get oldImage() {
    if (this.#oldImage === undefined)
      this.#oldImage = stripReplicationAttributes(this.#record.oldImage) ?? null;
    return this.#oldImage ?? undefined;
  }
  get marshalledKeys() {
    return this.#record.marshalledKeys;
  }
  get streamViewType() {
    return this.#record.streamViewType;
  }
  get partitionKey() {
    return this.#record.partitionKey;
  }
  get data() {
    return this.#record.data;
  }
  get approximateCreationTimeMs() {
    return this.#record.approximateCreationTimeMs;
  }
  get version() {
    return this.#record.version;
  }
  get sizeBytes() {
    return this.#record.sizeBytes;
  }
  get isTtlDelete() {
    return this.#record.isTtlDelete;
  }
  get region() {
    return this.#record.region;
  }
  get raw() {
    return this.#record.raw;
  }
  get decodeError() {
    return this.#record.decodeError;
  }
  toJSON(): unknown {
    const inner = this.#record as { toJSON?: () => unknown };
    return inner.toJSON ? inner.toJSON() : { ...this.#record };
  }
}

/** Deep equality of unmarshalled DynamoDB values (numbers, NumberValue, binary, sets, lists, maps). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return (
      a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b))
    );
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    const keys = new Set([...a].map(setKey));
    for (const v of b) if (!keys.has(setKey(v))) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((v, i) => sameValue(v, b[i]));
  }
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  // A NumberValue compares by its decimal string (its `value`), like any other object field.
  if (aKeys.length !== bKeys.length) return false;
  for (const key of aKeys) {
    if (!Object.hasOwn(b, key)) return false;
    if (!sameValue((a as Item)[key], (b as Item)[key])) return false;
  }
  return true;
}

function setKey(value: unknown): unknown {
  if (value instanceof Uint8Array) return `b:${Buffer.from(value).toString('base64')}`;
  if (typeof value === 'object' && value !== null) return `n:${String(value)}`;
  return value;
}
