import { toError } from '@shardline/core';

/** Options of a {@link SampleTimer}. */
export interface SampleTimerOptions {
  /** Takes one sample. */
  readonly sample: () => Promise<void>;
  /** Between the starts of two rounds, in ms. */
  readonly intervalMs: number;
  /** Told of a round that failed; the next round runs as usual. */
  readonly onError: (error: Error) => void;
  /**
   * Whether the timer lets the process exit (a worker's console must not keep a stopped worker
   * alive). @default false
   */
  readonly unref?: boolean;
}

/**
 * Runs a console's sample now and then every interval, never two rounds at once: a round still
 * running when the next is due makes that one skipped, not stacked. The worker's console and
 * `shardline console` sample through it.
 */
export class SampleTimer {
  readonly #options: SampleTimerOptions;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;

  constructor(options: SampleTimerOptions) {
    this.#options = options;
  }

  /** Takes a sample now and starts the timer; a second call does nothing. */
  start(): void {
    if (this.#timer) return;
    const { sample, intervalMs, onError, unref } = this.#options;
    const tick = () => {
      if (this.#round) return;
      this.#round = sample()
        .catch((error: unknown) => onError(toError(error)))
        .finally(() => {
          this.#round = undefined;
        });
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
    if (unref) this.#timer.unref();
  }

  /** Stops the timer; waits for a round in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }
}
