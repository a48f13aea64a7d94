import {
  type MessageAttributeValue,
  PublishBatchCommand,
  type PublishBatchRequestEntry,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { BlockedByEarlierFailureError, isRetriable, toError } from '@shardline/core';
import { SNS_MAX_BATCH_ENTRIES, SNS_MAX_PAYLOAD_BYTES } from './constants.js';
import { SnsPublishError } from './errors.js';
import { attributesByteSize } from './messageAttributes.js';

/** One message to publish, with the key that orders it. */
export interface PublishEntry {
  /** Entries of one key are published in order; after one fails, the later ones are not sent. */
  readonly key: string;
  /** A label for errors (the record's sequence number). */
  readonly label: string;
  readonly message: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly messageGroupId?: string | undefined;
  readonly messageDeduplicationId?: string | undefined;
}

/** The outcome of one entry. */
export type PublishOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: Error; readonly retriable: boolean };

/** What {@link publishBatched} did. */
export interface PublishBatchedResult {
  readonly outcomes: PublishOutcome[];
  /** PublishBatch requests sent, and how many of them failed whole. */
  readonly requests: number;
  readonly requestsThrown: number;
  /** The last whole-request error, if any. */
  readonly lastThrown: unknown;
}

const SENT: PublishOutcome = Object.freeze({ ok: true });

/** Bytes SNS counts for an entry: message and attributes. */
export function entryByteSize(entry: Pick<PublishEntry, 'message' | 'attributes'>): number {
  return Buffer.byteLength(entry.message) + attributesByteSize(entry.attributes);
}

/**
 * Publishes entries with PublishBatch, in requests of at most 10 entries and 256 KB, in order.
 *
 * Per-key order holds even when entries fail: a batch carries at most one entry per key (so a
 * failed entry never has a later entry of its key succeed in the same request), and once an
 * entry fails, the later entries of its key are not sent and come back failed (retriable).
 * Entries must each fit the 256 KB limit already.
 */
export async function publishBatched(
  client: SNSClient,
  topicArn: string,
  entries: readonly PublishEntry[],
  signal?: AbortSignal,
): Promise<PublishBatchedResult> {
  const outcomes = new Array<PublishOutcome | undefined>(entries.length);
  const failedKeys = new Map<string, string>();
  let pending = entries.map((_, i) => i);
  let requests = 0;
  let requestsThrown = 0;
  let lastThrown: unknown;
  while (pending.length > 0) {
    const batch: number[] = [];
    const deferred: number[] = [];
    const heldKeys = new Set<string>();
    let bytes = 0;
    for (const i of pending) {
      const entry = entries[i]!;
      const blockedBy = failedKeys.get(entry.key);
      if (blockedBy !== undefined) {
        outcomes[i] = {
          ok: false,
          error: new BlockedByEarlierFailureError(entry.key, blockedBy),
          retriable: true,
        };
        continue;
      }
      const size = entryByteSize(entry);
      if (
        heldKeys.has(entry.key) ||
        batch.length >= SNS_MAX_BATCH_ENTRIES ||
        (batch.length > 0 && bytes + size > SNS_MAX_PAYLOAD_BYTES)
      ) {
        // Later entries of a key wait for the earlier one: order within a key is kept.
        heldKeys.add(entry.key);
        deferred.push(i);
        continue;
      }
      heldKeys.add(entry.key);
      batch.push(i);
      bytes += size;
    }
    if (batch.length === 0) break;
    requests++;
    try {
      const response = await client.send(
        new PublishBatchCommand({
          TopicArn: topicArn,
          PublishBatchRequestEntries: batch.map((i, n) => toRequestEntry(entries[i]!, `e${n}`)),
        }),
        { abortSignal: signal },
      );
      for (const failed of response.Failed ?? []) {
        const i = batch[Number(failed.Id?.slice(1))];
        if (i === undefined) continue;
        const error = new SnsPublishError(
          failed.Code ?? 'Unknown',
          failed.Message ?? 'no message',
          failed.SenderFault ?? false,
        );
        outcomes[i] = { ok: false, error, retriable: error.retriable };
        failedKeys.set(entries[i]!.key, entries[i]!.label);
      }
      for (const i of batch) outcomes[i] ??= SENT;
    } catch (thrown) {
      requestsThrown++;
      lastThrown = thrown;
      const error = toError(thrown);
      const retriable = isRetriable(thrown);
      for (const i of batch) {
        outcomes[i] = { ok: false, error, retriable };
        failedKeys.set(entries[i]!.key, entries[i]!.label);
      }
    }
    pending = deferred;
  }
  return { outcomes: outcomes as PublishOutcome[], requests, requestsThrown, lastThrown };
}

function toRequestEntry(entry: PublishEntry, id: string): PublishBatchRequestEntry {
  return {
    Id: id,
    Message: entry.message,
    ...(Object.keys(entry.attributes).length > 0 ? { MessageAttributes: entry.attributes } : {}),
    ...(entry.messageGroupId === undefined ? {} : { MessageGroupId: entry.messageGroupId }),
    ...(entry.messageDeduplicationId === undefined
      ? {}
      : { MessageDeduplicationId: entry.messageDeduplicationId }),
  };
}
