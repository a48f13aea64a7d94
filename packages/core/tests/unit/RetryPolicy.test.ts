import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  DecodeError,
  isRetriable,
  RetryPolicy,
  ShardlineError,
} from '../../src/index.js';

describe('RetryPolicy', () => {
  it('draws a full-jitter delay under an exponential ceiling capped at maxDelayMs', () => {
    const top = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    const bottom = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    expect([1, 2, 3, 4, 5].map((a) => top.delayMs(a))).toEqual([99, 199, 399, 799, 999]);
    expect(bottom.delayMs(3)).toBe(0);
  });

  it('stops at maxAttempts, on non-retriable errors, and past the record age limit', () => {
    const policy = new RetryPolicy({ maxAttempts: 3, maxRecordAgeMs: 60_000 });
    const transient = new Error('socket hang up');
    expect(policy.shouldRetry(transient, 1)).toBe(true);
    expect(policy.shouldRetry(transient, 3)).toBe(false);
    expect(policy.shouldRetry(new DecodeError('bad', {}), 1)).toBe(false);
    expect(policy.shouldRetry(transient, 1, 0, 60_001)).toBe(false);
    expect(policy.shouldRetry(transient, 1, 1, 60_001)).toBe(true);
  });

  it('parks by default only when a failure destination exists', () => {
    expect(new RetryPolicy().exhaustedAction(true)).toBe('park');
    expect(new RetryPolicy().exhaustedAction(false)).toBe('block');
    expect(new RetryPolicy({ onExhausted: 'block' }).exhaustedAction(true)).toBe('block');
  });

  it('untilStopped retries every retriable error however many attempts, within its delays', () => {
    // arrange
    const policy = RetryPolicy.untilStopped(250, 10_000);
    const throttled = new ShardlineError('throttled', { retriable: true });
    // act
    const delays = [1, 2, 10, 1_000_000].map((a) => policy.delayMs(a));
    // assert
    expect(policy.shouldRetry(throttled, 1_000_000)).toBe(true);
    expect(policy.shouldRetry(new DecodeError('bad', {}), 1)).toBe(false);
    expect(delays.every((d) => d >= 0 && d < 10_000)).toBe(true);
    expect(RetryPolicy.untilStopped(500, 100).baseDelayMs).toBe(100);
  });

  it('rejects bad options with the value and the fix', () => {
    expect(() => new RetryPolicy({ maxAttempts: 0 })).toThrow(ConfigurationError);
    expect(() => new RetryPolicy({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(
      /baseDelayMs=10, maxDelayMs=5/,
    );
    expect(() => new RetryPolicy({ maxRecordAgeMs: 0 })).toThrow(/leave it unset/);
  });
});

describe('isRetriable', () => {
  it('reads the retriable flag, SDK fault markers, and defaults to retriable', () => {
    expect(isRetriable(new ShardlineError('x', { retriable: true }))).toBe(true);
    expect(isRetriable(new ShardlineError('x'))).toBe(false);
    expect(isRetriable({ $retryable: { throttling: true } })).toBe(true);
    expect(isRetriable({ $fault: 'client' })).toBe(false);
    expect(isRetriable({ $fault: 'server' })).toBe(true);
    expect(isRetriable(new Error('anything'))).toBe(true);
  });
});
