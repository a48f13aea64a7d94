import { createHash } from 'node:crypto';
import type { ChangeRecord } from '@shardline/core';
import { MAX_DOCUMENT_ID_BYTES } from './constants.js';

/**
 * The default document id: the record's canonical primary key (`orderingKey`, attribute names
 * sorted, values type-tagged and length-prefixed, e.g. `pk=S6:user#1,sk=N1:7`), so every change of
 * an item lands on one document. A key longer than OpenSearch's 512-byte id limit becomes
 * `sha256:<hex>` of the canonical key, which is stable too.
 */
export function defaultDocumentId(record: Pick<ChangeRecord, 'orderingKey'>): string {
  return fitDocumentId(record.orderingKey);
}

/** An id as it is, or its SHA-256 when it exceeds OpenSearch's 512-byte limit. */
export function fitDocumentId(id: string): string {
  if (Buffer.byteLength(id) <= MAX_DOCUMENT_ID_BYTES) return id;
  return `sha256:${createHash('sha256').update(id).digest('hex')}`;
}
