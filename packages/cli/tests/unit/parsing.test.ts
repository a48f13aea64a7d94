import { decodeDynamoDBRecord, type ShardInfo } from '@shardline/core';
import { makeDynamoDBRecord } from '@shardline/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/CliError.js';
import { ExitCode } from '../../src/ExitCode.js';
import { formatChange } from '../../src/formatChange.js';
import { Output } from '../../src/Output.js';
import { matchesFilter, parseRecordFilter } from '../../src/recordFilter.js';
import { shardTree, treePrefix } from '../../src/shardTree.js';
import { parseStreamTarget } from '../../src/streamTarget.js';

const vote = (options: Parameters<typeof makeDynamoDBRecord>[0]) =>
  decodeDynamoDBRecord(makeDynamoDBRecord(options), { streamId: 'arn', shardId: 'shard-1' });

const shard = (shardId: string, parents: string[] = [], closed = false): ShardInfo => ({
  shardId,
  parentShardIds: parents,
  startingSequenceNumber: shardId.replace(/\D/g, '') || '1',
  endingSequenceNumber: closed ? '999' : undefined,
});

describe('parseStreamTarget', () => {
  it.each([
    ['Votes', { kind: 'dynamodb-table', tableName: 'Votes' }],
    [
      'arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/2026-11-23T00:00:00.000',
      { kind: 'dynamodb-stream', tableName: 'Votes' },
    ],
    [
      'arn:aws:kinesis:eu-west-1:123456789012:stream/orders',
      { kind: 'kinesis-stream', streamName: 'orders' },
    ],
  ])('reads %s', (text, expected) => {
    // act
    const target = parseStreamTarget(text);

    // assert
    expect(target).toMatchObject(expected);
  });

  it.each(['arn:aws:dynamodb:us-east-1:123:table/Votes', 'arn:aws:s3:::bucket', 'ab', 'bad name!'])(
    'rejects %s as usage, with the expected shapes',
    (text) => {
      // act
      let error: unknown;
      try {
        parseStreamTarget(text);
      } catch (e) {
        error = e;
      }

      // assert
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(ExitCode.Usage);
      expect((error as CliError).hint).toBeTruthy();
    },
  );
});

describe('record filter', () => {
  it('matches a changed vote under its old and its new value, and not under others', () => {
    // arrange
    const record = vote({
      keys: { UserID: 'u1' },
      oldImage: { UserID: 'u1', vote: 'A' },
      newImage: { UserID: 'u1', vote: 'B' },
    });

    // act
    const results = ['vote=A', 'vote=B', 'vote=C'].map((f) =>
      matchesFilter(record, parseRecordFilter([f], undefined)),
    );

    // assert
    expect(results).toEqual([true, true, false]);
  });

  it('selects events, and needs every condition in one image', () => {
    // arrange
    const removed = vote({ keys: { UserID: 'u2' }, oldImage: { UserID: 'u2', vote: 'A' } });

    // act
    const onlyInserts = parseRecordFilter([], 'insert');
    const both = parseRecordFilter(['vote=A', 'UserID!=u2'], undefined);
    const exists = parseRecordFilter(['vote'], 'remove,modify');

    // assert
    expect(matchesFilter(removed, onlyInserts)).toBe(false);
    expect(matchesFilter(removed, both)).toBe(false);
    expect(matchesFilter(removed, exists)).toBe(true);
  });

  it('rejects unknown events', () => {
    // act / assert
    expect(() => parseRecordFilter([], 'insert,upsert')).toThrow(/unknown event "UPSERT"/);
  });
});

describe('formatChange', () => {
  it('shows a MODIFY as the attributes that changed', () => {
    // arrange
    const output = new Output({
      stdout: { write: () => true },
      stderr: { write: () => true },
      json: false,
      env: {},
    });
    const record = vote({
      keys: { UserID: 'u1' },
      oldImage: { UserID: 'u1', vote: 'A', Date: 'd1' },
      newImage: { UserID: 'u1', vote: 'B', Date: 'd1' },
    });

    // act
    const line = formatChange(record, output);

    // assert
    expect(line).toContain('MODIFY');
    expect(line).toContain('UserID=u1');
    expect(line).toContain('vote: A → B');
    expect(line).not.toContain('Date');
  });
});

describe('shardTree', () => {
  it('draws parents before children, marking closed shards and merges', () => {
    // arrange
    const shards = [
      shard('s3', ['s1'], false),
      shard('s1', [], true),
      shard('s2', ['s1'], true),
      shard('s4', ['s2', 's3']),
    ];

    // act
    const nodes = shardTree(shards);

    // assert
    expect(nodes.map((n) => `${treePrefix(n)}${n.shard.shardId}`)).toEqual([
      's1',
      '├─ s2',
      '│  └─ s4',
      '└─ s3',
    ]);
    expect(nodes.find((n) => n.shard.shardId === 's4')?.otherParentIds).toEqual(['s3']);
    expect(nodes.find((n) => n.shard.shardId === 's3')?.closed).toBe(true);
  });

  it('lists every shard exactly once, each after its listed parents (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 20 }), { maxLength: 20 }), (parents) => {
        // arrange: shard i's parent is some earlier shard (or none)
        const shards = parents.map((p, i) =>
          shard(`s${i + 1}`, i > 0 && p % (i + 1) !== i ? [`s${(p % i) + 1}`] : []),
        );

        // act
        const order = shardTree(shards).map((n) => n.shard.shardId);

        // assert
        expect([...order].sort()).toEqual(shards.map((s) => s.shardId).sort());
        for (const s of shards) {
          for (const parent of s.parentShardIds)
            expect(order.indexOf(parent)).toBeLessThan(order.indexOf(s.shardId));
        }
      }),
    );
  });
});

describe('Output', () => {
  it('writes only JSON on stdout under --json, and colour only on a TTY', () => {
    // arrange
    let plain = '';
    let json = '';
    const human = new Output({
      stdout: { write: (t: string) => (plain += t), isTTY: false },
      stderr: { write: () => true },
      json: false,
      env: {},
    });
    const machine = new Output({
      stdout: { write: (t: string) => (json += t), isTTY: true },
      stderr: { write: () => true },
      json: true,
      env: {},
    });

    // act
    for (const o of [human, machine]) {
      o.result({ n: 1n }, () => o.table([{ a: 'x' }], [{ header: 'A', value: (r) => r.a }]));
      o.line('extra');
    }

    // assert
    expect(plain).toBe('A\nx\nextra\n');
    expect(json).toBe('{"n":"1"}\n');
    expect(human.paint('red', 'x')).toBe('x');
  });
});
