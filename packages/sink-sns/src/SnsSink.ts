import type { MessageAttributeValue, SNSClient } from '@aws-sdk/client-sns';
import {
  ChangeEffect,
  type ChangeRecord,
  ConfigurationError,
  itemToJson,
  ShardlineError,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
  toError,
} from '@shardline/core';
import { EXTENDED_PAYLOAD_SIZE_ATTRIBUTE, type S3ClaimCheck } from '@shardline/sink-s3';
import { SNS_MAX_MESSAGE_ATTRIBUTES, SNS_MAX_PAYLOAD_BYTES } from './constants.js';
import { PayloadTooLargeError } from './errors.js';
import { defaultDeduplicationId, defaultMessageGroupId, toFifoId } from './fifoIds.js';
import { defaultMessageAttributes } from './messageAttributes.js';
import { entryByteSize, type PublishEntry, publishBatched } from './publishBatched.js';

/** What to do with a message over SNS's 256 KB limit. */
export const OversizePolicy = {
  /** Store the payload in S3 and publish a pointer (needs `claimCheck`). */
  ClaimCheck: 'claim-check',
  /** Fail the record, not retriable: the pipeline parks it in the failure destination. */
  Fail: 'fail',
} as const;
/** One of {@link OversizePolicy}. */
export type OversizePolicy = (typeof OversizePolicy)[keyof typeof OversizePolicy];

/** Options of an {@link SnsSink}. */
export interface SnsSinkOptions {
  /** The SNS client, built by the caller. */
  readonly client: SNSClient;
  /** The topic ARN. A name ending in `.fifo` makes the sink set group and deduplication ids. */
  readonly topicArn: string;
  /**
   * The message body of a record.
   * @default JSON of the change: eventName, table, keys, newImage, oldImage, shardId,
   * sequenceNumber, approximateCreationTime
   */
  readonly message?: (record: ChangeRecord) => string;
  /**
   * Message attributes, for subscription filter policies. At most 10 in all (SNS delivers no
   * more to SQS subscribers).
   * @default {@link defaultMessageAttributes}: eventName, table, key.<name>
   */
  readonly messageAttributes?: (record: ChangeRecord) => Record<string, MessageAttributeValue>;
  /** FIFO MessageGroupId. @default the ordering key, made valid ({@link defaultMessageGroupId}) */
  readonly messageGroupId?: (record: ChangeRecord) => string;
  /** FIFO MessageDeduplicationId. @default the eventID for DynamoDB changes, shard and sequence number for Kinesis ({@link defaultDeduplicationId}) */
  readonly deduplicationId?: (record: ChangeRecord) => string;
  /**
   * What to do with a message over 256 KB.
   * @default 'claim-check' when `claimCheck` is set, else 'fail'
   */
  readonly oversize?: OversizePolicy;
  /** Where oversize payloads go (an {@link S3ClaimCheck}). */
  readonly claimCheck?: S3ClaimCheck;
}

/**
 * Publishes changes to an SNS topic with PublishBatch: requests of at most 10 messages and
 * 256 KB, one result per record (SNS's per-entry failures become per-record failures, retriable
 * unless they are the sender's fault), and message attributes for filter policies.
 *
 * On a FIFO topic, MessageGroupId is the record's ordering key, so subscribers get each item's
 * changes in order, and MessageDeduplicationId is unique per change (eventID for DynamoDB, shard and sequence number for Kinesis), so SNS
 * drops a redelivered record within its 5-minute deduplication window.
 *
 * @example
 * const sink = new SnsSink({
 *   client: new SNSClient({}),
 *   topicArn: 'arn:aws:sns:eu-west-1:123456789012:orders.fifo',
 *   claimCheck: new S3ClaimCheck({ s3: new S3Client({}), bucket: 'large-messages' }),
 * });
 */
export class SnsSink implements Sink {
  readonly name = 'sns';
  /** Every change is a notification of its own: none is dropped as stale. */
  readonly effect = ChangeEffect.EveryChange;
  readonly #client: SNSClient;
  readonly #topicArn: string;
  readonly #fifo: boolean;
  readonly #message: (record: ChangeRecord) => string;
  readonly #attributes: (record: ChangeRecord) => Record<string, MessageAttributeValue>;
  readonly #groupId: (record: ChangeRecord) => string;
  readonly #dedupId: (record: ChangeRecord) => string;
  readonly #oversize: OversizePolicy;
  readonly #claimCheck: S3ClaimCheck | undefined;

  constructor(options: SnsSinkOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError(
        'SnsSink needs `client`: pass `new SNSClient({})` from @aws-sdk/client-sns.',
      );
    }
    if (typeof options.topicArn !== 'string' || !options.topicArn.startsWith('arn:')) {
      throw new ConfigurationError(
        `SnsSink needs \`topicArn\`, a topic ARN (arn:aws:sns:region:account:name); got ${String(options.topicArn)}.`,
      );
    }
    const oversize = options.oversize ?? (options.claimCheck ? 'claim-check' : 'fail');
    if (oversize !== 'claim-check' && oversize !== 'fail') {
      throw new ConfigurationError(
        `oversize must be 'claim-check' or 'fail', got ${String(options.oversize)}.`,
      );
    }
    if (oversize === 'claim-check' && !options.claimCheck) {
      throw new ConfigurationError(
        "oversize is 'claim-check' but no `claimCheck` is set: pass `claimCheck: new S3ClaimCheck({ s3, bucket })`, or set oversize: 'fail'.",
      );
    }
    this.#client = options.client;
    this.#topicArn = options.topicArn;
    this.#fifo = options.topicArn.endsWith('.fifo');
    this.#message = options.message ?? defaultMessage;
    this.#attributes = options.messageAttributes ?? defaultMessageAttributes;
    this.#groupId = options.messageGroupId ?? defaultMessageGroupId;
    this.#dedupId = options.deduplicationId ?? defaultDeduplicationId;
    this.#oversize = oversize;
    this.#claimCheck = options.claimCheck;
  }

  async write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]> {
    const results = new Array<SinkRecordResult>(records.length);
    const entries: PublishEntry[] = [];
    const entryRecord: number[] = [];
    for (let i = 0; i < records.length; i++) {
      try {
        entries.push(await this.#entry(records[i]!, context.signal));
        entryRecord.push(i);
      } catch (error) {
        const e = toError(error);
        const retriable = e instanceof ShardlineError ? e.retriable : true;
        results[i] = { status: 'failed', error: e, retriable };
      }
    }
    const published = await publishBatched(this.#client, this.#topicArn, entries, context.signal);
    if (published.requests > 0 && published.requestsThrown === published.requests) {
      // Every request failed whole (network, auth, throttling): a whole-batch failure.
      throw published.lastThrown;
    }
    for (let n = 0; n < entries.length; n++) {
      const outcome = published.outcomes[n]!;
      results[entryRecord[n]!] = outcome.ok
        ? { status: 'ok' }
        : { status: 'failed', error: outcome.error, retriable: outcome.retriable };
    }
    return results;
  }

  async #entry(record: ChangeRecord, signal: AbortSignal | undefined): Promise<PublishEntry> {
    let message = this.#message(record);
    const attributes = { ...this.#attributes(record) };
    const count = Object.keys(attributes).length;
    if (count > SNS_MAX_MESSAGE_ATTRIBUTES - 1) {
      throw new ShardlineError(
        `Record ${record.sequenceNumber} has ${count} message attributes; keep at most ${SNS_MAX_MESSAGE_ATTRIBUTES - 1} (one is reserved for the claim check).`,
      );
    }
    const size = entryByteSize({ message, attributes });
    if (size > SNS_MAX_PAYLOAD_BYTES) {
      if (this.#oversize === 'fail' || !this.#claimCheck) {
        throw new PayloadTooLargeError(
          `The message of record ${record.sequenceNumber}`,
          size,
          SNS_MAX_PAYLOAD_BYTES,
        );
      }
      // A key from the record: a replay overwrites the same object.
      const sub = record.subSequenceNumber === undefined ? '' : `-${record.subSequenceNumber}`;
      const objectName = `${encodeURIComponent(record.shardId)}/${record.sequenceNumber}${sub}.json`;
      const payloadBytes = Buffer.byteLength(message);
      message = await this.#claimCheck.store(objectName, message, signal);
      attributes[EXTENDED_PAYLOAD_SIZE_ATTRIBUTE] = {
        DataType: 'Number',
        StringValue: String(payloadBytes),
      };
      const pointerSize = entryByteSize({ message, attributes });
      if (pointerSize > SNS_MAX_PAYLOAD_BYTES) {
        throw new PayloadTooLargeError(
          `The attributes of record ${record.sequenceNumber}`,
          pointerSize,
          SNS_MAX_PAYLOAD_BYTES,
        );
      }
    }
    return {
      key: record.orderingKey,
      label: record.sequenceNumber,
      message,
      attributes,
      ...(this.#fifo
        ? {
            messageGroupId: toFifoId(this.#groupId(record)),
            messageDeduplicationId: toFifoId(this.#dedupId(record)),
          }
        : {}),
    };
  }
}

/** The default message: the change as JSON. */
export function defaultMessage(record: ChangeRecord): string {
  return itemToJson({
    eventName: record.eventName,
    table: record.tableName,
    keys: record.keys,
    newImage: record.newImage,
    oldImage: record.oldImage,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    approximateCreationTime:
      record.approximateCreationTimeMs === undefined
        ? undefined
        : new Date(record.approximateCreationTimeMs).toISOString(),
  });
}
