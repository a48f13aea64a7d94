import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError } from '@shardline/core';

/** Options of an {@link S3ClaimCheck}. */
export interface S3ClaimCheckOptions {
  /** The S3 client, built by the caller. */
  readonly s3: S3Client;
  /** An existing bucket. */
  readonly bucket: string;
  /** Key prefix of stored payloads. @default 'shardline/claim-check/' */
  readonly prefix?: string;
}

/** Default key prefix of an {@link S3ClaimCheck}. */
export const DEFAULT_CLAIM_CHECK_PREFIX = 'shardline/claim-check/';

/** Where a stored payload is: the pointer a message carries instead of the payload. */
export interface ClaimCheckPointer {
  readonly s3BucketName: string;
  readonly s3Key: string;
}

/** The message attribute that marks a claim-check message and gives the payload size. */
export const EXTENDED_PAYLOAD_SIZE_ATTRIBUTE = 'ExtendedPayloadSize';

/** The class name the AWS payload-offloading libraries put first in a pointer message. */
export const PAYLOAD_POINTER_CLASS = 'software.amazon.payloadoffloading.PayloadS3Pointer';

/**
 * Keeps payloads too large for a message (SNS, SQS: 256 KB) in S3 and gives back the pointer to
 * send instead, and reads them back: the claim-check pattern. The pointer message has the shape
 * of the Amazon SNS/SQS Extended Client libraries (`["software.amazon.payloadoffloading.
 * PayloadS3Pointer", {s3BucketName, s3Key}]` with an `ExtendedPayloadSize` attribute), so their
 * subscribers can resolve it, and pointers they write resolve here.
 *
 * Keys are chosen by the caller from the record (shard and sequence number), so a replay
 * overwrites the same object instead of adding one.
 *
 * @example
 * const claimCheck = new S3ClaimCheck({ s3: new S3Client({}), bucket: 'large-messages' });
 */
export class S3ClaimCheck {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3ClaimCheckOptions) {
    if (!options?.s3 || typeof options.s3.send !== 'function') {
      throw new ConfigurationError('S3ClaimCheck needs `s3`: pass a `new S3Client(...)`.');
    }
    if (typeof options.bucket !== 'string' || options.bucket.length < 3) {
      throw new ConfigurationError(
        `S3ClaimCheck needs \`bucket\`, the name of an existing bucket; got ${String(options.bucket)}.`,
      );
    }
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? DEFAULT_CLAIM_CHECK_PREFIX;
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
    const pointer: ClaimCheckPointer = { s3BucketName: this.#bucket, s3Key: key };
    return JSON.stringify([PAYLOAD_POINTER_CLASS, pointer]);
  }

  /** Reads the payload a pointer points to (from any bucket the S3 client may read). */
  async load(pointer: ClaimCheckPointer, signal?: AbortSignal): Promise<string> {
    const object = await this.#s3.send(
      new GetObjectCommand({ Bucket: pointer.s3BucketName, Key: pointer.s3Key }),
      { abortSignal: signal },
    );
    return (await object.Body?.transformToString('utf-8')) ?? '';
  }
}

/** The pointer of a claim-check message, or `undefined` for an ordinary message. */
export function parseClaimCheckPointer(message: string): ClaimCheckPointer | undefined {
  if (!message.startsWith(`["${PAYLOAD_POINTER_CLASS}"`)) return undefined;
  const parsed = JSON.parse(message) as [string, ClaimCheckPointer];
  return parsed[1];
}
