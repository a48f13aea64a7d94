import { isRetriable } from '@shardline/core';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';

/**
 * Whether a failed DynamoDB write may succeed when tried again later: throttling
 * (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`,
 * HTTP 429), transient network and timeout errors, 5xx, and whatever core's `isRetriable` says
 * is retriable. The AWS SDK models DynamoDB's throttling errors as client faults without a
 * retryable trait, so `isRetriable` alone reads them as permanent; the SDK's own classifiers
 * (`@smithy/core/retry`) know them by name. A retriable failure goes back to the pipeline, whose
 * `RetryPolicy` backs off: the sinks never loop on throttling themselves.
 */
export function isRetriableWriteError(error: unknown): boolean {
  if (typeof error === 'object' && error !== null && (error as Error).name === 'AbortError') {
    return true;
  }
  if (error instanceof Error) {
    const sdkError = error as Parameters<typeof isThrottlingError>[0];
    if (isThrottlingError(sdkError) || isTransientError(sdkError) || isServerError(sdkError)) {
      return true;
    }
  }
  return isRetriable(error);
}
