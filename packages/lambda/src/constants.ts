/**
 * Defaults of the Lambda runtime's time budget.
 *
 * Why these values: a Lambda that times out returns nothing, so Lambda retries the whole batch
 * and the checkpoint does not move. Keeping 10% of the remaining time free (at least 1 s, at most
 * 10 s) leaves room to finish in-flight calls, send parked records and build the response on a
 * 3 s function as on a 15 min one.
 */
export const DEFAULT_TIMEOUT_MARGIN = {
  /** Share of the remaining time kept free. */
  fraction: 0.1,
  /** Smallest margin, in ms. */
  minMs: 1000,
  /** Largest margin, in ms. */
  maxMs: 10_000,
} as const;

/** The Lambda `eventSource` values Shardline handles. */
export const LambdaEventSource = {
  DynamoDB: 'aws:dynamodb',
  Kinesis: 'aws:kinesis',
} as const;
/** One of {@link LambdaEventSource}. */
export type LambdaEventSource = (typeof LambdaEventSource)[keyof typeof LambdaEventSource];

/**
 * The shard id used when Lambda does not say which shard a DynamoDB batch came from (DynamoDB
 * records of a Lambda event carry no shard id; only tumbling-window events do).
 */
export const UNKNOWN_SHARD_ID = 'unknown';
