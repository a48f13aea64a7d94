import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  attributesSize,
  type MessageAttributeValue,
  queryMembers,
  queryMessageAttributes,
  sendXml,
  xmlEscape,
} from './awsQuery.js';
import { listenDouble } from './httpDouble.js';

/** The most bytes SNS accepts for one message with its attributes, and for a whole batch. */
export const SNS_MAX_PAYLOAD_BYTES = 262_144;
/** The most entries of one PublishBatch. */
export const SNS_MAX_BATCH_ENTRIES = 10;
/** How long a FIFO topic remembers a deduplication id, in ms. */
export const SNS_DEDUPLICATION_WINDOW_MS = 5 * 60_000;

/** A message SNS accepted and delivered to the topic's subscribers. */
export interface SnsDeliveredMessage {
  readonly messageId: string;
  readonly message: string;
  readonly subject: string | undefined;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly messageGroupId: string | undefined;
  readonly messageDeduplicationId: string | undefined;
  /** FIFO topics only: the 20-digit sequence number SNS assigns. */
  readonly sequenceNumber: string | undefined;
}

/** Failures to inject into the next published entries. */
export interface SnsFailureInjection {
  /** Fail this many of the next entries (Publish or batch entries) with this code. */
  readonly failEntries?: number;
  /** The code of injected entry failures. @default 'InternalError' */
  readonly code?: string;
  /** Whether injected failures are the sender's fault. @default false */
  readonly senderFault?: boolean;
}

/** A running SNS protocol double. */
export interface SnsDouble {
  /** Endpoint for `new SNSClient({ endpoint })`. */
  readonly endpoint: string;
  /** Messages delivered on a topic (dropped duplicates excluded), in publish order. */
  messages(topicArn: string): SnsDeliveredMessage[];
  /** Number of Publish and PublishBatch requests received. */
  readonly requests: { readonly publish: number; readonly publishBatch: number };
  injectFailures(injection: SnsFailureInjection): void;
  stop(): Promise<void>;
}

interface Topic {
  readonly arn: string;
  readonly fifo: boolean;
  readonly contentBasedDeduplication: boolean;
  readonly delivered: SnsDeliveredMessage[];
  /** Deduplication id → (message id, when first seen). */
  readonly dedup: Map<string, { messageId: string; at: number }>;
}

interface Entry {
  readonly id: string | undefined;
  readonly message: string | undefined;
  readonly subject: string | undefined;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly groupId: string | undefined;
  readonly dedupId: string | undefined;
}

class SnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly sender = true,
  ) {
    super(message);
  }
}

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const FIFO_ID = /^[\w!"#$%&'()*+,\-./:;<=>?@[\\\]^`{|}~]{1,128}$/;

/**
 * Starts an Amazon SNS protocol double: a real HTTP server on a loopback port that speaks the AWS
 * query protocol (form-encoded POST, XML answers) that `@aws-sdk/client-sns` uses.
 *
 * Implements CreateTopic (FIFO when the name ends `.fifo`, with the `FifoTopic` and
 * `ContentBasedDeduplication` attributes), Publish and PublishBatch with SNS's documented limits
 * and errors: 10 entries (`TooManyEntriesInBatchRequest`), distinct ids
 * (`BatchEntryIdsNotDistinct`), 256 KB per message and per batch (`InvalidParameter`,
 * `BatchRequestTooLong`), FIFO rules (MessageGroupId required, MessageDeduplicationId required
 * unless content-based), and the 5-minute deduplication window (a repeated id is accepted but not
 * delivered again).
 */
export async function startSnsDouble(): Promise<SnsDouble> {
  const topics = new Map<string, Topic>();
  const requests = { publish: 0, publishBatch: 0 };
  let failEntries = 0;
  let failCode = 'InternalError';
  let failSender = false;
  let sequence = 10_000_000_000_000_000_000n;

  const topicOf = (arn: string | null): Topic => {
    const topic = arn ? topics.get(arn) : undefined;
    if (!topic) throw new SnsError('NotFound', 'Topic does not exist', 404);
    return topic;
  };

  /** Validates and delivers one entry; returns its message id and sequence number. */
  const publishEntry = (
    topic: Topic,
    entry: Entry,
  ): { messageId: string; sequenceNumber: string | undefined } => {
    if (failEntries > 0) {
      failEntries--;
      throw new SnsError(failCode, 'Injected failure', 500, failSender);
    }
    if (entry.message === undefined || entry.message === '') {
      throw new SnsError('InvalidParameter', 'Invalid parameter: Empty message');
    }
    const size = Buffer.byteLength(entry.message) + attributesSize(entry.attributes);
    if (size > SNS_MAX_PAYLOAD_BYTES) {
      throw new SnsError('InvalidParameter', 'Invalid parameter: Message too long');
    }
    for (const [name, value] of Object.entries(entry.attributes)) {
      if (!/^(String|Number|Binary|String\.Array)(\..+)?$/.test(value.DataType)) {
        throw new SnsError(
          'ParameterValueInvalid',
          `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
        );
      }
      if (value.StringValue === undefined && value.BinaryValue === undefined) {
        throw new SnsError(
          'ParameterValueInvalid',
          `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${value.DataType}'.`,
        );
      }
    }
    if (!topic.fifo) {
      if (entry.dedupId !== undefined) {
        throw new SnsError(
          'InvalidParameter',
          'Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type',
        );
      }
      const messageId = randomUUID();
      topic.delivered.push(delivered(messageId, entry, undefined));
      return { messageId, sequenceNumber: undefined };
    }
    if (entry.groupId === undefined) {
      throw new SnsError(
        'InvalidParameter',
        'Invalid parameter: The MessageGroupId parameter is required for FIFO topics',
      );
    }
    if (!FIFO_ID.test(entry.groupId)) {
      throw new SnsError(
        'InvalidParameter',
        'Invalid parameter: MessageGroupId Reason: MessageGroupId can only contain alphanumeric characters and punctuation, up to 128 characters',
      );
    }
    let dedupId = entry.dedupId;
    if (dedupId === undefined) {
      if (!topic.contentBasedDeduplication) {
        throw new SnsError(
          'InvalidParameter',
          'Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
        );
      }
      dedupId = createHash('sha256').update(entry.message).digest('hex');
    } else if (!FIFO_ID.test(dedupId)) {
      throw new SnsError(
        'InvalidParameter',
        'Invalid parameter: MessageDeduplicationId Reason: MessageDeduplicationId can only contain alphanumeric characters and punctuation, up to 128 characters',
      );
    }
    const now = Date.now();
    const seen = topic.dedup.get(dedupId);
    sequence += 1n;
    const sequenceNumber = sequence.toString();
    if (seen && now - seen.at < SNS_DEDUPLICATION_WINDOW_MS) {
      return { messageId: seen.messageId, sequenceNumber };
    }
    const messageId = randomUUID();
    topic.dedup.set(dedupId, { messageId, at: now });
    topic.delivered.push(delivered(messageId, { ...entry, dedupId }, sequenceNumber));
    return { messageId, sequenceNumber };
  };

  const createTopic = (params: URLSearchParams): string => {
    const name = params.get('Name') ?? '';
    const attributes = new Map<string, string>();
    for (const entry of queryMembers(params, 'Attributes', 'entry')) {
      attributes.set(entry.get('key') ?? '', entry.get('value') ?? '');
    }
    const fifoName = name.endsWith('.fifo');
    const fifo = attributes.get('FifoTopic') === 'true';
    if (!/^[\w-]{1,256}(\.fifo)?$/.test(name)) {
      throw new SnsError(
        'InvalidParameter',
        'Invalid parameter: Topic Name: must be 1-256 alphanumeric characters, hyphens or underscores',
      );
    }
    if (fifo !== fifoName) {
      throw new SnsError(
        'InvalidParameter',
        fifoName
          ? 'Invalid parameter: Attributes Reason: FIFO topic names must be created with the FifoTopic attribute set to true'
          : 'Invalid parameter: Topic Name: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.',
      );
    }
    const arn = `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
    if (!topics.has(arn)) {
      topics.set(arn, {
        arn,
        fifo,
        contentBasedDeduplication: attributes.get('ContentBasedDeduplication') === 'true',
        delivered: [],
        dedup: new Map(),
      });
    }
    return `<CreateTopicResult><TopicArn>${xmlEscape(arn)}</TopicArn></CreateTopicResult>`;
  };

  const publish = (params: URLSearchParams): string => {
    requests.publish++;
    const topic = topicOf(params.get('TopicArn') ?? params.get('TargetArn'));
    const result = publishEntry(topic, entryOf(params, '', undefined));
    return `<PublishResult><MessageId>${result.messageId}</MessageId>${
      result.sequenceNumber ? `<SequenceNumber>${result.sequenceNumber}</SequenceNumber>` : ''
    }</PublishResult>`;
  };

  const publishBatch = (params: URLSearchParams): string => {
    requests.publishBatch++;
    const topic = topicOf(params.get('TopicArn'));
    const members = queryMembers(params, 'PublishBatchRequestEntries', 'member');
    if (members.length === 0) {
      throw new SnsError(
        'EmptyBatchRequest',
        'The batch request doesn\u2019t contain any entries.',
      );
    }
    if (members.length > SNS_MAX_BATCH_ENTRIES) {
      throw new SnsError(
        'TooManyEntriesInBatchRequest',
        `The batch request contains more entries than permissible (${SNS_MAX_BATCH_ENTRIES}).`,
      );
    }
    const entries = members.map((_, i) =>
      entryOf(params, `PublishBatchRequestEntries.member.${i + 1}.`, members[i]!.get('Id')),
    );
    const ids = new Set<string>();
    let total = 0;
    for (const entry of entries) {
      if (entry.id === undefined || !/^[\w-]{1,80}$/.test(entry.id)) {
        throw new SnsError(
          'InvalidBatchEntryId',
          `The Id of a batch entry in a batch request doesn't abide by the specification: ${String(entry.id)}`,
        );
      }
      if (ids.has(entry.id)) {
        throw new SnsError(
          'BatchEntryIdsNotDistinct',
          `Two or more batch entries in the request have the same Id: ${entry.id}`,
        );
      }
      ids.add(entry.id);
      total += Buffer.byteLength(entry.message ?? '') + attributesSize(entry.attributes);
    }
    if (total > SNS_MAX_PAYLOAD_BYTES) {
      throw new SnsError(
        'BatchRequestTooLong',
        `The length of all the messages put together is more than the limit (${total} > ${SNS_MAX_PAYLOAD_BYTES} bytes).`,
      );
    }
    let successful = '';
    let failed = '';
    for (const entry of entries) {
      try {
        const result = publishEntry(topic, entry);
        successful += `<member><Id>${xmlEscape(entry.id!)}</Id><MessageId>${result.messageId}</MessageId>${
          result.sequenceNumber ? `<SequenceNumber>${result.sequenceNumber}</SequenceNumber>` : ''
        }</member>`;
      } catch (error) {
        if (!(error instanceof SnsError)) throw error;
        failed += `<member><Id>${xmlEscape(entry.id!)}</Id><Code>${error.code}</Code><Message>${xmlEscape(
          error.message,
        )}</Message><SenderFault>${error.sender}</SenderFault></member>`;
      }
    }
    return `<PublishBatchResult><Successful>${successful}</Successful><Failed>${failed}</Failed></PublishBatchResult>`;
  };

  const handle = (request: IncomingMessage, body: Buffer, response: ServerResponse): void => {
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    const requestId = randomUUID();
    try {
      if (request.method !== 'POST') {
        throw new SnsError('InvalidAction', 'The double accepts POST only', 400);
      }
      let result: string;
      switch (action) {
        case 'CreateTopic':
          result = createTopic(params);
          break;
        case 'Publish':
          result = publish(params);
          break;
        case 'PublishBatch':
          result = publishBatch(params);
          break;
        default:
          throw new SnsError(
            'InvalidAction',
            `The action ${action} is not valid for this endpoint.`,
          );
      }
      sendXml(
        response,
        200,
        `<${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
      );
    } catch (error) {
      if (!(error instanceof SnsError)) throw error;
      sendXml(
        response,
        error.status,
        `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${error.sender ? 'Sender' : 'Receiver'}</Type><Code>${error.code}</Code><Message>${xmlEscape(
          error.message,
        )}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
  };

  const server = await listenDouble('SNS', handle);
  return {
    endpoint: server.url,
    messages: (topicArn) => [...(topics.get(topicArn)?.delivered ?? [])],
    requests,
    injectFailures(injection) {
      failEntries += injection.failEntries ?? 0;
      failCode = injection.code ?? 'InternalError';
      failSender = injection.senderFault ?? false;
    },
    stop: server.stop,
  };
}

function entryOf(params: URLSearchParams, prefix: string, id: string | undefined): Entry {
  return {
    id,
    message: params.get(`${prefix}Message`) ?? undefined,
    subject: params.get(`${prefix}Subject`) ?? undefined,
    attributes: queryMessageAttributes(params, prefix),
    groupId: params.get(`${prefix}MessageGroupId`) ?? undefined,
    dedupId: params.get(`${prefix}MessageDeduplicationId`) ?? undefined,
  };
}

function delivered(
  messageId: string,
  entry: Entry,
  sequenceNumber: string | undefined,
): SnsDeliveredMessage {
  return {
    messageId,
    message: entry.message!,
    subject: entry.subject,
    attributes: entry.attributes,
    messageGroupId: entry.groupId,
    messageDeduplicationId: entry.dedupId,
    sequenceNumber,
  };
}
