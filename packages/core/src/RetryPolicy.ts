import { ConfigurationError, isRetriable } from './errors.js';

/** What to do with a record once its attempts are used up. */
export const ExhaustedAction = {
  /** Send it whole to the failure destination and move on (the shard keeps flowing). */
  Park: 'park',
  /** Leave it failed: the key stops and the checkpoint stays before it (nothing skipped). */
  Block: 'block',
} as const;
/** One of {@link ExhaustedAction}. */
export type ExhaustedAction = (typeof ExhaustedAction)[keyof typeof ExhaustedAction];

/** Options of a {@link RetryPolicy}. */
export interface RetryPolicyOptions {
  /**
   * Attempts per record, the first included. 1 means no retry.
   * @default 3
   */
  readonly maxAttempts?: number;
  /** First backoff ceiling, in ms; doubles each attempt. @default 100 */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling, in ms. @default 5000 */
  readonly maxDelayMs?: number;
  /**
   * Give up on a record older than this (by its approximate creation time), in ms, as Lambda's
   * MaximumRecordAgeInSeconds does. `undefined`: no age limit.
   */
  readonly maxRecordAgeMs?: number | undefined;
  /**
   * When a whole sink batch fails, split it in two and retry each half, down to single records,
   * so one poison record does not fail its neighbours. @default true
   */
  readonly bisectOnError?: boolean;
  /**
   * What happens after the last attempt. Defaults to `park` when a failure destination is set,
   * else `block` (nothing is ever dropped silently).
   */
  readonly onExhausted?: ExhaustedAction;
  /** Random source in [0, 1), for tests. @default Math.random */
  readonly random?: () => number;
}

/** Defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY = {
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 5000,
  bisectOnError: true,
} as const;

/**
 * Exponential backoff with full jitter (delay drawn uniformly from 0 to min(max, base × 2^n)),
 * a bound on attempts and on record age, and what to do when a record gives out. Non-retriable
 * errors (`retriable: false`) skip the remaining attempts.
 */
export class RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRecordAgeMs: number | undefined;
  readonly bisectOnError: boolean;
  readonly onExhausted: ExhaustedAction | undefined;
  readonly #random: () => number;

  constructor(options: RetryPolicyOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? DEFAULT_RETRY.maxAttempts;
    this.baseDelayMs = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
    this.maxRecordAgeMs = options.maxRecordAgeMs;
    this.bisectOnError = options.bisectOnError ?? DEFAULT_RETRY.bisectOnError;
    this.onExhausted = options.onExhausted;
    this.#random = options.random ?? Math.random;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new ConfigurationError(
        `maxAttempts must be a whole number of at least 1, got ${String(options.maxAttempts)}.`,
      );
    }
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new ConfigurationError(
        `Retry delays must satisfy 0 <= baseDelayMs <= maxDelayMs, got baseDelayMs=${String(this.baseDelayMs)}, maxDelayMs=${String(this.maxDelayMs)}.`,
      );
    }
    if (this.maxRecordAgeMs !== undefined && !(this.maxRecordAgeMs > 0)) {
      throw new ConfigurationError(
        `maxRecordAgeMs must be above 0, got ${String(this.maxRecordAgeMs)}; leave it unset for no age limit.`,
      );
    }
    if (
      this.onExhausted !== undefined &&
      this.onExhausted !== 'park' &&
      this.onExhausted !== 'block'
    ) {
      throw new ConfigurationError(
        `onExhausted must be 'park' or 'block', got ${String(this.onExhausted)}.`,
      );
    }
  }

  /**
   * A policy for a loop that retries until it succeeds or is stopped (a shard's reads, a page
   * whose records are not done, a shard reader's restart): no attempt limit, full-jitter delays
   * from `baseDelayMs` doubling up to `maxDelayMs` (`baseDelayMs` is capped at it).
   * @example
   * const backoff = RetryPolicy.untilStopped(250, 10_000);
   * await sleep(backoff.delayMs(attempt), signal);
   */
  static untilStopped(baseDelayMs: number, maxDelayMs: number): RetryPolicy {
    return new RetryPolicy({
      maxAttempts: Number.MAX_SAFE_INTEGER,
      baseDelayMs: Math.min(baseDelayMs, maxDelayMs),
      maxDelayMs,
    });
  }

  /** The backoff before attempt `attempt + 1`, after `attempt` failed (attempt ≥ 1). */
  delayMs(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.#random() * ceiling);
  }

  /**
   * Whether to try again after attempt `attempt` failed with `error`, for a record created at
   * `createdAtMs` (epoch ms, if known), given `now`.
   */
  shouldRetry(error: unknown, attempt: number, createdAtMs?: number, now = Date.now()): boolean {
    if (attempt >= this.maxAttempts) return false;
    if (!isRetriable(error)) return false;
    if (
      this.maxRecordAgeMs !== undefined &&
      createdAtMs !== undefined &&
      now - createdAtMs > this.maxRecordAgeMs
    ) {
      return false;
    }
    return true;
  }

  /** The action after the last attempt, given whether a failure destination exists. */
  exhaustedAction(hasFailureDestination: boolean): ExhaustedAction {
    return this.onExhausted ?? (hasFailureDestination ? 'park' : 'block');
  }
}

/** Waits `ms`, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
