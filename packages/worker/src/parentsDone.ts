import type { Lease, LeaseStore } from '@shardline/core';

/**
 * Whether a shard's parents are done, so its lease may be taken: every parent's lease holds
 * SHARD_END, or is absent (never created, or deleted after the stream trimmed the shard) — the
 * KCL's rule in `BlockOnParentShardTask`. Children therefore never start before the last record
 * of their parents was processed.
 */
export function parentsDone(
  lease: Lease,
  known: ReadonlyMap<string, Lease>,
  store: Pick<LeaseStore, 'leaseKeyFor'>,
): boolean {
  for (const parentShardId of lease.parentShardIds) {
    const parent = known.get(store.leaseKeyFor(lease.streamId, parentShardId));
    if (parent && parent.checkpoint !== 'SHARD_END') return false;
  }
  return true;
}
