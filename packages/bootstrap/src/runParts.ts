import {
  type BatchProcessor,
  type ChangeRecord,
  LeaseLostError,
  type Logger,
  sharedAbortController,
  sleep,
} from '@shardline/core';
import type {
  BootstrapPartProgress,
  BootstrapProgressUpdate,
  BootstrapRun,
  DynamoDBBootstrapStore,
} from '@shardline/store-dynamodb';
import { BootstrapIncompleteError } from './errors.js';

/** A part this process holds: save progress through it after each delivered page or batch. */
export interface HeldPart {
  readonly progress: BootstrapPartProgress;
  /**
   * Saves the part's progress and renews the claim. Resolves `false` when another process took
   * the part over (this one's claim expired): stop reading it.
   */
  save(update: BootstrapProgressUpdate): Promise<boolean>;
}

/** What {@link runParts} needs. */
export interface RunPartsOptions {
  readonly store: DynamoDBBootstrapStore;
  readonly run: BootstrapRun;
  readonly owner: string;
  readonly claimDurationMs: number;
  /** Parts read at once by this process. */
  readonly concurrency: number;
  /** Reads one part from its saved progress, saving progress through `part.save`. */
  readonly readPart: (part: HeldPart, signal: AbortSignal) => Promise<void>;
  readonly logger: Logger;
  readonly signal: AbortSignal | undefined;
}

/**
 * Reads every part of a bootstrap, sharing them with the other processes that run the same
 * `bootstrapId`: each of `concurrency` slots claims a part nobody holds (or whose holder's claim
 * expired: a dead process), reads it to the end, and claims the next; a slot that finds every
 * unfinished part held elsewhere waits and looks again, so it takes over a dead process's part
 * once its claim expires. Resolves when every part is done; rejects on the first part that
 * fails (the others stop at their next page; progress stays where it was saved).
 */
export async function runParts(options: RunPartsOptions): Promise<void> {
  const { store, run, owner, claimDurationMs } = options;
  // Handed to every slot's scans and to every handler and sink call of its pages at once.
  const stop = sharedAbortController();
  const onAbort = (): void => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const running = new Set<string>();
  const pollMs = Math.max(50, Math.min(5_000, Math.floor(claimDurationMs / 4)));

  const claimNext = async (): Promise<BootstrapPartProgress | 'all-done' | 'none-free'> => {
    const parts = await store.listParts(run);
    if (parts.every((p) => p.done)) return 'all-done';
    const now = Date.now();
    for (const part of parts) {
      if (part.done || running.has(part.partId)) continue;
      const heldElsewhere =
        part.owner !== undefined && part.owner !== owner && (part.claimExpiresAtMs ?? 0) >= now;
      if (heldElsewhere) continue;
      // Taken before the await, so the other slots of this process skip it.
      running.add(part.partId);
      const claimed = await store.claimPart(run.bootstrapId, part.partId, owner, claimDurationMs);
      if (claimed) return claimed;
      running.delete(part.partId);
    }
    return 'none-free';
  };

  // Wakes the slots that wait for a part to come free when a part of this process finishes.
  let partFinished = new AbortController();
  const waitForChange = async (since: AbortSignal): Promise<void> => {
    const wake = AbortSignal.any([since, stop.signal]);
    await sleep(pollMs, wake).catch(() => undefined);
    if (stop.signal.aborted) throw stop.signal.reason;
  };

  const slot = async (): Promise<void> => {
    for (;;) {
      if (stop.signal.aborted) return;
      // Taken before listing: a part that finishes while the listing is under way wakes us.
      const changed = partFinished.signal;
      const next = await claimNext();
      if (next === 'all-done') return;
      if (next === 'none-free') {
        // Every unfinished part is held: by this process's other slots, by a live process, or
        // by a dead one until its claim expires. Look again when one of this process's parts
        // is done (all may be done then), or after a while for the others.
        await waitForChange(changed);
        continue;
      }
      try {
        await options.readPart(holdPart(next), stop.signal);
      } catch (error) {
        // Let another process (or the next run) take the part at once, not after the claim.
        await store.releasePart(run.bootstrapId, next.partId, owner).catch(() => undefined);
        throw error;
      } finally {
        running.delete(next.partId);
        partFinished.abort();
        partFinished = new AbortController();
      }
    }
  };

  const holdPart = (progress: BootstrapPartProgress): HeldPart => ({
    progress,
    save: async (update) => {
      try {
        await store.saveProgress(run.bootstrapId, progress.partId, owner, update, claimDurationMs);
        return true;
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw error;
        options.logger.warn(
          { bootstrapId: run.bootstrapId, partId: progress.partId, owner },
          'bootstrap part taken over by another process (this claim expired); leaving it to that process',
        );
        return false;
      }
    },
  });

  try {
    const slots = Array.from({ length: Math.min(options.concurrency, run.parts) }, () =>
      slot().catch((error: unknown) => {
        if (!stop.signal.aborted) stop.abort(error);
        throw error;
      }),
    );
    const results = await Promise.allSettled(slots);
    // The first failure is what stopped the others: report it, not their aborts.
    const reason = stop.signal.aborted ? stop.signal.reason : undefined;
    if (reason !== undefined) throw reason;
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Delivers one page (or batch) of bootstrap records through the pipeline, and throws unless
 * every record is done (succeeded, filtered, a duplicate, or parked in the failure
 * destination), so the caller saves progress past the page only once nothing of it is lost.
 */
export async function deliverPage(
  processor: BatchProcessor,
  records: readonly ChangeRecord[],
  partId: string,
  signal: AbortSignal,
): Promise<void> {
  if (records.length === 0) return;
  const result = await processor.process(records, { signal });
  if (result.firstNotDone === -1) return;
  const record = records[result.firstNotDone]!;
  const outcome = result.outcomes[result.firstNotDone]!;
  const cause = outcome.status === 'failed' ? outcome.error : undefined;
  throw new BootstrapIncompleteError(
    partId,
    `Bootstrap part ${partId} stopped: ${result.failed + result.blocked} of ${records.length} item(s) of a page were not delivered (first: key ${record.orderingKey}, ${outcome.status}${cause ? `: ${cause.message}` : ''}). Progress stays before this page; fix the sink (or give a failureDestination so failing items are parked) and run the bootstrap again with the same bootstrapId to resume.`,
    cause ? { cause } : {},
  );
}
