import { setMaxListeners } from 'node:events';

/** A signal's aborted state as a plain field (see {@link watchAbort}). */
export interface AbortFlag {
  readonly aborted: boolean;
}

/** A flag that follows a signal until `stop`; `stop` removes the listener. */
export interface AbortWatch {
  readonly flag: AbortFlag;
  stop(): void;
}

const NEVER_ABORTED: AbortWatch = Object.freeze({
  flag: Object.freeze({ aborted: false }),
  stop: noop,
});

/**
 * Follows `signal`'s aborted state in a plain field, for checks made once per record: the
 * `AbortSignal.aborted` getter costs more than the rest of a no-op record's dispatch. The abort
 * event is delivered synchronously by `abort()`, so the flag is exact while watched. Call `stop`
 * when done, or the listener stays on the signal. A flag already watched elsewhere (a caller's
 * {@link AbortWatch.flag}) is used as it is, with no second listener.
 */
export function watchAbort(signal: AbortSignal | AbortFlag | undefined): AbortWatch {
  if (!signal) return NEVER_ABORTED;
  if (!isAbortSignal(signal)) return { flag: signal, stop: noop };
  const flag = { aborted: signal.aborted };
  if (flag.aborted) return { flag, stop: noop };
  const onAbort = (): void => {
    flag.aborted = true;
  };
  signal.addEventListener('abort', onAbort);
  return { flag, stop: () => signal.removeEventListener('abort', onAbort) };
}

function isAbortSignal(signal: AbortSignal | AbortFlag): signal is AbortSignal {
  return typeof (signal as Partial<AbortSignal>).addEventListener === 'function';
}

function noop(): void {}

/**
 * An abort whose `AbortSignal` is made only when something reads {@link LazyAbort.signal}: a
 * flag that a caller can abort and that `BatchProcessor.process` takes as its `signal`, for a
 * batch that usually ends without anyone waiting on a signal (a synchronous handler in Lambda
 * never reads `context.signal`). Making an `AbortController` and its signal, and listening to
 * it, cost about as much per invocation as dispatching a hundred no-op records.
 *
 * @example
 * const abort = new LazyAbort();
 * const work = processor.process(records, { signal: abort });
 * // at the time limit:
 * abort.abort(new Error('the invocation is about to time out'));
 */
export class LazyAbort implements AbortFlag {
  #aborted = false;
  #reason: unknown;
  #controller: AbortController | undefined;

  /** Whether {@link LazyAbort.abort} was called. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** The signal, made on first read (already aborted, with the reason, if `abort` came first). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = sharedAbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts: the flag at once, and the signal if it was made (or when it is). Idempotent. */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * Listeners a {@link sharedAbortController}'s signal may have before Node warns: far above what a
 * batch holds at once (a request per key in flight, each sink's own concurrency), so a signal
 * that really leaks listeners still gets its warning.
 */
export const SHARED_SIGNAL_MAX_LISTENERS = 1000;

/**
 * An `AbortController` whose signal is handed to many calls at once: every handler, sink write
 * and retry of a batch or a shard. Node warns `MaxListenersExceededWarning: Possible EventTarget
 * memory leak detected` once a signal has more than 10 listeners, and the AWS SDK adds one for
 * the life of each request, so a projection sink writing more than 10 items at once under one
 * signal set the warning off with nothing leaking (each request removes its listener). Its limit
 * is {@link SHARED_SIGNAL_MAX_LISTENERS}.
 */
export function sharedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(SHARED_SIGNAL_MAX_LISTENERS, controller.signal);
  return controller;
}
