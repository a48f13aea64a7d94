import type { SNSClient } from '@aws-sdk/client-sns';
import {
  ConfigurationError,
  type FailedRecord,
  type FailureDestination,
  itemToJson,
  ShardlineError,
} from '@shardline/core';
import { EXTENDED_PAYLOAD_SIZE_ATTRIBUTE, type S3ClaimCheck } from '@shardline/sink-s3';
import { SNS_MAX_PAYLOAD_BYTES } from './constants.js';
import { PayloadTooLargeError } from './errors.js';
import { toFifoId } from './fifoIds.js';
import { entryByteSize, type PublishEntry, publishBatched } from './publishBatched.js';

/** Options of an {@link SnsFailureDestination}. */
export interface SnsFailureDestinationOptions {
  readonly client: SNSClient;
  /** The topic ARN; a `.fifo` topic gets group ids (ordering key) and dedup ids (shard:sequence). */
  readonly topicArn: string;
  /**
   * Where records over 256 KB go. Without it, such a record makes `send` throw, so the pipeline
   * keeps the record failed (its checkpoint does not move) instead of losing it.
   */
  readonly claimCheck?: S3ClaimCheck;
}

/**
 * Parks failed records on an SNS topic, each message the whole {@link FailedRecord} as JSON (the
 * record as delivered, the error, attempts, shard and sequence number), unlike Lambda's own
 * on-failure destinations, which carry batch metadata only. Subscribe an SQS queue to keep them,
 * and read them back with `SqsFailureDestination` from `@shardline/failure-sqs`, which
 * understands SNS-delivered messages.
 *
 * `send` succeeds only when every record was published; otherwise it throws, and the pipeline
 * leaves the records failed. A partly published batch may therefore be parked twice
 * (at least once); on a FIFO topic the dedup id drops the repeat.
 */
export class SnsFailureDestination implements FailureDestination {
  readonly name = 'sns';
  readonly #client: SNSClient;
  readonly #topicArn: string;
  readonly #fifo: boolean;
  readonly #claimCheck: S3ClaimCheck | undefined;

  constructor(options: SnsFailureDestinationOptions) {
    if (!options?.client || typeof options.client.send !== 'function') {
      throw new ConfigurationError(
        'SnsFailureDestination needs `client`: pass `new SNSClient({})`.',
      );
    }
    if (typeof options.topicArn !== 'string' || !options.topicArn.startsWith('arn:')) {
      throw new ConfigurationError(
        `SnsFailureDestination needs \`topicArn\`, a topic ARN; got ${String(options.topicArn)}.`,
      );
    }
    this.#client = options.client;
    this.#topicArn = options.topicArn;
    this.#fifo = options.topicArn.endsWith('.fifo');
    this.#claimCheck = options.claimCheck;
  }

  async send(records: readonly FailedRecord[], signal?: AbortSignal): Promise<void> {
    const entries: PublishEntry[] = [];
    for (const failed of records) entries.push(await this.#entry(failed, signal));
    const published = await publishBatched(this.#client, this.#topicArn, entries, signal);
    const failures = published.outcomes.filter((o) => !o.ok);
    if (failures.length > 0) {
      const first = failures[0] as { error: Error; retriable: boolean };
      throw new ShardlineError(
        `${failures.length} of ${records.length} failed records could not be published to ${this.#topicArn}: ${first.error.message}`,
        { cause: first.error, retriable: failures.some((f) => !f.ok && f.retriable) },
      );
    }
  }

  async #entry(failed: FailedRecord, signal: AbortSignal | undefined): Promise<PublishEntry> {
    let message = itemToJson({ type: 'shardline.failed-record', ...failed });
    const attributes: PublishEntry['attributes'] = {
      source: { DataType: 'String', StringValue: failed.source },
      shardId: { DataType: 'String', StringValue: failed.shardId },
      errorName: { DataType: 'String', StringValue: failed.error.name },
    };
    const size = entryByteSize({ message, attributes });
    if (size > SNS_MAX_PAYLOAD_BYTES) {
      if (!this.#claimCheck) {
        throw new PayloadTooLargeError(
          `Failed record ${failed.sequenceNumber} of shard ${failed.shardId}`,
          size,
          SNS_MAX_PAYLOAD_BYTES,
        );
      }
      const bytes = Buffer.byteLength(message);
      message = await this.#claimCheck.store(
        `failed/${encodeURIComponent(failed.shardId)}/${failed.sequenceNumber}${
          failed.subSequenceNumber === undefined ? '' : `-${failed.subSequenceNumber}`
        }.json`,
        message,
        signal,
      );
      attributes[EXTENDED_PAYLOAD_SIZE_ATTRIBUTE] = {
        DataType: 'Number',
        StringValue: String(bytes),
      };
    }
    const sub = failed.subSequenceNumber === undefined ? '' : `:${failed.subSequenceNumber}`;
    return {
      key: failed.orderingKey,
      label: failed.sequenceNumber,
      message,
      attributes,
      ...(this.#fifo
        ? {
            messageGroupId: toFifoId(failed.orderingKey),
            messageDeduplicationId: failedDeduplicationId(failed, sub),
          }
        : {}),
    };
  }
}

/**
 * The dedup id of a parked record: its DynamoDB `eventID` when the record has one (Lambda's
 * DynamoDB records carry no shard id, so shard and sequence number could collide across shards),
 * otherwise shard, sequence number and sub-sequence.
 */
function failedDeduplicationId(failed: FailedRecord, sub: string): string {
  const raw = failed.record as { eventID?: unknown } | null | undefined;
  if (failed.source === 'dynamodb-streams' && typeof raw?.eventID === 'string') {
    return toFifoId(`ddb:${raw.eventID}`);
  }
  return toFifoId(`${failed.shardId}:${failed.sequenceNumber}${sub}`);
}
