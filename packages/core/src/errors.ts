/**
 * The one error tree of Shardline. Every error says what went wrong and how to fix it, and
 * carries `retriable` so retry decisions are made on a flag, never on message text.
 */

/** Options common to every {@link ShardlineError}. */
export interface ShardlineErrorOptions {
  /** The error that caused this one. */
  readonly cause?: unknown;
  /**
   * Whether trying the same operation again may succeed (throttling, timeouts, 5xx).
   * @default false
   */
  readonly retriable?: boolean;
}

/** Base class of every error Shardline throws. */
export class ShardlineError extends Error {
  /** Whether a retry of the failed operation may succeed. */
  readonly retriable: boolean;

  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ShardlineError';
    this.retriable = options.retriable ?? false;
  }
}

/** An option or environment variable has a bad value; the message names it and the fix. */
export class ConfigurationError extends ShardlineError {
  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/** Where a record came from, carried by errors about that record. */
export interface RecordLocation {
  readonly streamId?: string;
  readonly shardId?: string;
  readonly sequenceNumber?: string;
}

/**
 * A stream record could not be turned into a {@link ChangeRecord} (unknown attribute type,
 * payload that is not JSON, missing field). Never retriable: the same bytes fail again.
 */
export class DecodeError extends ShardlineError {
  readonly shardId: string | undefined;
  readonly sequenceNumber: string | undefined;
  readonly streamId: string | undefined;

  constructor(reason: string, location: RecordLocation, options: ShardlineErrorOptions = {}) {
    super(
      `Cannot decode record ${location.sequenceNumber ?? '(no sequence number)'} of shard ${
        location.shardId ?? '(unknown shard)'
      }: ${reason}. The record is sent to the failure destination; fix the producer or the decoder option.`,
      { ...options, retriable: false },
    );
    this.name = 'DecodeError';
    this.shardId = location.shardId;
    this.sequenceNumber = location.sequenceNumber;
    this.streamId = location.streamId;
  }
}

/** One record a sink could not write, with the reason. */
export interface SinkRecordFailure {
  /** Index of the record in the batch given to `write`. */
  readonly index: number;
  readonly error: Error;
}

/** A sink write failed for some records of a batch. */
export class SinkWriteError extends ShardlineError {
  readonly failures: readonly SinkRecordFailure[];

  constructor(
    message: string,
    failures: readonly SinkRecordFailure[],
    options: ShardlineErrorOptions = {},
  ) {
    super(message, options);
    this.name = 'SinkWriteError';
    this.failures = failures;
  }
}

/**
 * A buffering sink could not make its buffered writes durable (`Sink.flush` failed) before a
 * checkpoint. The checkpoint is not moved and the shard's reader restarts from the last one, so
 * the records whose writes were buffered are read and written again; nothing is lost.
 */
export class SinkFlushError extends ShardlineError {
  readonly shardId: string;

  constructor(shardId: string, cause: unknown) {
    super(
      `The sink's flush failed before a checkpoint of shard ${shardId} (${cause instanceof Error ? cause.message : String(cause)}); the checkpoint was not moved and the shard is read again from the last one. Check the sink's destination (permissions, bucket, network).`,
      { cause, retriable: true },
    );
    this.name = 'SinkFlushError';
    this.shardId = shardId;
  }
}

/**
 * This worker no longer holds the lease of a shard: another worker took it, so this one must
 * stop reading and may not move the checkpoint (fencing).
 */
export class LeaseLostError extends ShardlineError {
  readonly leaseKey: string;

  constructor(leaseKey: string, detail: string, options: ShardlineErrorOptions = {}) {
    super(
      `Lease ${leaseKey} is no longer held by this worker (${detail}); its checkpoint was not moved. Another worker owns the shard now: this is expected after a pause longer than the lease duration.`,
      { ...options, retriable: false },
    );
    this.name = 'LeaseLostError';
    this.leaseKey = leaseKey;
  }
}

/** Records the stream no longer holds were skipped (TrimmedDataAccessException). */
export class DataTrimmedError extends ShardlineError {
  readonly shardId: string;
  readonly fromSequenceNumber: string | undefined;

  constructor(
    shardId: string,
    fromSequenceNumber: string | undefined,
    options: ShardlineErrorOptions = {},
  ) {
    super(
      `Shard ${shardId}: records after ${fromSequenceNumber ?? 'the start'} were trimmed from the stream before they were read (older than its retention period: 24 h on DynamoDB Streams, the stream's setting on Kinesis). Set trimmedDataPolicy to 'skip-to-trim-horizon' to continue from the oldest record still kept.`,
      options,
    );
    this.name = 'DataTrimmedError';
    this.shardId = shardId;
    this.fromSequenceNumber = fromSequenceNumber;
  }
}

/** A retriable error whose attempts ran out. Carries the last error as `cause`. */
export class RetriesExhaustedError extends ShardlineError {
  readonly attempts: number;

  constructor(attempts: number, cause: unknown) {
    super(`Gave up after ${attempts} attempts: ${errorMessage(cause)}`, {
      cause,
      retriable: false,
    });
    this.name = 'RetriesExhaustedError';
    this.attempts = attempts;
  }
}

/** A record was not run because an earlier record of the same key failed in this batch. */
export class BlockedByEarlierFailureError extends ShardlineError {
  readonly blockingSequenceNumber: string;

  constructor(orderingKey: string, blockingSequenceNumber: string) {
    super(
      `Not run: record ${blockingSequenceNumber} of the same key (${orderingKey}) failed earlier in this batch, and per-key order forbids running later records before it.`,
      { retriable: true },
    );
    this.name = 'BlockedByEarlierFailureError';
    this.blockingSequenceNumber = blockingSequenceNumber;
  }
}

/**
 * Whether an error may succeed on retry. Shardline errors say so through `retriable`; AWS SDK
 * errors through `$retryable` or a throttling / server fault; other errors are treated as
 * retriable, since a user handler's failure is most often transient (a network call).
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof ShardlineError) return error.retriable;
  if (typeof error === 'object' && error !== null) {
    const e = error as { $retryable?: unknown; $fault?: unknown; retriable?: unknown };
    if (typeof e.retriable === 'boolean') return e.retriable;
    if (e.$retryable !== undefined) return true;
    if (e.$fault === 'server') return true;
    if (e.$fault === 'client') return false;
  }
  return true;
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Wraps any thrown value into an `Error`. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * An option that must be a whole number in `[min, max]`: the value, or `fallback` when unset.
 * @throws ConfigurationError naming the option, the range and the value given.
 */
export function wholeNumberIn(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigurationError(
      `${name} must be a whole number from ${min} to ${max}, got ${String(value)}.`,
    );
  }
  return v;
}
