import { createHash } from 'node:crypto';
import { paddedPosition, SUB_SEQUENCE_WIDTH, VERSION_WIDTH } from '@shardline/core';

/**
 * Watermarks: per summary item and source shard, the position of the last change of that shard
 * applied to the item. Stored on the item as a string attribute whose value starts with the
 * zero-padded position (so DynamoDB's string `<` is numeric order) and ends with `|<epoch ms>`,
 * the creation time of that change, used only to prune watermarks of long-gone shards.
 */

/** Digits a sequence number is padded to: core's `VERSION_WIDTH`. */
export const SEQUENCE_WIDTH = VERSION_WIDTH;
export { SUB_SEQUENCE_WIDTH };

/**
 * A record's position as a fixed-width string whose string order is stream order: the padded
 * sequence number, then `:` and the padded sub-sequence for records of a KPL aggregate (core's
 * `paddedPosition`).
 */
export const recordPosition = paddedPosition;

/**
 * The attribute holding the watermark of one source shard: `prefix` + 8 hex digits of the
 * stream id's hash (Kinesis shard ids repeat across streams) + `:` + the shard id.
 */
export function watermarkAttribute(prefix: string, streamId: string, shardId: string): string {
  const tag = createHash('sha256').update(streamId).digest('hex').slice(0, 8);
  return `${prefix}${tag}:${shardId}`;
}

/**
 * The stored value: position, `|`, creation time in epoch ms (empty when unknown). A position
 * `p` compares below any stored value that starts with `p`, so `stored < p` holds exactly when
 * the stored position is below `p`.
 */
export function watermarkValue(position: string, createdAtMs: number | undefined): string {
  return `${position}|${createdAtMs === undefined ? '' : String(createdAtMs)}`;
}

/** The position part of a stored watermark value. */
export function watermarkPosition(value: string): string {
  const bar = value.indexOf('|');
  return bar === -1 ? value : value.slice(0, bar);
}

/** The creation time (epoch ms) part of a stored watermark value, if it has one. */
export function watermarkTime(value: string): number | undefined {
  const bar = value.indexOf('|');
  if (bar === -1 || bar === value.length - 1) return undefined;
  const ms = Number(value.slice(bar + 1));
  return Number.isFinite(ms) ? ms : undefined;
}
