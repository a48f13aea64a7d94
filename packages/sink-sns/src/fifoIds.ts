import { createHash } from 'node:crypto';
import type { ChangeRecord } from '@shardline/core';
import { SNS_MAX_FIFO_ID_LENGTH } from './constants.js';

// SNS FIFO ids: 1–128 characters, alphanumeric and punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~).
const FIFO_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/;

/**
 * A valid SNS FIFO id for any text: the text itself when SNS accepts it (≤ 128 characters of
 * letters, digits and punctuation), otherwise `sha256:` and the hex digest of the text (71
 * characters). The mapping is a pure function, so a replay gets the same id.
 */
export function toFifoId(text: string): string {
  if (text.length > 0 && text.length <= SNS_MAX_FIFO_ID_LENGTH && FIFO_ID.test(text)) return text;
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/**
 * The MessageGroupId of a record: its ordering key (the canonical primary key), so SNS delivers
 * the changes of one item in order and different items in parallel.
 */
export function defaultMessageGroupId(record: Pick<ChangeRecord, 'orderingKey'>): string {
  return toFifoId(record.orderingKey);
}

/**
 * The MessageDeduplicationId of a record, unique per change and the same on every redelivery,
 * in either runtime, so SNS drops a replayed record within its 5-minute deduplication window
 * and never a distinct one:
 * - DynamoDB Streams changes: their `eventID` (`ddb:` and the id). Lambda's DynamoDB records
 *   carry no shard id, so shard and sequence number would not tell two shards' changes apart.
 * - Kinesis records: shard and sequence number (and KPL sub-sequence).
 */
export function defaultDeduplicationId(
  record: Pick<ChangeRecord, 'shardId' | 'sequenceNumber' | 'subSequenceNumber'> &
    Partial<Pick<ChangeRecord, 'source' | 'eventId'>>,
): string {
  if (record.source === 'dynamodb-streams' && record.eventId)
    return toFifoId(`ddb:${record.eventId}`);
  const sub = record.subSequenceNumber === undefined ? '' : `:${record.subSequenceNumber}`;
  return toFifoId(`${record.shardId}:${record.sequenceNumber}${sub}`);
}
