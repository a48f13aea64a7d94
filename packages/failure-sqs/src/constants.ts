/** The most entries of one SQS SendMessageBatch or DeleteMessageBatch. */
export const SQS_MAX_BATCH_ENTRIES = 10;

/**
 * Default largest message, body and attributes, in bytes: SQS's classic 256 KB limit. SQS
 * raised the limit to 1 MiB in 2025; set `maxMessageBytes` to 1_048_576 for queues that allow it.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

/** Default long-poll wait of `receive`, in seconds (0 = return at once). */
export const DEFAULT_RECEIVE_WAIT_SECONDS = 0;

/** The `type` field that marks a message as a Shardline failed record. */
export const FAILED_RECORD_TYPE = 'shardline.failed-record';

/** The class name the AWS payload-offloading libraries put first in a pointer message. */
export const PAYLOAD_POINTER_CLASS = 'software.amazon.payloadoffloading.PayloadS3Pointer';

/** The message attribute that marks a claim-check message and gives the payload size. */
export const EXTENDED_PAYLOAD_SIZE_ATTRIBUTE = 'ExtendedPayloadSize';
