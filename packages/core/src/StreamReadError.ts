import { isRegionMissing } from './awsSetupErrors.js';
import { errorMessage, ShardlineError } from './errors.js';

/**
 * A call to a stream service (GetRecords, DescribeStream, ListShards, …) failed. `retriable`
 * says whether backing off and calling again may succeed: the `ShardConsumer` backs off on it
 * and the worker retries discovery on it, so the decision is made once, here, per service.
 */
export class StreamReadError extends ShardlineError {
  /** The service operation that failed (`GetRecords`). */
  readonly operation: string;
  /** The service's error code (`LimitExceededException`), when it sent one. */
  readonly code: string | undefined;
  /** The HTTP status, when a response arrived. */
  readonly httpStatusCode: number | undefined;
  readonly shardId: string | undefined;

  constructor(
    operation: string,
    detail: {
      readonly code: string | undefined;
      readonly httpStatusCode: number | undefined;
      readonly shardId?: string | undefined;
      readonly retriable: boolean;
      readonly cause: unknown;
    },
  ) {
    super(
      `${operation}${detail.shardId ? ` on shard ${detail.shardId}` : ''} failed with ${
        detail.code ?? 'an error'
      }${detail.httpStatusCode ? ` (HTTP ${detail.httpStatusCode})` : ''}: ${errorMessage(detail.cause)}.${
        detail.retriable
          ? ' This is transient (throttling, a server fault or the network): the call is retried with backoff.'
          : ' This is not transient: check the stream, shard and permissions.'
      }`,
      { cause: detail.cause, retriable: detail.retriable },
    );
    this.name = 'StreamReadError';
    this.operation = operation;
    this.code = detail.code;
    this.httpStatusCode = detail.httpStatusCode;
    this.shardId = detail.shardId;
  }
}

/** The AWS error code of an SDK v3 error (`name`), or of a raw service error (`code`, `Code`). */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; code?: unknown; Code?: unknown };
  for (const value of [e.name, e.Code, e.code]) {
    if (typeof value === 'string' && value !== 'Error') return value;
  }
  return undefined;
}

/** The HTTP status of an SDK v3 error, when a response arrived. */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Wraps an SDK error from a stream service into a {@link StreamReadError}. Retriable when the
 * code is one of `retriableCodes` (the service's throttling codes), on any 5xx or server fault,
 * and on network failures (no HTTP response at all: reset, refused, timeout). Client errors
 * (4xx with another code) are not.
 */
export function toStreamReadError(
  error: unknown,
  operation: string,
  retriableCodes: ReadonlySet<string>,
  shardId?: string,
): StreamReadError {
  if (error instanceof StreamReadError) return error;
  const code = awsErrorCode(error);
  const httpStatusCode = httpStatusOf(error);
  const fault = (error as { $fault?: unknown } | null)?.$fault;
  // No region (a plain Error, no response) looks like a network failure but never heals.
  const retriable =
    !isRegionMissing(error) &&
    ((code !== undefined && retriableCodes.has(code)) ||
      (httpStatusCode !== undefined && httpStatusCode >= 500) ||
      fault === 'server' ||
      (httpStatusCode === undefined && fault !== 'client' && code !== 'AbortError'));
  return new StreamReadError(operation, { code, httpStatusCode, shardId, retriable, cause: error });
}
