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
