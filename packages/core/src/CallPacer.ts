import { ConfigurationError } from './errors.js';
import { sleep } from './RetryPolicy.js';

/**
 * Spaces calls at least `minIntervalMs` apart, across every caller sharing the pacer. Control
 * plane calls have low per-account limits (DescribeStream: 10/s, ListShards: 100/s shared by
 * every consumer of the account), so a source paces them itself rather than be throttled.
 *
 * @example
 * const pacer = new CallPacer(1000 / 5); // 5 calls/s
 * await pacer.wait(signal); await client.send(new DescribeStreamCommand(input));
 */
export class CallPacer {
  readonly #minIntervalMs: number;
  #nextAt = 0;

  constructor(minIntervalMs: number) {
    if (!(minIntervalMs >= 0) || !Number.isFinite(minIntervalMs)) {
      throw new ConfigurationError(
        `CallPacer minIntervalMs must be a finite number of 0 or more, got ${String(minIntervalMs)}.`,
      );
    }
    this.#minIntervalMs = minIntervalMs;
  }

  /** Resolves when the next call may start; reserves its slot at once, so callers queue fairly. */
  async wait(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.#nextAt);
    this.#nextAt = at + this.#minIntervalMs;
    if (at > now) await sleep(at - now, signal);
  }
}
