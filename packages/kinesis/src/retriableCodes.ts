/**
 * Kinesis error codes that a backoff and retry may cure: per-shard read limits
 * (`ProvisionedThroughputExceededException`: 5 GetRecords/s, 2 MB/s), KMS throttling, control
 * plane limits (`LimitExceededException` on ListShards) and server faults. 5xx and network
 * failures are retriable whatever their code (see core's `toStreamReadError`).
 */
export const KINESIS_RETRIABLE_CODES: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'KMSThrottlingException',
  'LimitExceededException',
  'ThrottlingException',
  'InternalFailure',
  'InternalFailureException',
  'ServiceUnavailable',
  'TimeoutError',
]);
