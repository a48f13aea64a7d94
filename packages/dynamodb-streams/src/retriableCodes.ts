/**
 * DynamoDB Streams error codes that a backoff and retry may cure. `LimitExceededException` is
 * what Streams sends when GetRecords or DescribeStream exceed their rate; 5xx and network
 * failures are retriable whatever their code (see core's `toStreamReadError`).
 */
export const DYNAMODB_STREAMS_RETRIABLE_CODES: ReadonlySet<string> = new Set([
  'LimitExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'InternalServerError',
  'ServiceUnavailable',
  'RequestTimeout',
  'TimeoutError',
]);
