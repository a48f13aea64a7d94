import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  ConfigurationError,
  type FailedRecord,
  type ReplayableFailureDestination,
} from '@shardline/core';
import { keyPosition } from './objectKeys.js';
import { stringifyArchiveValue } from './toArchiveLine.js';

/** Options of an {@link S3FailureDestination}. */
export interface S3FailureDestinationOptions {
  /** The S3 client, built and owned by the caller. */
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix of parked records (ends with `/`). @default DEFAULT_FAILURE_PREFIX */
  readonly prefix?: string;
  /** Name for logs and metrics. @default 's3' */
  readonly name?: string;
}

/** Default of {@link S3FailureDestinationOptions.prefix}. */
export const DEFAULT_FAILURE_PREFIX = 'shardline-failed/';

/**
 * Parks failed records in S3, one JSON object each, whole: the record as the source delivered
 * it, the error, the attempts, and where it came from. Unlike Lambda's own on-failure
 * destinations on SQS and SNS (metadata only), nothing needs re-reading from the stream before
 * it expires.
 *
 * Keys are `<prefix><hash8(streamId)>/<shardId>/<position>.json`: parking the same record twice
 * overwrites one object, and a listing returns each shard's records in stream order, which is
 * the order `receive` hands them back for replay.
 *
 * @example
 * const failureDestination = new S3FailureDestination({ client: new S3Client({}), bucket: 'cdc-dlq' });
 */
export class S3FailureDestination implements ReplayableFailureDestination {
  readonly name: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3FailureDestinationOptions) {
    if (!options?.client) {
      throw new ConfigurationError(
        'S3FailureDestination needs an S3 client: pass client: new S3Client({}).',
      );
    }
    if (typeof options.bucket !== 'string' || options.bucket.length < 3) {
      throw new ConfigurationError(
        `bucket must be an S3 bucket name (3+ characters), got ${JSON.stringify(options.bucket)}.`,
      );
    }
    this.#prefix = options.prefix ?? DEFAULT_FAILURE_PREFIX;
    if (!this.#prefix.endsWith('/')) {
      throw new ConfigurationError(
        `prefix must end with "/", got ${JSON.stringify(this.#prefix)}; use ${JSON.stringify(`${this.#prefix}/`)}.`,
      );
    }
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.name = options.name ?? 's3';
  }

  /** The object key of a parked record. */
  keyOf(
    failed: Pick<FailedRecord, 'streamId' | 'shardId' | 'sequenceNumber' | 'subSequenceNumber'>,
  ): string {
    const stream = createHash('sha256').update(failed.streamId).digest('hex').slice(0, 8);
    const position = keyPosition(failed.sequenceNumber, failed.subSequenceNumber);
    return `${this.#prefix}${stream}/${encodeURIComponent(failed.shardId)}/${position}.json`;
  }

  /** Stores each record as one object; throws when any could not be stored (nothing is lost). */
  async send(records: readonly FailedRecord[], signal?: AbortSignal): Promise<void> {
    await Promise.all(
      records.map((failed) =>
        this.#client.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: this.keyOf(failed),
            Body: stringifyArchiveValue(failed),
            ContentType: 'application/json',
          }),
          { abortSignal: signal },
        ),
      ),
    );
  }

  /** Lists and reads parked records, oldest position first per shard; `acknowledge` deletes one. */
  async receive(options: { maxRecords?: number; signal?: AbortSignal } = {}) {
    const max = options.maxRecords ?? Number.POSITIVE_INFINITY;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix,
          ContinuationToken: token,
        }),
        { abortSignal: options.signal },
      );
      for (const object of page.Contents ?? []) {
        if (object.Key?.endsWith('.json') && keys.length < max) keys.push(object.Key);
      }
      token = page.IsTruncated && keys.length < max ? page.NextContinuationToken : undefined;
    } while (token);
    return Promise.all(
      keys.map(async (key) => {
        const object = await this.#client.send(
          new GetObjectCommand({ Bucket: this.#bucket, Key: key }),
          { abortSignal: options.signal },
        );
        const failed = JSON.parse(await object.Body!.transformToString()) as FailedRecord;
        return {
          failed,
          acknowledge: async (): Promise<void> => {
            await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
          },
        };
      }),
    );
  }
}
