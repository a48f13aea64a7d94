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

/** The key of an object holding positions `first` to `last` of one shard. */
export function objectKey(folder: string, first: string, last: string): string {
  return `${folder}${first}-${last}.jsonl.gz`;
}

/** The position range of an object key made by {@link objectKey}, or undefined. */
export function parseObjectRange(key: string): { first: string; last: string } | undefined {
  const match = /\/([\d.]+)-([\d.]+)\.jsonl\.gz$/.exec(key);
  return match ? { first: match[1]!, last: match[2]! } : undefined;
}
