import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError } from '@shardline/core';
import { PAYLOAD_POINTER_CLASS } from './constants.js';

/** Options of an {@link S3PayloadStore}. */
export interface S3PayloadStoreOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Key prefix of stored payloads. @default 'shardline/sqs/' */
  readonly prefix?: string;
}

/** Default key prefix of an {@link S3PayloadStore}. */
export const DEFAULT_PAYLOAD_PREFIX = 'shardline/sqs/';

/** Where a stored payload is. */
export interface PayloadPointer {
  readonly s3BucketName: string;
  readonly s3Key: string;
}

/**
 * Keeps payloads too large for a message in S3 (the claim-check pattern) and reads them back.
 * Pointers have the format of the AWS SQS/SNS Extended Client libraries, so the claim checks
 * written by `@shardline/sink-sns` and by those libraries resolve here too, from any bucket the
 * S3 client may read.
 */
export class S3PayloadStore {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3PayloadStoreOptions) {
    if (!options?.s3 || typeof options.s3.send !== 'function') {
      throw new ConfigurationError('S3PayloadStore needs `s3`: pass a `new S3Client(...)`.');
    }
    if (typeof options.bucket !== 'string' || options.bucket.length < 3) {
      throw new ConfigurationError(
        `S3PayloadStore needs \`bucket\`, the name of an existing bucket; got ${String(options.bucket)}.`,
      );
    }
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? DEFAULT_PAYLOAD_PREFIX;
  }

  /** Stores `body` under the prefix and `name`; returns the pointer message to send instead. */
  async store(name: string, body: string, signal?: AbortSignal): Promise<string> {
    const key = `${this.#prefix}${name}`;
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: 'application/json',
      }),
      { abortSignal: signal },
    );
    const pointer: PayloadPointer = { s3BucketName: this.#bucket, s3Key: key };
    return JSON.stringify([PAYLOAD_POINTER_CLASS, pointer]);
  }

  /** Reads the payload a pointer message points to. */
  async load(pointer: PayloadPointer, signal?: AbortSignal): Promise<string> {
    const object = await this.#s3.send(
      new GetObjectCommand({ Bucket: pointer.s3BucketName, Key: pointer.s3Key }),
      { abortSignal: signal },
    );
    return (await object.Body?.transformToString('utf-8')) ?? '';
  }
}

/** The pointer of a claim-check message, or `undefined` for an ordinary message. */
export function parsePayloadPointer(message: string): PayloadPointer | undefined {
  if (!message.startsWith(`["${PAYLOAD_POINTER_CLASS}"`)) return undefined;
  const parsed = JSON.parse(message) as [string, PayloadPointer];
  return parsed[1];
}
