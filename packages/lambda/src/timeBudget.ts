import { ConfigurationError } from '@shardline/core';
import { DEFAULT_TIMEOUT_MARGIN } from './constants.js';
import type { LambdaTimeContext } from './types.js';

/** When an invocation must stop working and when it must answer, in epoch ms. */
export interface TimeBudget {
  /** No record starts and no retry is scheduled after this (core's `deadline`). */
  readonly deadline: number;
  /** The handler answers at this time even if a call is still running. */
  readonly hardStopAt: number;
  /** The margin used, in ms. */
  readonly marginMs: number;
}

/**
 * The time budget of one invocation, from `context.getRemainingTimeInMillis()`, or `undefined`
 * when there is no Lambda context (a direct call, a replay): then nothing is time-bounded.
 */
export function timeBudget(
  context: LambdaTimeContext | undefined,
  timeoutMarginMs: number | undefined,
  now: number = Date.now(),
): TimeBudget | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  if (typeof remaining !== 'number' || !Number.isFinite(remaining)) return undefined;
  const marginMs =
    timeoutMarginMs ??
    Math.min(
      DEFAULT_TIMEOUT_MARGIN.maxMs,
      Math.max(DEFAULT_TIMEOUT_MARGIN.minMs, remaining * DEFAULT_TIMEOUT_MARGIN.fraction),
    );
  return {
    deadline: now + remaining - marginMs,
    hardStopAt: now + remaining - marginMs / 2,
    marginMs,
  };
}

/** Throws a {@link ConfigurationError} for a margin that is not a finite number ≥ 0. */
export function validateTimeoutMargin(timeoutMarginMs: number | undefined): void {
  if (timeoutMarginMs === undefined) return;
  if (!Number.isFinite(timeoutMarginMs) || timeoutMarginMs < 0) {
    throw new ConfigurationError(
      `timeoutMarginMs must be a number of ms of 0 or more, got ${String(timeoutMarginMs)}; leave it unset for 10% of the remaining time (1 to 10 s).`,
    );
  }
}
