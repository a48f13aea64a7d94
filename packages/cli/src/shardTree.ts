import { compareSequenceNumbers, ShardGraph, type ShardInfo } from '@shardline/core';

/** A shard placed in its lineage tree. */
export interface ShardNode {
  readonly shard: ShardInfo;
  /** 0 for a root (its parents are trimmed or it has none). */
  readonly depth: number;
  /** Whether the shard is closed (has an ending sequence number). */
  readonly closed: boolean;
  /** Other parents of a merged shard (it is drawn under its first listed parent). */
  readonly otherParentIds: readonly string[];
  readonly isLastSibling: boolean;
  /** For each ancestor depth, whether that ancestor was the last of its siblings (for drawing). */
  readonly ancestorsLast: readonly boolean[];
}

/**
 * Orders shards as a lineage tree, parents before children, siblings by starting sequence
 * number, so `describe` can draw splits, merges and DynamoDB's 4-hourly rollovers. A shard whose
 * parents have been trimmed from the stream is a root.
 */
export function shardTree(shards: readonly ShardInfo[]): ShardNode[] {
  const graph = new ShardGraph(shards);
  const byId = new Map(shards.map((s) => [s.shardId, s]));
  const children = new Map<string, ShardInfo[]>();
  const roots: ShardInfo[] = [];
  for (const shard of shards) {
    const parent = shard.parentShardIds.find((id) => byId.has(id));
    if (parent === undefined) roots.push(shard);
    else children.set(parent, [...(children.get(parent) ?? []), shard]);
  }
  const order = (a: ShardInfo, b: ShardInfo) =>
    compareSequenceNumbers(a.startingSequenceNumber ?? '0', b.startingSequenceNumber ?? '0') ||
    a.shardId.localeCompare(b.shardId);
  const out: ShardNode[] = [];
  const visit = (shard: ShardInfo, depth: number, isLast: boolean, ancestorsLast: boolean[]) => {
    const placedUnder = shard.parentShardIds.find((id) => byId.has(id));
    out.push({
      shard,
      depth,
      closed: graph.isClosed(shard.shardId),
      otherParentIds: shard.parentShardIds.filter((id) => id !== placedUnder && byId.has(id)),
      isLastSibling: isLast,
      ancestorsLast,
    });
    const kids = (children.get(shard.shardId) ?? []).sort(order);
    kids.forEach((kid, i) => {
      visit(kid, depth + 1, i === kids.length - 1, [...ancestorsLast, isLast]);
    });
  };
  const sortedRoots = roots.sort(order);
  sortedRoots.forEach((root, i) => {
    visit(root, 0, i === sortedRoots.length - 1, []);
  });
  return out;
}

/** The tree prefix of a node (`│  ├─ `), for text output. */
export function treePrefix(node: ShardNode): string {
  if (node.depth === 0) return '';
  let prefix = '';
  // ancestorsLast[0] is the root's own flag, which draws nothing.
  for (let d = 1; d < node.depth; d++) prefix += node.ancestorsLast[d] ? '   ' : '│  ';
  return prefix + (node.isLastSibling ? '└─ ' : '├─ ');
}
