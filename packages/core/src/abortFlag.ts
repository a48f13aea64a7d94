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
  stop: () => {},
});

/**
 * Follows `signal`'s aborted state in a plain field, for checks made once per record: the
 * `AbortSignal.aborted` getter costs more than the rest of a no-op record's dispatch. The abort
 * event is delivered synchronously by `abort()`, so the flag is exact while watched. Call `stop`
 * when done, or the listener stays on the signal.
 */
export function watchAbort(signal: AbortSignal | undefined): AbortWatch {
  if (!signal) return NEVER_ABORTED;
  const flag = { aborted: signal.aborted };
  if (flag.aborted) return { flag, stop: () => {} };
  const onAbort = (): void => {
    flag.aborted = true;
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return { flag, stop: () => signal.removeEventListener('abort', onAbort) };
}
