import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { attributesSize, type MessageAttributeValue } from './awsQuery.js';
import { listenDouble, sendJson } from './httpDouble.js';

/** SQS's classic message size limit (message and attributes), in bytes. */
export const SQS_DEFAULT_MAX_MESSAGE_BYTES = 262_144;
/** The most entries of one SendMessageBatch or DeleteMessageBatch. */
export const SQS_MAX_BATCH_ENTRIES = 10;

/** A message held by the SQS double. */
export interface SqsStoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly messageGroupId: string | undefined;
  /** How many times it was received. */
  readonly receiveCount: number;
}

/** Options of {@link startSqsDouble}. */
export interface SqsDoubleOptions {
  /**
   * The largest message (body and attributes) accepted, in bytes. SQS raised its limit to 1 MiB
   * in 2025; the default keeps the classic 256 KB that most queues and tools still assume.
   * @default 262_144
   */
  readonly maxMessageBytes?: number;
}

/** A running SQS protocol double. */
export interface SqsDouble {
  /** Endpoint for `new SQSClient({ endpoint })`. */
  readonly endpoint: string;
  /** Messages still in a queue (received or not, until deleted), in send order. */
  messages(queueUrl: string): SqsStoredMessage[];
  stop(): Promise<void>;
}

interface Message {
  readonly messageId: string;
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly messageGroupId: string | undefined;
  readonly sentAt: number;
  receiveCount: number;
  receiptHandle: string | undefined;
  visibleAt: number;
}

interface Queue {
  readonly url: string;
  readonly name: string;
  readonly visibilityTimeoutMs: number;
  readonly messages: Message[];
}

class SqsError extends Error {
  constructor(
    /** The JSON protocol's shape name. */
    readonly type: string,
    /** The code the query protocol used, which the SDK reads from `x-amzn-query-error`. */
    readonly queryCode: string,
    message: string,
    readonly sender = true,
  ) {
    super(message);
  }
}

const ACCOUNT = '123456789012';

/**
 * Starts an Amazon SQS protocol double: a real HTTP server on a loopback port that speaks the AWS
 * JSON 1.0 protocol (`x-amz-target: AmazonSQS.<Operation>`) of current `@aws-sdk/client-sqs`
 * releases, including the `x-amzn-query-error` header the SDK reads for query-compatible error
 * codes. (`sqslite`, the npm SQS emulator, speaks only the older query/XML protocol.)
 *
 * Implements CreateQueue, GetQueueUrl, SendMessage, SendMessageBatch, ReceiveMessage (visibility
 * timeout, receive counts, long polling), DeleteMessage and DeleteMessageBatch, with the MD5
 * digests the SDK verifies, the size limit, and the batch rules (10 entries, distinct ids,
 * total size).
 */
export async function startSqsDouble(options: SqsDoubleOptions = {}): Promise<SqsDouble> {
  const maxBytes = options.maxMessageBytes ?? SQS_DEFAULT_MAX_MESSAGE_BYTES;
  const queues = new Map<string, Queue>();
  let endpoint = '';

  const queueOf = (url: unknown): Queue => {
    const queue = typeof url === 'string' ? queues.get(url) : undefined;
    if (!queue) {
      throw new SqsError(
        'QueueDoesNotExist',
        'AWS.SimpleQueueService.NonExistentQueue',
        'The specified queue does not exist.',
      );
    }
    return queue;
  };

  const send = (queue: Queue, input: Record<string, unknown>) => {
    const body = input.MessageBody;
    if (typeof body !== 'string' || body.length === 0) {
      throw new SqsError(
        'MissingParameter',
        'MissingParameter',
        'The request must contain the parameter MessageBody.',
      );
    }
    const attributes = (input.MessageAttributes ?? {}) as Record<string, MessageAttributeValue>;
    const size = Buffer.byteLength(body) + attributesSize(attributes);
    if (size > maxBytes) {
      throw new SqsError(
        'InvalidParameterValue',
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${maxBytes} bytes.`,
      );
    }
    const message: Message = {
      messageId: randomUUID(),
      body,
      attributes,
      messageGroupId: input.MessageGroupId as string | undefined,
      sentAt: Date.now(),
      receiveCount: 0,
      receiptHandle: undefined,
      visibleAt: Date.now() + Number(input.DelaySeconds ?? 0) * 1000,
    };
    queue.messages.push(message);
    return {
      MessageId: message.messageId,
      MD5OfMessageBody: md5(body),
      ...(Object.keys(attributes).length > 0
        ? { MD5OfMessageAttributes: md5OfAttributes(attributes) }
        : {}),
    };
  };

  const checkBatch = (entries: unknown, total: (entry: Record<string, unknown>) => number) => {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new SqsError(
        'EmptyBatchRequest',
        'AWS.SimpleQueueService.EmptyBatchRequest',
        'There should be at least one SendMessageBatchRequestEntry in the request.',
      );
    }
    if (entries.length > SQS_MAX_BATCH_ENTRIES) {
      throw new SqsError(
        'TooManyEntriesInBatchRequest',
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are ${SQS_MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`,
      );
    }
    const ids = new Set<string>();
    let bytes = 0;
    for (const entry of entries as Record<string, unknown>[]) {
      const id = entry.Id;
      if (typeof id !== 'string' || !/^[\w-]{1,80}$/.test(id)) {
        throw new SqsError(
          'InvalidBatchEntryId',
          'AWS.SimpleQueueService.InvalidBatchEntryId',
          `A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long: ${String(id)}`,
        );
      }
      if (ids.has(id)) {
        throw new SqsError(
          'BatchEntryIdsNotDistinct',
          'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
          `Id ${id} repeated.`,
        );
      }
      ids.add(id);
      bytes += total(entry);
    }
    if (bytes > maxBytes) {
      throw new SqsError(
        'BatchRequestTooLong',
        'AWS.SimpleQueueService.BatchRequestTooLong',
        `Batch requests cannot be longer than ${maxBytes} bytes. You have sent ${bytes} bytes.`,
      );
    }
    return entries as Record<string, unknown>[];
  };

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateQueue(input) {
      const name = String(input.QueueName ?? '');
      if (!/^[\w-]{1,80}(\.fifo)?$/.test(name)) {
        throw new SqsError(
          'InvalidParameterValue',
          'InvalidParameterValue',
          'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
        );
      }
      const url = `${endpoint}/${ACCOUNT}/${name}`;
      if (!queues.has(url)) {
        const attributes = (input.Attributes ?? {}) as Record<string, string>;
        queues.set(url, {
          url,
          name,
          visibilityTimeoutMs: Number(attributes.VisibilityTimeout ?? 30) * 1000,
          messages: [],
        });
      }
      return { QueueUrl: url };
    },
    GetQueueUrl(input) {
      const url = `${endpoint}/${ACCOUNT}/${String(input.QueueName)}`;
      return { QueueUrl: queueOf(url).url };
    },
    SendMessage(input) {
      return send(queueOf(input.QueueUrl), input);
    },
    SendMessageBatch(input) {
      const queue = queueOf(input.QueueUrl);
      const entries = checkBatch(
        input.Entries,
        (e) =>
          Buffer.byteLength(String(e.MessageBody ?? '')) +
          attributesSize((e.MessageAttributes ?? {}) as Record<string, MessageAttributeValue>),
      );
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of entries) {
        try {
          Successful.push({ Id: entry.Id, ...send(queue, entry) });
        } catch (error) {
          if (!(error instanceof SqsError)) throw error;
          Failed.push({
            Id: entry.Id,
            SenderFault: error.sender,
            Code: error.queryCode,
            Message: error.message,
          });
        }
      }
      return { Successful, Failed };
    },
    async ReceiveMessage(input) {
      const queue = queueOf(input.QueueUrl);
      const max = Number(input.MaxNumberOfMessages ?? 1);
      if (!Number.isInteger(max) || max < 1 || max > 10) {
        throw new SqsError(
          'InvalidParameterValue',
          'InvalidParameterValue',
          `Value ${String(input.MaxNumberOfMessages)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`,
        );
      }
      const visibilityMs =
        input.VisibilityTimeout === undefined
          ? queue.visibilityTimeoutMs
          : Number(input.VisibilityTimeout) * 1000;
      const deadline = Date.now() + Number(input.WaitTimeSeconds ?? 0) * 1000;
      const wantAttributes = (input.MessageAttributeNames ?? []) as string[];
      for (;;) {
        const now = Date.now();
        const taken = queue.messages.filter((m) => m.visibleAt <= now).slice(0, max);
        if (taken.length > 0 || now >= deadline) {
          return {
            Messages: taken.map((m) => {
              m.receiveCount++;
              m.receiptHandle = randomUUID();
              m.visibleAt = now + visibilityMs;
              const attributes = selectAttributes(m.attributes, wantAttributes);
              return {
                MessageId: m.messageId,
                ReceiptHandle: m.receiptHandle,
                MD5OfBody: md5(m.body),
                Body: m.body,
                Attributes: {
                  ApproximateReceiveCount: String(m.receiveCount),
                  SentTimestamp: String(m.sentAt),
                  ...(m.messageGroupId ? { MessageGroupId: m.messageGroupId } : {}),
                },
                ...(Object.keys(attributes).length > 0
                  ? {
                      MessageAttributes: attributes,
                      MD5OfMessageAttributes: md5OfAttributes(attributes),
                    }
                  : {}),
              };
            }),
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    DeleteMessage(input) {
      deleteByHandle(queueOf(input.QueueUrl), input.ReceiptHandle);
      return {};
    },
    DeleteMessageBatch(input) {
      const queue = queueOf(input.QueueUrl);
      const entries = checkBatch(input.Entries, () => 0);
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of entries) {
        try {
          deleteByHandle(queue, entry.ReceiptHandle);
          Successful.push({ Id: entry.Id });
        } catch (error) {
          if (!(error instanceof SqsError)) throw error;
          Failed.push({
            Id: entry.Id,
            SenderFault: true,
            Code: error.queryCode,
            Message: error.message,
          });
        }
      }
      return { Successful, Failed };
    },
  };

  const handle = async (
    request: IncomingMessage,
    body: Buffer,
    response: ServerResponse,
  ): Promise<void> => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('AmazonSQS.') ? target.slice(10) : '';
    try {
      const run = operations[operation];
      if (!run) {
        throw new SqsError(
          'InvalidAction',
          'InvalidAction',
          `The action ${operation || target} is not valid for this endpoint (the double speaks JSON 1.0 with x-amz-target).`,
        );
      }
      const input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as object) : {};
      const output = await run(input as Record<string, unknown>);
      sendJson(response, 200, output, { 'content-type': 'application/x-amz-json-1.0' });
    } catch (error) {
      if (!(error instanceof SqsError)) throw error;
      sendJson(
        response,
        400,
        { __type: `com.amazonaws.sqs#${error.type}`, message: error.message },
        {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': `${error.queryCode};${error.sender ? 'Sender' : 'Receiver'}`,
        },
      );
    }
  };

  const server = await listenDouble('SQS', handle);
  endpoint = server.url;
  return {
    endpoint,
    messages: (queueUrl) =>
      (queues.get(queueUrl)?.messages ?? []).map((m) => ({
        messageId: m.messageId,
        body: m.body,
        attributes: m.attributes,
        messageGroupId: m.messageGroupId,
        receiveCount: m.receiveCount,
      })),
    stop: server.stop,
  };
}

function deleteByHandle(queue: Queue, handle: unknown): void {
  const at = queue.messages.findIndex(
    (m) => m.receiptHandle !== undefined && m.receiptHandle === handle,
  );
  if (at < 0) {
    throw new SqsError(
      'ReceiptHandleIsInvalid',
      'ReceiptHandleIsInvalid',
      `The input receipt handle "${String(handle)}" is not a valid receipt handle.`,
    );
  }
  queue.messages.splice(at, 1);
}

function selectAttributes(
  attributes: Record<string, MessageAttributeValue>,
  names: readonly string[],
): Record<string, MessageAttributeValue> {
  if (names.includes('All') || names.includes('.*')) return attributes;
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (names.some((n) => n === name || (n.endsWith('.*') && name.startsWith(n.slice(0, -1))))) {
      out[name] = value;
    }
  }
  return out;
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** SQS's digest of message attributes: names sorted, each field length-prefixed. */
function md5OfAttributes(attributes: Record<string, MessageAttributeValue>): string {
  const hash = createHash('md5');
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const value = attributes[name]!;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(value.DataType, 'utf8'));
    if (value.StringValue !== undefined) {
      hash.update(Buffer.from([1]));
      field(Buffer.from(value.StringValue, 'utf8'));
    } else {
      hash.update(Buffer.from([2]));
      field(Buffer.from(value.BinaryValue ?? '', 'base64'));
    }
  }
  return hash.digest('hex');
}
