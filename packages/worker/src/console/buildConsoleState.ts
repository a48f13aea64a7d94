import { type Lease, ShardGraph, type ShardInfo } from '@shardline/core';
import type { ConsoleHistory } from './ConsoleHistory.js';
import type {
  ConsoleErrorEntry,
  ConsoleParkedRecord,
  ConsoleShard,
  ConsoleState,
  ConsoleWorker,
} from './ConsoleState.js';
import type { LeaseTableSnapshot } from './LeaseTableView.js';

/** What {@link buildConsoleState} combines. */
export interface ConsoleStateInput {
  readonly application: string;
  readonly servedBy: ConsoleState['servedBy'];
  /** The lease table and the streams' lineage. */
  readonly snapshot: LeaseTableSnapshot;
  /** Lag and throughput per shard, sampled by the serving process. */
  readonly history: ConsoleHistory;
  readonly sampleIntervalMs: number;
  /** What the lag figures measure, shown beside the chart. */
  readonly lagMeaning: string;
  /** Records after each shard's checkpoint, by shard id (when the server counts them). */
  readonly recordsBehind?: ReadonlyMap<string, number>;
  readonly parked?: readonly ConsoleParkedRecord[];
  readonly errors?: readonly ConsoleErrorEntry[];
  readonly notes?: readonly string[];
  readonly now?: Date;
}

/**
 * Builds the console's state document from the lease table, the streams' lineage and the
 * serving process's own figures. The worker's console and `shardline console` both serve what
 * this returns, so the page reads one shape whoever serves it. Pure: every input is passed in.
 */
export function buildConsoleState(input: ConsoleStateInput): ConsoleState {
  const { snapshot, history } = input;
  const selfId = input.servedBy.kind === 'worker' ? input.servedBy.workerId : undefined;
  const shards: ConsoleShard[] = [];
  const streams = new Set([...snapshot.shards.keys(), ...snapshot.leases.map((l) => l.streamId)]);
  for (const streamId of [...streams].sort()) {
    const leases = new Map(
      snapshot.leases.filter((l) => l.streamId === streamId).map((l) => [l.shardId, l]),
    );
    for (const { shard, depth, closed } of lineageTree(snapshot.shards.get(streamId), leases)) {
      const lease = leases.get(shard.shardId);
      const latest = history.latest(shard.shardId);
      shards.push({
        streamId,
        shardId: shard.shardId,
        parentShardIds: shard.parentShardIds,
        depth,
        status: closed || lease?.checkpoint === 'SHARD_END' ? 'closed' : 'active',
        finished: lease?.checkpoint === 'SHARD_END',
        leaseKey: lease?.leaseKey ?? null,
        owner: lease?.leaseOwner ?? null,
        checkpoint: lease ? checkpointText(lease.checkpoint) : null,
        lagMs: latest?.lagMs ?? null,
        recordsBehind: input.recordsBehind?.get(shard.shardId) ?? null,
        recordsPerSecond: latest?.recordsPerSecond ?? null,
      });
    }
  }
  return {
    generatedAt: (input.now ?? new Date()).toISOString(),
    application: input.application,
    servedBy: input.servedBy,
    workers: fleetOf(snapshot, selfId),
    shards,
    history: {
      sampleIntervalMs: input.sampleIntervalMs,
      lagMeaning: input.lagMeaning,
      series: history.series(),
    },
    parked: input.parked ?? [],
    errors: [
      ...snapshot.problems.map((message) => ({
        at: (input.now ?? new Date()).toISOString(),
        kind: 'console.read',
        shardId: null,
        message,
      })),
      ...(input.errors ?? []),
    ],
    notes: input.notes ?? [],
  };
}

/** Workers from the coordination item, plus any lease owner without an entry there. */
function fleetOf(snapshot: LeaseTableSnapshot, selfId: string | undefined): ConsoleWorker[] {
  const owned = new Map<string, string[]>();
  for (const lease of snapshot.leases) {
    if (!lease.leaseOwner) continue;
    owned.set(lease.leaseOwner, [...(owned.get(lease.leaseOwner) ?? []), lease.shardId]);
  }
  const ids = new Set([...snapshot.workers.map((w) => w.workerId), ...owned.keys()]);
  if (selfId) ids.add(selfId);
  const entries = new Map(snapshot.workers.map((w) => [w.workerId, w]));
  return [...ids].sort().map((workerId) => ({
    workerId,
    shardIds: (owned.get(workerId) ?? []).sort(),
    publishedLeaseCount: entries.get(workerId)?.leaseCount ?? null,
    heartbeatAgeMs: entries.get(workerId)?.heartbeatAgeMs ?? null,
    self: workerId === selfId,
  }));
}

/**
 * The shards of one stream as a tree, depth first: each child right under its parent (a merged
 * shard under its first parent), roots in core's parents-first order. Leased shards the listing
 * no longer has (trimmed) are placed by the parents their lease records.
 */
function lineageTree(
  listed: readonly ShardInfo[] | undefined,
  leases: ReadonlyMap<string, Lease>,
): { shard: ShardInfo; depth: number; closed: boolean }[] {
  const all = new Map((listed ?? []).map((s) => [s.shardId, s]));
  for (const lease of leases.values()) {
    if (all.has(lease.shardId)) continue;
    all.set(lease.shardId, {
      shardId: lease.shardId,
      parentShardIds: lease.parentShardIds,
      startingSequenceNumber: undefined,
      endingSequenceNumber: undefined,
    });
  }
  const graph = new ShardGraph(all.values());
  const out: { shard: ShardInfo; depth: number; closed: boolean }[] = [];
  const placed = new Set<string>();
  const visit = (shard: ShardInfo, depth: number) => {
    if (placed.has(shard.shardId)) return;
    placed.add(shard.shardId);
    out.push({ shard, depth, closed: graph.isClosed(shard.shardId) });
    for (const child of graph.childrenOf(shard.shardId)) visit(child, depth + 1);
  };
  for (const shard of graph.shards()) {
    if (graph.parentsOf(shard.shardId).length === 0) visit(shard, 0);
  }
  // A cycle (never produced by the services) leaves shards unplaced: list them as roots.
  for (const shard of graph.shards()) visit(shard, 0);
  return out;
}

function checkpointText(checkpoint: Lease['checkpoint']): string {
  if (checkpoint === undefined) return '(none)';
  if (typeof checkpoint === 'string') return checkpoint;
  return checkpoint.subSequenceNumber
    ? `${checkpoint.sequenceNumber}:${checkpoint.subSequenceNumber}`
    : checkpoint.sequenceNumber;
}
