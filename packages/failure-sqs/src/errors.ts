import { type FailedRecord, ShardlineError } from '@shardline/core';

/**
 * A failed record is larger than the queue accepts and no payload store is set. Thrown by
 * `send`, so the pipeline keeps the record failed (and its shard's checkpoint before it) rather
 * than losing it.
 */
export class OversizeFailedRecordError extends ShardlineError {
  readonly bytes: number;

  constructor(failed: FailedRecord, bytes: number, limit: number) {
    super(
      `Failed record ${failed.sequenceNumber} of shard ${failed.shardId} is ${bytes} bytes, over the queue's ${limit}-byte limit; set \`payloadStore: new S3ClaimCheck({ s3, bucket })\` to keep large records in S3.`,
      { retriable: false },
    );
    this.name = 'OversizeFailedRecordError';
    this.bytes = bytes;
  }
}
