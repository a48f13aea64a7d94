import {
  type ChangeRecord,
  type Checkpoint,
  comparePositions,
  type ShardSource,
  type StartPosition,
} from '@shardline/core';

/** How far an application got in one shard between two readings of its checkpoint. */
export interface ShardProgress {
  /** Records between the previous checkpoint and the current one (checkpointed since). */
  readonly processed: number;
  /** Records after the current checkpoint. */
  readonly behind: number;
  /** Whether reading stopped at `maxPages` (then both counts are lower bounds). */
  readonly capped: boolean;
  /** Age of the oldest record after the checkpoint, in ms (0 when caught up). */
  readonly oldestUnprocessedAgeMs: number;
}

/**
 * Measures a shard's progress from the outside, for `shardline console`: reads the stream once
 * from the previous checkpoint, counting records up to the current checkpoint as processed and
 * those after it as behind, up to `maxPages` pages (GetRecords; nothing is consumed or moved).
 * DynamoDB Streams has no record counter and sequence numbers are not contiguous, so reading is
 * the only exact count. `undefined` for a shard not started yet (`LATEST`, `AT_TIMESTAMP`).
 */
export async function measureShardProgress(
  source: ShardSource,
  shardId: string,
  previous: Checkpoint | undefined,
  current: Checkpoint | undefined,
  maxPages: number,
  signal?: AbortSignal,
): Promise<ShardProgress | undefined> {
  if (current === 'LATEST' || current === 'AT_TIMESTAMP') return undefined;
  const from = startAfter(previous, current);
  if (!from) return { processed: 0, behind: 0, capped: false, oldestUnprocessedAgeMs: 0 };
  const iterator = await source.openShard(shardId, from, signal);
  let processed = 0;
  let behind = 0;
  let oldest: number | undefined;
  for (let pages = 1; ; pages++) {
    const page = await iterator.next(signal);
    for (const record of page.records) {
      if (isCheckpointed(record, current)) processed++;
      else {
        behind++;
        oldest ??= record.approximateCreationTimeMs;
      }
    }
    if (page.shardEnded || page.records.length === 0) {
      return { processed, behind, capped: false, oldestUnprocessedAgeMs: ageOf(oldest) };
    }
    if (pages >= maxPages) {
      return { processed, behind, capped: true, oldestUnprocessedAgeMs: ageOf(oldest) };
    }
  }
}

/** Where to read from: after the previous checkpoint when it is a position, else the current. */
function startAfter(
  previous: Checkpoint | undefined,
  current: Checkpoint | undefined,
): StartPosition | undefined {
  const base = typeof previous === 'object' ? previous : current;
  if (base === 'SHARD_END') return undefined;
  if (base === undefined || base === 'TRIM_HORIZON') return { type: 'TRIM_HORIZON' };
  if (typeof base !== 'object') return undefined;
  return { type: 'AFTER_SEQUENCE_NUMBER', ...base };
}

function isCheckpointed(record: ChangeRecord, current: Checkpoint | undefined): boolean {
  if (current === 'SHARD_END') return true;
  if (typeof current !== 'object') return false;
  return comparePositions(record, current) <= 0;
}

function ageOf(createdMs: number | undefined): number {
  return createdMs === undefined ? 0 : Math.max(0, Date.now() - createdMs);
}
