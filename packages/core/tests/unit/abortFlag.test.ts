import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { KeyedDispatcher, SUCCEEDED, watchAbort } from '../../src/index.js';

describe('watchAbort', () => {
  it('follows the signal while watched, and stop removes its listener', () => {
    // arrange
    const controller = new AbortController();
    const watch = watchAbort(controller.signal);
    const listening = getEventListeners(controller.signal, 'abort').length;
    // act
    const before = watch.flag.aborted;
    controller.abort();
    const after = watch.flag.aborted;
    watch.stop();
    // assert
    expect([before, after]).toEqual([false, true]);
    expect(listening).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('uses a flag that a caller already watches as it is, with no second listener', () => {
    // arrange
    const controller = new AbortController();
    const outer = watchAbort(controller.signal);
    // act
    const inner = watchAbort(outer.flag);
    controller.abort();
    // assert
    expect(inner.flag).toBe(outer.flag);
    expect(inner.flag.aborted).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    outer.stop();
  });

  it('lets the dispatcher stop at a watched flag as at the signal itself', async () => {
    // arrange
    const controller = new AbortController();
    const watch = watchAbort(controller.signal);
    const records = ['a', 'b', 'c'].map((key, i) => ({
      orderingKey: key,
      sequenceNumber: String(i),
    }));
    // act
    const outcomes = await new KeyedDispatcher().dispatch(
      records,
      () => {
        controller.abort();
        return SUCCEEDED;
      },
      watch.flag,
    );
    watch.stop();
    // assert
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'blocked', 'blocked']);
  });
});
