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
