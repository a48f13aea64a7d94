import type { ShardInfo } from './contracts.js';

/**
 * Whether a shard is finished: it reached SHARD_END and every record of it is done (in the
 * worker, its lease checkpoint is `SHARD_END`).
 */
export type IsShardFinished = (shardId: string) => boolean;

/**
 * The lineage of a stream's shards, as the service lists them: who is whose parent and child.
 * Shared by both sources and the worker so that "which shard may be read now" has one answer.
 *
 * Why: per-key order across a reshard or a DynamoDB shard rollover holds only if a child is read
 * after every record of its parents is done (KCL's `BlockOnParentShardTask`). A parent that is no
 * longer listed (it aged out of retention) cannot be read any more, so it does not block.
 *
 * @example
 * const graph = new ShardGraph(await source.listShards());
 * for (const shard of graph.readyShards((id) => checkpoints.get(id) === 'SHARD_END')) start(shard);
 */
export class ShardGraph {
  readonly #shards = new Map<string, ShardInfo>();
  readonly #children = new Map<string, string[]>();
  readonly #ordered: ShardInfo[];

  constructor(shards: Iterable<ShardInfo>) {
    for (const shard of shards) this.#shards.set(shard.shardId, shard);
    for (const shard of this.#shards.values()) {
      for (const parentId of shard.parentShardIds) {
        if (!this.#shards.has(parentId)) continue;
        let list = this.#children.get(parentId);
        if (!list) {
          list = [];
          this.#children.set(parentId, list);
        }
        list.push(shard.shardId);
      }
    }
    for (const list of this.#children.values()) list.sort();
    this.#ordered = this.#parentsFirst();
  }

  /** How many shards are listed. */
  get size(): number {
    return this.#shards.size;
  }

  /** The listed shard, or `undefined` when the service no longer lists it. */
  get(shardId: string): ShardInfo | undefined {
    return this.#shards.get(shardId);
  }

  /** Whether the service lists the shard. */
  has(shardId: string): boolean {
    return this.#shards.has(shardId);
  }

  /** Every listed shard, parents before children (ties by shard id, which sorts by creation). */
  shards(): ShardInfo[] {
    return [...this.#ordered];
  }

  /** The listed parents of a shard; parents that aged out of retention are left out. */
  parentsOf(shardId: string): ShardInfo[] {
    const shard = this.#shards.get(shardId);
    if (!shard) return [];
    const out: ShardInfo[] = [];
    for (const id of shard.parentShardIds) {
      const parent = this.#shards.get(id);
      if (parent) out.push(parent);
    }
    return out;
  }

  /** The listed children of a shard (two after a split, one after a merge or rollover). */
  childrenOf(shardId: string): ShardInfo[] {
    return (this.#children.get(shardId) ?? []).map((id) => this.#shards.get(id)!);
  }

  /** Whether a shard is closed (it has an ending sequence number, or children). */
  isClosed(shardId: string): boolean {
    const shard = this.#shards.get(shardId);
    if (!shard) return false;
    return shard.endingSequenceNumber !== undefined || this.#children.has(shardId);
  }

  /**
   * Whether a shard may be read now: it is listed, not finished itself, and every listed parent
   * is finished. A parent missing from the listing does not block.
   */
  isReady(shardId: string, isFinished: IsShardFinished): boolean {
    if (!this.#shards.has(shardId) || isFinished(shardId)) return false;
    return this.parentsOf(shardId).every((parent) => isFinished(parent.shardId));
  }

  /** The shards that may be read now (see {@link ShardGraph.isReady}), parents first. */
  readyShards(isFinished: IsShardFinished): ShardInfo[] {
    return this.#ordered.filter((shard) => this.isReady(shard.shardId, isFinished));
  }

  /**
   * The open shards with no children: where a reader that starts at LATEST begins. Their
   * ancestors hold only history that such a reader skips.
   */
  leaves(): ShardInfo[] {
    return this.#ordered.filter((shard) => !this.#children.has(shard.shardId));
  }

  /** Every listed ancestor of a shard (parents, grandparents, …). */
  ancestorsOf(shardId: string): ShardInfo[] {
    const seen = new Set<string>();
    const stack = [shardId];
    while (stack.length > 0) {
      for (const parent of this.parentsOf(stack.pop()!)) {
        if (seen.has(parent.shardId)) continue;
        seen.add(parent.shardId);
        stack.push(parent.shardId);
      }
    }
    return this.#ordered.filter((shard) => seen.has(shard.shardId));
  }

  // Kahn's algorithm; ties broken by shard id so the order is stable across listings. A cycle
  // (never produced by the services) is broken rather than looping: its shards come last.
  #parentsFirst(): ShardInfo[] {
    const pending = new Map<string, number>();
    for (const shard of this.#shards.values()) {
      pending.set(shard.shardId, this.parentsOf(shard.shardId).length);
    }
    const ready = [...pending].filter(([, n]) => n === 0).map(([id]) => id);
    const out: ShardInfo[] = [];
    while (ready.length > 0) {
      ready.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
      const id = ready.pop()!;
      out.push(this.#shards.get(id)!);
      pending.delete(id);
      for (const child of this.#children.get(id) ?? []) {
        const left = (pending.get(child) ?? 0) - 1;
        pending.set(child, left);
        if (left === 0) ready.push(child);
      }
    }
    for (const id of [...pending.keys()].sort()) out.push(this.#shards.get(id)!);
    return out;
  }
}

/**
 * The shards that may be read now: not finished, and every listed parent finished. A thin
 * facade over {@link ShardGraph} for callers that list once and ask once.
 *
 * @example
 * const ready = readyShards(await source.listShards(), (id) => finished.has(id));
 */
export function readyShards(shards: Iterable<ShardInfo>, isFinished: IsShardFinished): ShardInfo[] {
  return new ShardGraph(shards).readyShards(isFinished);
}
