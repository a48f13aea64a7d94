import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readyShards, ShardGraph, type ShardInfo } from '../../src/index.js';
import { FakeShardSource, HASH_SPACE } from '../helpers/FakeShardSource.js';

function shard(shardId: string, parents: string[] = [], ended = false): ShardInfo {
  return {
    shardId,
    parentShardIds: parents,
    startingSequenceNumber: '1',
    endingSequenceNumber: ended ? '2' : undefined,
  };
}

const finishedIn =
  (...ids: string[]) =>
  (id: string) =>
    ids.includes(id);

describe('ShardGraph', () => {
  it('holds back both children of a split until the parent is finished', () => {
    // arrange
    const shards = [shard('a', [], true), shard('b', ['a']), shard('c', ['a'])];
    // act
    const before = readyShards(shards, finishedIn());
    const after = readyShards(shards, finishedIn('a'));
    // assert
    expect(before.map((s) => s.shardId)).toEqual(['a']);
    expect(after.map((s) => s.shardId)).toEqual(['b', 'c']);
  });

  it('holds back a merged child until both parents are finished', () => {
    // arrange
    const shards = [shard('a', [], true), shard('b', [], true), shard('m', ['a', 'b'])];
    // act
    const oneDone = readyShards(shards, finishedIn('a'));
    const bothDone = readyShards(shards, finishedIn('a', 'b'));
    // assert
    expect(oneDone.map((s) => s.shardId)).toEqual(['b']);
    expect(bothDone.map((s) => s.shardId)).toEqual(['m']);
  });

  it('does not let a parent that aged out of the listing block its child', () => {
    // arrange: 'gone' is no longer listed; 'x' is the surviving merge parent
    const shards = [shard('x', [], true), shard('m', ['gone', 'x'])];
    // act
    const ready = readyShards(shards, finishedIn('x'));
    // assert
    expect(ready.map((s) => s.shardId)).toEqual(['m']);
  });

  it('releases one generation of a rollover chain at a time', () => {
    // arrange
    const shards = [shard('s3', ['s2']), shard('s1', [], true), shard('s2', ['s1'], true)];
    // act
    const steps = [finishedIn(), finishedIn('s1'), finishedIn('s1', 's2')].map((f) =>
      readyShards(shards, f).map((s) => s.shardId),
    );
    // assert
    expect(steps).toEqual([['s1'], ['s2'], ['s3']]);
  });

  it('orders shards parents first and answers lineage questions', () => {
    // arrange
    const graph = new ShardGraph([
      shard('d', ['b', 'c']),
      shard('c', ['a'], true),
      shard('b', ['a'], true),
      shard('a', [], true),
      shard('e'),
    ]);
    // act
    const order = graph.shards().map((s) => s.shardId);
    // assert
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(graph.childrenOf('a').map((s) => s.shardId)).toEqual(['b', 'c']);
    expect(graph.parentsOf('d').map((s) => s.shardId)).toEqual(['b', 'c']);
    expect(graph.ancestorsOf('d').map((s) => s.shardId)).toEqual(['a', 'b', 'c']);
    expect(graph.leaves().map((s) => s.shardId)).toEqual(['d', 'e']);
    expect(graph.isClosed('a')).toBe(true);
    expect(graph.isClosed('e')).toBe(false);
  });

  it('never returns a finished shard or an unlisted one', () => {
    // arrange
    const graph = new ShardGraph([shard('a', [], true), shard('b', ['a'])]);
    // act / assert
    expect(graph.isReady('a', finishedIn('a'))).toBe(false);
    expect(graph.isReady('nope', finishedIn())).toBe(false);
  });

  it('does not loop on a cycle, which the services never produce', () => {
    // arrange
    const graph = new ShardGraph([shard('a', ['b']), shard('b', ['a'])]);
    // act
    const order = graph.shards().map((s) => s.shardId);
    // assert
    expect(order).toEqual(['a', 'b']);
  });
});

type Op =
  | { type: 'write'; key: number }
  | { type: 'split'; pick: number }
  | { type: 'merge'; pick: number }
  | { type: 'rollover'; pick: number }
  | { type: 'ageOut'; count: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ type: fc.constant('write' as const), key: fc.nat(HASH_SPACE - 1) }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('split' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('merge' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('rollover' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('ageOut' as const), count: fc.nat(3) }) },
);

describe('readyShards over many generations (property)', () => {
  it('reads every listed record, each key in write order, whatever the reshard history', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb, { minLength: 1, maxLength: 120 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
        async (initialShards, ops, picks) => {
          // arrange: build a history of splits, merges, rollovers and retention
          const source = new FakeShardSource(initialShards);
          const lost = new Set<number>();
          ops.forEach((op, value) => {
            const open = source.openShards();
            const at = (n: number) => open[n % open.length]!;
            if (op.type === 'write') source.write(op.key % HASH_SPACE, value);
            else if (op.type === 'split') source.split(at(op.pick));
            else if (op.type === 'rollover') source.rollover(at(op.pick));
            else if (op.type === 'merge') {
              const sorted = open.length > 1 ? open : [];
              for (let i = 0; i < sorted.length; i++) {
                if (source.merge(at(op.pick + i), at(op.pick + i + 1))) break;
              }
            } else for (const r of source.ageOut(op.count)) lost.add(r.newImage!.value as number);
          });
          const listed = await source.listShards();
          const written = new Map<string, number[]>();
          for (const info of listed) {
            const it = await source.openShard(info.shardId, { type: 'TRIM_HORIZON' });
            for (let page = await it.next(); ; page = await it.next()) {
              for (const r of page.records) {
                const list = written.get(r.orderingKey) ?? [];
                list.push(r.newImage!.value as number);
                written.set(r.orderingKey, list);
              }
              if (page.shardEnded || page.records.length === 0) break;
            }
          }
          for (const list of written.values()) list.sort((a, b) => a - b);

          // act: drain in any order the lineage allows (picks choose among ready shards)
          const finished = new Set<string>();
          const drained = new Set<string>();
          const seen = new Map<string, number[]>();
          for (let step = 0; ; step++) {
            const ready = readyShards(await source.listShards(), (id) => finished.has(id)).filter(
              (s) => !drained.has(s.shardId),
            );
            if (ready.length === 0) break;
            const chosen = ready[picks[step % picks.length]! % ready.length]!;
            drained.add(chosen.shardId);
            const it = await source.openShard(chosen.shardId, { type: 'TRIM_HORIZON' });
            for (;;) {
              const page = await it.next();
              for (const r of page.records) {
                const list = seen.get(r.orderingKey) ?? [];
                list.push(r.newImage!.value as number);
                seen.set(r.orderingKey, list);
              }
              if (page.shardEnded) {
                finished.add(chosen.shardId);
                break;
              }
              if (page.records.length === 0) break; // an open shard, read up to its tip
            }
          }

          // assert: nothing listed was left behind and every key came out in write order
          expect(new Set(drained)).toEqual(new Set(listed.map((s) => s.shardId)));
          expect(seen).toEqual(written);
          for (const list of seen.values()) {
            for (const value of list) expect(lost.has(value)).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
