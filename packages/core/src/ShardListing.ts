import { CallPacer } from './CallPacer.js';
import type { ShardInfo } from './contracts.js';
import type { EventBus } from './events.js';
import type { Logger } from './Logger.js';
import type { Metrics } from './metrics.js';
import { RetryPolicy, sleep } from './RetryPolicy.js';
import { toStreamReadError } from './StreamReadError.js';

/** Options of a {@link ShardListing}. */
export interface ShardListingOptions {
  readonly streamId: string;
  /** The listing call's name in errors and logs (`DescribeStream`, `ListShards`). */
  readonly operation: string;
  /** Calls per second across every listing and child lookup of the source. */
  readonly callsPerSecond: number;
  /** Attempts of one page when throttled or failing with a retriable error. */
  readonly attempts: number;
  /** The service's retriable error codes. */
  readonly retriableCodes: ReadonlySet<string>;
  /** The counter a retried page increments, labelled `{ stream }`. */
  readonly throttledMetric: string;
  readonly events: EventBus | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * The shard listing both stream services share, with the service call as the only difference:
 * pages paced under the control plane's limit (one `CallPacer` for the source), a page that is
 * throttled or fails with a retriable error retried with core's backoff (full jitter, 200 ms
 * doubling to 10 s), the shards known so far, and `shard.discovered` once per new shard.
 */
export class ShardListing {
  readonly #options: ShardListingOptions;
  readonly #pacer: CallPacer;
  readonly #retry: RetryPolicy;
  readonly #known = new Map<string, ShardInfo>();

  constructor(options: ShardListingOptions) {
    this.#options = options;
    this.#pacer = new CallPacer(1000 / options.callsPerSecond);
    this.#retry = new RetryPolicy({
      maxAttempts: options.attempts,
      baseDelayMs: 200,
      maxDelayMs: 10_000,
    });
  }

  /** The shard as last listed, if it was. */
  known(shardId: string): ShardInfo | undefined {
    return this.#known.get(shardId);
  }

  /**
   * Every shard, page by page: `call(token)` makes one call (paced and retried here) and `read`
   * takes its shards and the next page's token from the answer.
   */
  async list<P>(
    call: (token: string | undefined, signal: AbortSignal | undefined) => Promise<P>,
    read: (page: P) => { shards: ShardInfo[]; next: string | undefined },
    signal?: AbortSignal,
  ): Promise<ShardInfo[]> {
    const shards: ShardInfo[] = [];
    let token: string | undefined;
    do {
      const page = read(await this.call((s) => call(token, s), signal));
      for (const info of page.shards) {
        if (!this.#known.has(info.shardId)) {
          this.#options.events?.emit('shard.discovered', {
            streamId: this.#options.streamId,
            shardId: info.shardId,
            parentShardIds: info.parentShardIds,
          });
        }
        this.#known.set(info.shardId, info);
        shards.push(info);
      }
      token = page.next;
    } while (token);
    return shards;
  }

  /** One control-plane call, paced and retried like a listing page. */
  async call<T>(
    send: (signal: AbortSignal | undefined) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const o = this.#options;
    for (let attempt = 1; ; attempt++) {
      await this.#pacer.wait(signal);
      try {
        return await send(signal);
      } catch (error) {
        const wrapped = toStreamReadError(error, o.operation, o.retriableCodes);
        if (!this.#retry.shouldRetry(wrapped, attempt) || signal?.aborted) throw wrapped;
        const delayMs = this.#retry.delayMs(attempt);
        o.metrics.increment(o.throttledMetric, 1, { stream: o.streamId });
        o.logger.warn({ attempt, delayMs, code: wrapped.code }, `${o.operation} retried`);
        await sleep(delayMs, signal);
      }
    }
  }
}
