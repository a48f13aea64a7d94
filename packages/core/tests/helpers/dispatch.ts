import type { RecordOutcome } from '../../src/index.js';

/** A `failed` outcome (one attempt), as a runner returns for a record that stays failed. */
export const failed = (): RecordOutcome => ({
  status: 'failed',
  error: new Error('boom'),
  attempts: 1,
});

/** Resolves after `n` turns of the event loop (no timers): how long an async record stays in flight. */
export async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}
