import type { ChangeRecord, Item } from '@shardline/core';
import { jsonReplacer, type Output } from './Output.js';

/** A change as `tail --json` prints it: one JSON document per line. */
export function changeToJson(record: ChangeRecord): Record<string, unknown> {
  return {
    eventName: record.eventName,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    approximateCreationTime:
      record.approximateCreationTimeMs === undefined
        ? null
        : new Date(record.approximateCreationTimeMs).toISOString(),
    tableName: record.tableName ?? null,
    keys: plain(record.keys),
    newImage: plain(record.newImage),
    oldImage: plain(record.oldImage),
    ...(record.partitionKey !== undefined ? { partitionKey: record.partitionKey } : {}),
    ...(record.data !== undefined ? { data: Buffer.from(record.data).toString('utf8') } : {}),
  };
}

/**
 * One human line per change: time, event, keys, then what changed: the new item for an INSERT,
 * `attr: old → new` for each changed attribute of a MODIFY, the old item for a REMOVE.
 */
export function formatChange(record: ChangeRecord, output: Output): string {
  const time =
    record.approximateCreationTimeMs === undefined
      ? ''
      : `${new Date(record.approximateCreationTimeMs).toISOString().slice(11, 19)} `;
  const colour = { INSERT: 'green', MODIFY: 'yellow', REMOVE: 'red', RECORD: 'cyan' } as const;
  const event = output.paint(colour[record.eventName], record.eventName.padEnd(6));
  const keys = record.keys ? inline(record.keys) : (record.partitionKey ?? '');
  const keyNames = new Set(Object.keys(record.keys ?? {}));
  let detail = '';
  switch (record.eventName) {
    case 'INSERT':
      detail = inline(withoutKeys(record.newImage, keyNames));
      break;
    case 'REMOVE':
      detail = output.paint('dim', inline(withoutKeys(record.oldImage, keyNames)));
      break;
    case 'MODIFY':
      detail = diff(record.oldImage, record.newImage, keyNames);
      break;
    case 'RECORD':
      detail = record.data ? Buffer.from(record.data).toString('utf8') : '';
      break;
  }
  return `${output.paint('gray', time)}${event} ${output.paint('bold', keys)}  ${detail}`.trimEnd();
}

function diff(before: Item | undefined, after: Item | undefined, keys: Set<string>): string {
  if (!before || !after) return inline(withoutKeys(after ?? before, keys));
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const parts: string[] = [];
  for (const name of names) {
    if (keys.has(name)) continue;
    const a = show(before[name]);
    const b = show(after[name]);
    if (a !== b) parts.push(`${name}: ${a} → ${b}`);
  }
  return parts.length ? parts.join(', ') : '(no attribute changed)';
}

function withoutKeys(item: Item | undefined, keys: Set<string>): Item {
  if (!item) return {};
  return Object.fromEntries(Object.entries(item).filter(([k]) => !keys.has(k)));
}

function inline(item: Item): string {
  return Object.entries(item)
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(' ');
}

function show(value: unknown): string {
  if (value === undefined) return '∅';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, jsonReplacer) ?? String(value);
}

function plain(item: Item | undefined): unknown {
  return item === undefined ? null : JSON.parse(JSON.stringify(item, jsonReplacer));
}
