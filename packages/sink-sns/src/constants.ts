/** The most entries of one SNS PublishBatch request. */
export const SNS_MAX_BATCH_ENTRIES = 10;

/** The most bytes of one SNS message with its attributes, and of a whole PublishBatch. */
export const SNS_MAX_PAYLOAD_BYTES = 262_144;

/** The longest FIFO MessageGroupId and MessageDeduplicationId SNS accepts. */
export const SNS_MAX_FIFO_ID_LENGTH = 128;

/** The most message attributes SNS delivers to SQS subscribers. */
export const SNS_MAX_MESSAGE_ATTRIBUTES = 10;
