import { afterEach, describe, expect, it, vi } from 'vitest';
import { SampleTimer } from '../../src/index.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('SampleTimer', () => {
  it('skips a round while one is still running, and stop waits for it', async () => {
    // arrange: a sample that stays in flight until released
    vi.useFakeTimers();
    let release: () => void = () => {};
    let started = 0;
    const timer = new SampleTimer({
      sample: () => {
        started++;
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      intervalMs: 100,
      onError: () => {},
    });
    // act: ten intervals pass while the first round runs
    timer.start();
    await vi.advanceTimersByTimeAsync(1000);
    const whileRunning = started;
    let stopped = false;
    const stopping = timer.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    const stoppedBeforeRelease = stopped;
    release();
    await stopping;
    // assert
    expect(whileRunning).toBe(1);
    expect(stoppedBeforeRelease).toBe(false);
    expect(stopped).toBe(true);
  });

  it('runs the next round after a failed one, and reports the failure', async () => {
    // arrange
    vi.useFakeTimers();
    const errors: string[] = [];
    let calls = 0;
    const timer = new SampleTimer({
      sample: async () => {
        calls++;
        if (calls === 1) throw new Error('store unreachable');
      },
      intervalMs: 100,
      onError: (error) => errors.push(error.message),
    });
    // act
    timer.start();
    await vi.advanceTimersByTimeAsync(250);
    await timer.stop();
    // assert
    expect(errors).toEqual(['store unreachable']);
    expect(calls).toBe(3);
  });
});
