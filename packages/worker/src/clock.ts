/** A monotonic clock in ms. Lease expiry is judged on it, never on wall-clock time. */
export type MonotonicClock = () => number;

/**
 * `performance.now()`: monotonic, unaffected by NTP steps, so a fleet needs no clock sync (the
 * KCL judges lease expiry the same way, with `System.nanoTime`).
 */
export const monotonicNow: MonotonicClock = () => performance.now();
