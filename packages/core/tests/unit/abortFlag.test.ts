import { getEventListeners, getMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  BatchProcessor,
  type HandlerContext,
  KeyedDispatcher,
  LazyAbort,
  SHARED_SIGNAL_MAX_LISTENERS,
  SUCCEEDED,
  sharedAbortController,
  watchAbort,
} from '../../src/index.js';
import { batchOf } from '../helpers/records.js';

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

/** A LazyAbort that counts how often its signal is read. */
class CountingAbort extends LazyAbort {
  reads = 0;
  override get signal(): AbortSignal {
    this.reads++;
    return super.signal;
  }
}

describe('LazyAbort', () => {
  it('makes its signal on first read, already aborted with the reason when abort came first', () => {
    // arrange
    const early = new LazyAbort();
    const late = new LazyAbort();
    const reason = new Error('about to time out');
    // act
    early.abort(reason);
    const signal = late.signal;
    late.abort(reason);
    late.abort(new Error('again'));
    // assert
    expect(early.aborted).toBe(true);
    expect(early.signal.aborted).toBe(true);
    expect(early.signal.reason).toBe(reason);
    expect(late.signal).toBe(signal);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });

  it('is not read by a batch whose handler never reads its context signal', async () => {
    // arrange
    const abort = new CountingAbort();
    const processor = new BatchProcessor({ handler: () => {} });
    // act
    const result = await processor.process(batchOf(['a', 'b', 'a', 'c']), { signal: abort });
    // assert
    expect(result.succeeded).toBe(4);
    expect(abort.reads).toBe(0);
  });

  it('hands a handler the signal, aborted when the caller aborts, and starts nothing after', async () => {
    // arrange: the first record waits on its signal; the caller aborts while it waits
    const abort = new LazyAbort();
    const seen: HandlerContext[] = [];
    const processor = new BatchProcessor({
      concurrency: 1,
      retry: { maxAttempts: 1 },
      handler: (_record, context) => {
        seen.push(context);
        const signal = context.signal!;
        return new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      },
    });
    // act
    const work = processor.process(batchOf(['a', 'b', 'c']), { signal: abort });
    await new Promise((resolve) => setTimeout(resolve, 10));
    abort.abort(new Error('about to time out'));
    const result = await work;
    // assert
    expect(seen).toHaveLength(1);
    expect(seen[0]!.signal!.aborted).toBe(true);
    expect(result.outcomes.map((o) => o.status)).toEqual(['failed', 'blocked', 'blocked']);
  });
});

describe('sharedAbortController', () => {
  /** Adds `count` listeners to `signal` and removes them, as concurrent SDK requests do. */
  async function warningsFor(signal: AbortSignal, count: number): Promise<string[]> {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const listeners = Array.from({ length: count }, () => () => {});
    for (const listener of listeners) signal.addEventListener('abort', listener, { once: true });
    for (const listener of listeners) signal.removeEventListener('abort', listener);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on next tick
    process.off('warning', onWarning);
    return warnings;
  }

  it('lets a signal serve more than 10 calls at once without a leak warning', async () => {
    // act
    const shared = await warningsFor(sharedAbortController().signal, 50);
    // assert: a plain signal warns past 10 listeners (not set off here: it would print)
    expect(shared).toEqual([]);
    expect(getMaxListeners(new AbortController().signal)).toBe(10);
    expect(getMaxListeners(sharedAbortController().signal)).toBe(SHARED_SIGNAL_MAX_LISTENERS);
  });

  it('gives LazyAbort a shared signal', () => {
    expect(getMaxListeners(new LazyAbort().signal)).toBe(SHARED_SIGNAL_MAX_LISTENERS);
  });
});
