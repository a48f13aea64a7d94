import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type ChangeRecord, ConfigurationError, decodeDynamoDBRecord } from '@shardline/core';
import { makeDynamoDBRecord, streamArnFor } from '@shardline/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  coalesceContributions,
  countBy,
  DynamoDBSummarySink,
  planSummaryUpdates,
  recordPosition,
} from '../../src/index.js';

const mapping = countBy({ attribute: 'vote', counter: 'num' });
const candidates = ['A', 'B', 'C', 'D'] as const;

/** A random batch of vote changes of one shard, in sequence order. */
const batchArbitrary = fc
  .array(
    fc.record({
      before: fc.option(fc.constantFrom(...candidates), { nil: undefined }),
      after: fc.option(fc.constantFrom(...candidates), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((changes) =>
    changes.map((c, i): ChangeRecord => {
      const raw = makeDynamoDBRecord({
        keys: { voter: `v${i}` },
        ...(c.before ? { oldImage: { voter: `v${i}`, vote: c.before } } : {}),
        ...(c.after ? { newImage: { voter: `v${i}`, vote: c.after } } : {}),
        ...(c.before === undefined && c.after === undefined
          ? { newImage: { voter: `v${i}` } }
          : {}),
        sequenceNumber: String(100_000_000_000_000_000_000n + BigInt(i) * 7n),
      });
      return decodeDynamoDBRecord(raw as never, { streamId: streamArnFor(), shardId: 'shard-1' });
    }),
  );

describe('coalescing', () => {
  it('plans one update per distinct summary item, carrying the net deltas', () => {
    fc.assert(
      fc.property(batchArbitrary, (records) => {
        // arrange
        const expected = new Map<string, number>();
        const touched = new Set<string>();
        for (const record of records) {
          for (const delta of mapping.deltas(record)) {
            const vote = delta.key.vote as string;
            touched.add(vote);
            expected.set(vote, (expected.get(vote) ?? 0) + delta.add.num!);
          }
        }
        // act
        const plan = planSummaryUpdates(records, { mapping, watermarkPrefix: '_wm:' });
        const updates = [...plan.items.values()].map((item) => ({
          vote: item.key.vote!.S!,
          update: coalesceContributions(item.contributions),
          positions: item.contributions.map((c) => c.position),
        }));
        // assert
        expect(updates.map((u) => u.vote).sort()).toEqual([...touched].sort());
        for (const { vote, update, positions } of updates) {
          expect(update.add.get('num') ?? 0).toBe(expected.get(vote));
          const [range] = [...update.watermarks.values()];
          expect(update.watermarks.size).toBe(1);
          expect(range!.first).toBe([...positions].sort()[0]);
          expect(range!.last).toBe([...positions].sort().at(-1));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the watermark range of an item whose deltas cancel out', () => {
    // arrange
    const contributions = [
      {
        index: 0,
        position: '01',
        sequenceNumber: '1',
        watermarkAttribute: 'w',
        createdAtMs: 1,
        add: { num: 1 },
      },
      {
        index: 1,
        position: '02',
        sequenceNumber: '2',
        watermarkAttribute: 'w',
        createdAtMs: 2,
        add: { num: -1 },
      },
    ];
    // act
    const update = coalesceContributions(contributions);
    // assert
    expect(update.add.size).toBe(0);
    expect(update.watermarks.get('w')).toEqual({ first: '01', last: '02', lastCreatedAtMs: 2 });
  });

  it('pads positions so string order is numeric order, sub-sequences after their record', () => {
    // arrange
    const positions = [
      recordPosition({ sequenceNumber: '99', subSequenceNumber: undefined }),
      recordPosition({ sequenceNumber: '100', subSequenceNumber: undefined }),
      recordPosition({ sequenceNumber: '100', subSequenceNumber: 0 }),
      recordPosition({ sequenceNumber: '100', subSequenceNumber: 12 }),
      recordPosition({ sequenceNumber: '1000', subSequenceNumber: undefined }),
    ];
    // act
    const sorted = [...positions].sort();
    // assert
    expect(sorted).toEqual(positions);
  });

  it('fails a record whose mapping throws, and only that record', () => {
    // arrange
    const [good, bad] = fc.sample(
      batchArbitrary.filter((b) => b.length >= 2),
      { numRuns: 1, seed: 1 },
    )[0]!;
    const throwing = {
      deltas: (r: ChangeRecord) => (r === bad ? JSON.parse('{') : mapping.deltas(r)),
    };
    // act
    const plan = planSummaryUpdates([good!, bad!], { mapping: throwing, watermarkPrefix: '_wm:' });
    // assert
    expect([...plan.failures.keys()]).toEqual([1]);
    expect(plan.failures.get(1)!.retriable).toBe(false);
  });
});

describe('DynamoDBSummarySink options', () => {
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });

  it('rejects a KEYS_ONLY or NEW_IMAGE stream at start when the view type is given', () => {
    // arrange
    const build = (streamViewType: 'KEYS_ONLY' | 'NEW_IMAGE') => () =>
      new DynamoDBSummarySink({ client, tableName: 'Summary', deltas: mapping, streamViewType });
    // act / assert
    expect(build('KEYS_ONLY')).toThrow(ConfigurationError);
    expect(build('NEW_IMAGE')).toThrow(
      /needs stream view NEW_AND_OLD_IMAGES, but streamViewType is NEW_IMAGE/,
    );
  });

  it('names the bad value of a numeric option', () => {
    // arrange
    const build = () =>
      new DynamoDBSummarySink({ client, tableName: 'Summary', deltas: mapping, concurrency: 0 });
    // act / assert
    expect(build).toThrow(/concurrency must be a whole number of at least 1, got 0/);
  });
});
