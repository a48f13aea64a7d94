import { ShardlineError } from '@shardline/core';

/** SNS refused one entry of a PublishBatch. Retriable unless it was the sender's fault. */
export class SnsPublishError extends ShardlineError {
  readonly code: string;

  constructor(code: string, message: string, senderFault: boolean) {
    super(
      `SNS refused the message with ${code}: ${message}${
        senderFault
          ? '. The message itself is at fault; the record goes to the failure destination.'
          : ''
      }`,
      { retriable: !senderFault },
    );
    this.name = 'SnsPublishError';
    this.code = code;
  }
}

/** A message is over SNS's 256 KB limit and no claim check is configured. */
export class PayloadTooLargeError extends ShardlineError {
  readonly bytes: number;

  constructor(what: string, bytes: number, limit: number) {
    super(
      `${what} is ${bytes} bytes, over SNS's ${limit}-byte limit; set \`claimCheck\` (an S3ClaimCheck) to store large payloads in S3 and publish a pointer.`,
      { retriable: false },
    );
    this.name = 'PayloadTooLargeError';
    this.bytes = bytes;
  }
}
