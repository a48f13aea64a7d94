import { createHash } from 'node:crypto';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  ConfigurationError,
  consoleWarningLogger,
  type FailedRecord,
  type Logger,
  type ReplayableFailureDestination,
  ShardlineError,
} from '@shardline/core';
import {
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  parseClaimCheckPointer,
  type S3ClaimCheck,
} from '@shardline/sink-s3';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RECEIVE_WAIT_SECONDS,
  SQS_MAX_BATCH_ENTRIES,
} from './constants.js';
import { OversizeFailedRecordError } from './errors.js';
import {
  decodeFailedRecord,
  encodeFailedRecord,
  unwrapFailedRecordBody,
} from './failedRecordMessage.js';

/** Options of an {@link SqsFailureDestination}. */
export interface SqsFailureDestinationOptions {
  /** The SQS client, built by the caller. */
  readonly client: SQSClient;
  /** The queue URL. A `.fifo` queue gets group ids (ordering key) and dedup ids (shard:sequence). */
  readonly queueUrl: string;
  /**
   * Where records over `maxMessageBytes` go, and where claim checks are read back from. Without
   * it, an oversize record makes `send` throw, so the pipeline keeps the record failed.
   */
  readonly payloadStore?: S3ClaimCheck;
  /** The queue's largest message, in bytes. @default 262_144 */
  readonly maxMessageBytes?: number;
  /** Long-poll wait of `receive`, in seconds (0–20). @default 0 */
  readonly receiveWaitSeconds?: number;
  /** Warnings (messages that are not failed records). @default console warnings */
  readonly logger?: Logger;
}

/** One parked record read back, and how to remove it from the queue once replayed. */
export interface ReceivedFailedRecord {
  readonly failed: FailedRecord;
  /** Deletes the message (DeleteMessage with its receipt handle). */
  acknowledge(): Promise<void>;
}

/**
 * Parks failed records in an SQS queue, each message the whole {@link FailedRecord} as JSON, and
 * reads them back for `shardline replay`: `receive` returns records with an `acknowledge` that
 * deletes the message. Until acknowledged, a received message comes back after the queue's
 * visibility timeout, so a replay that crashes loses nothing.
 *
 * `receive` also reads SNS notifications from an `SnsFailureDestination` topic the queue is
 * subscribed to, and resolves S3 claim checks through `payloadStore`.
 *
 * @example
 * const destination = new SqsFailureDestination({ client: new SQSClient({}), queueUrl });
 * const processor = new BatchProcessor({ sink, failureDestination: destination });
 * for (const { failed, acknowledge } of await destination.receive({ maxRecords: 50 })) {
 *   await replay(failed);
 *   await acknowledge();
 * }
 */
export class SqsFailureDestination implements ReplayableFailureDestination {
  readonly name = 'sqs';
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #fifo: boolean;
  readonly #store: S3ClaimCheck | undefined;
  readonly #maxBytes: number;
  readonly #waitSeconds: number;
  readonly #logger: Logger;

  constructor(options: SqsFailureDestinationOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError(
        'SqsFailureDestination needs `client`: pass `new SQSClient({})` from @aws-sdk/client-sqs.',
      );
    }
    if (typeof options.queueUrl !== 'string' || !/^https?:\/\//.test(options.queueUrl)) {
      throw new ConfigurationError(
        `SqsFailureDestination needs \`queueUrl\`, the queue's URL (GetQueueUrl gives it); got ${String(options.queueUrl)}.`,
      );
    }
    this.#maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(this.#maxBytes) || this.#maxBytes < 1024 || this.#maxBytes > 1_048_576) {
      throw new ConfigurationError(
        `maxMessageBytes must be a whole number from 1024 to 1048576 (SQS's limit), got ${String(options.maxMessageBytes)}.`,
      );
    }
    this.#waitSeconds = options.receiveWaitSeconds ?? DEFAULT_RECEIVE_WAIT_SECONDS;
    if (!Number.isInteger(this.#waitSeconds) || this.#waitSeconds < 0 || this.#waitSeconds > 20) {
      throw new ConfigurationError(
        `receiveWaitSeconds must be a whole number from 0 to 20, got ${String(options.receiveWaitSeconds)}.`,
      );
    }
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
    this.#fifo = options.queueUrl.endsWith('.fifo');
    this.#store = options.payloadStore;
    this.#logger = options.logger ?? consoleWarningLogger({ component: 'failure-sqs' });
  }

  async send(records: readonly FailedRecord[], signal?: AbortSignal): Promise<void> {
    const entries: { entry: SendMessageBatchRequestEntry; bytes: number }[] = [];
    for (const failed of records) entries.push(await this.#entry(failed, entries.length, signal));
    const failures: string[] = [];
    let retriable = false;
    for (const batch of this.#batches(entries)) {
      const response = await this.#client.send(
        new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: batch }),
        { abortSignal: signal },
      );
      for (const failed of response.Failed ?? []) {
        failures.push(`${failed.Id}: ${failed.Code} ${failed.Message ?? ''}`.trim());
        retriable ||= failed.SenderFault !== true;
      }
    }
    if (failures.length > 0) {
      throw new ShardlineError(
        `${failures.length} of ${records.length} failed records could not be sent to ${this.#queueUrl} (${failures.join('; ')}); they stay failed and are retried.`,
        { retriable },
      );
    }
  }

  async receive(
    options: { maxRecords?: number; signal?: AbortSignal } = {},
  ): Promise<ReceivedFailedRecord[]> {
    const max = options.maxRecords ?? 10;
    const out: ReceivedFailedRecord[] = [];
    // With a short visibility timeout a message can come back within one call: read it once.
    const seen = new Set<string>();
    while (out.length < max) {
      const response = await this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.#queueUrl,
          MaxNumberOfMessages: Math.min(10, max - out.length),
          WaitTimeSeconds: out.length === 0 ? this.#waitSeconds : 0,
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: options.signal },
      );
      const messages = (response.Messages ?? []).filter((m) => !seen.has(m.MessageId ?? ''));
      if (messages.length === 0) break;
      for (const message of messages) {
        seen.add(message.MessageId ?? '');
        const failed = await this.#decode(message, options.signal);
        if (!failed) continue;
        const handle = message.ReceiptHandle;
        out.push({
          failed,
          acknowledge: async () => {
            await this.#client.send(
              new DeleteMessageCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: handle }),
            );
          },
        });
      }
    }
    return out;
  }

  async #decode(
    message: Message,
    signal: AbortSignal | undefined,
  ): Promise<FailedRecord | undefined> {
    let body = unwrapFailedRecordBody(message.Body ?? '');
    const pointer = parseClaimCheckPointer(body);
    if (pointer) {
      if (!this.#store) {
        this.#logger.warn(
          { messageId: message.MessageId, pointer },
          'message is an S3 claim check but no payloadStore is set; it is left in the queue',
        );
        return undefined;
      }
      body = await this.#store.load(pointer, signal);
    }
    const failed = decodeFailedRecord(body);
    if (!failed) {
      this.#logger.warn(
        { messageId: message.MessageId },
        'message is not a Shardline failed record; it is left in the queue',
      );
    }
    return failed;
  }

  async #entry(
    failed: FailedRecord,
    index: number,
    signal: AbortSignal | undefined,
  ): Promise<{ entry: SendMessageBatchRequestEntry; bytes: number }> {
    let body = encodeFailedRecord(failed);
    const attributes: SendMessageBatchRequestEntry['MessageAttributes'] = {
      source: { DataType: 'String', StringValue: failed.source },
      shardId: { DataType: 'String', StringValue: failed.shardId },
      errorName: { DataType: 'String', StringValue: failed.error.name },
    };
    let bytes = Buffer.byteLength(body) + attributesBytes(attributes);
    if (bytes > this.#maxBytes) {
      if (!this.#store) throw new OversizeFailedRecordError(failed, bytes, this.#maxBytes);
      const payloadBytes = Buffer.byteLength(body);
      const sub = failed.subSequenceNumber === undefined ? '' : `-${failed.subSequenceNumber}`;
      body = await this.#store.store(
        `${encodeURIComponent(failed.shardId)}/${failed.sequenceNumber}${sub}.json`,
        body,
        signal,
      );
      attributes[EXTENDED_PAYLOAD_SIZE_ATTRIBUTE] = {
        DataType: 'Number',
        StringValue: String(payloadBytes),
      };
      bytes = Buffer.byteLength(body) + attributesBytes(attributes);
    }
    const sub = failed.subSequenceNumber === undefined ? '' : `:${failed.subSequenceNumber}`;
    return {
      bytes,
      entry: {
        Id: `r${index}`,
        MessageBody: body,
        MessageAttributes: attributes,
        ...(this.#fifo
          ? {
              MessageGroupId: fifoId(failed.orderingKey),
              MessageDeduplicationId: fifoId(`${failed.shardId}:${failed.sequenceNumber}${sub}`),
            }
          : {}),
      },
    };
  }

  /** Groups entries into requests of at most 10 entries and `maxMessageBytes` in total. */
  *#batches(
    entries: readonly { entry: SendMessageBatchRequestEntry; bytes: number }[],
  ): Generator<SendMessageBatchRequestEntry[]> {
    let batch: SendMessageBatchRequestEntry[] = [];
    let bytes = 0;
    for (const { entry, bytes: size } of entries) {
      if (
        batch.length > 0 &&
        (batch.length >= SQS_MAX_BATCH_ENTRIES || bytes + size > this.#maxBytes)
      ) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(entry);
      bytes += size;
    }
    if (batch.length > 0) yield batch;
  }
}

function attributesBytes(attributes: SendMessageBatchRequestEntry['MessageAttributes']): number {
  let size = 0;
  for (const [name, value] of Object.entries(attributes ?? {})) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    size += Buffer.byteLength(value.StringValue ?? '');
  }
  return size;
}

// SQS FIFO ids: 1–128 characters, alphanumeric and punctuation.
const FIFO_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

function fifoId(text: string): string {
  if (FIFO_ID.test(text)) return text;
  return `sha256:${createHashHex(text)}`;
}

function createHashHex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
