import { padSequenceNumber } from '@shardline/core';

/** Digits a sequence number is padded to in object keys, so keys sort in stream order. */
export const KEY_SEQUENCE_WIDTH = 64;

/** A record's position in keys: padded sequence number, then `.` and the sub-sequence if any. */
export function keyPosition(sequenceNumber: string, subSequenceNumber: number | undefined): string {
  const padded = padSequenceNumber(sequenceNumber, KEY_SEQUENCE_WIDTH);
  return subSequenceNumber === undefined
    ? padded
    : `${padded}.${String(subSequenceNumber).padStart(10, '0')}`;
}

/**
 * The Hive-style partition of a change: `table=<t>/dt=<yyyy-mm-dd>/hour=<hh>` (UTC, from the
 * approximate creation time; `unknown` when the source gave no time).
 */
export function partitionPath(table: string, creationTimeMs: number | undefined): string {
  const safeTable = encodeURIComponent(table);
  if (creationTimeMs === undefined) return `table=${safeTable}/dt=unknown/hour=unknown`;
  const iso = new Date(creationTimeMs).toISOString();
  return `table=${safeTable}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

/** The folder of one shard's objects in one partition (ends with `/`). */
export function shardFolder(prefix: string, partition: string, shardId: string): string {
  return `${prefix}${partition}/${encodeURIComponent(shardId)}/`;
}

/**
 * The part of the keys of one shard folder that a write lists: the folder and the minute of the
 * changes' creation time (`m07-`; `mxx-` without a time). Objects never span minutes, so a write
 * lists only the minutes its changes fall in, not the whole hour (a LIST page holds 1,000 keys).
 */
export function minutePrefix(folder: string, creationTimeMs: number | undefined): string {
  const minute =
    creationTimeMs === undefined ? 'xx' : new Date(creationTimeMs).toISOString().slice(14, 16);
  return `${folder}m${minute}-`;
}

/**
 * The key of an object holding changes of one folder whose positions run from `first` to `last`.
 * `base` is the folder, or its {@link minutePrefix}. `tag` (written by the sink: a digest of the
 * object's positions) tells apart two objects with the same ends but different changes in
 * between, so neither can overwrite the other.
 */
export function objectKey(base: string, first: string, last: string, tag?: string): string {
  return `${base}${first}-${last}${tag ? `-${tag}` : ''}.jsonl.gz`;
}

const POSITION = String.raw`\d+(?:\.\d{10})?`;
const OBJECT_NAME = new RegExp(
  String.raw`/(?:m(?:\d\d|xx)-)?(${POSITION})-(${POSITION})(?:-[0-9a-f]{12})?\.jsonl\.gz$`,
);

/** The position range of an object key made by {@link objectKey} (any layout), or undefined. */
export function parseObjectRange(key: string): { first: string; last: string } | undefined {
  const match = OBJECT_NAME.exec(key);
  return match ? { first: match[1]!, last: match[2]! } : undefined;
}
