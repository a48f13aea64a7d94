import { describe, expect, it } from 'vitest';
import {
  BatchProcessor,
  type BatchProcessorOptions,
  type ChangeRecord,
  type Checkpoint,
  ConfigurationError,
  decodeDynamoDBRecord,
  EventBus,
  InMemoryFailureDestination,
  InMemoryMetrics,
  ShardConsumer,
  type ShardlineEventMap,
  type ShardSource,
} from '../../src/index.js';
import { ScriptedSink } from '../helpers/memorySinks.js';
import { change, rawStreamRecord } from '../helpers/records.js';

const fastRetry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };
const TTL_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
const streamId =
  'arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/2026-11-23T00:00:00.000';

/** A REMOVE of `key`, made by TTL when `ttl`, else by a user. */
function removal(key: string, sequenceNumber: number, ttl: boolean): ChangeRecord {
  return decodeDynamoDBRecord(
    {
      ...rawStreamRecord({ key, sequenceNumber, eventName: 'REMOVE', oldImage: { id: key } }),
      ...(ttl ? { userIdentity: TTL_IDENTITY } : {}),
    },
    { streamId, shardId: 'shardId-1' },
  );
}

/** A change with explicit images, for global tables cases. */
function modify(
  key: string,
  sequenceNumber: number,
  oldImage: Record<string, unknown>,
  newImage: Record<string, unknown>,
): ChangeRecord {
  return change({ key, sequenceNumber, eventName: 'MODIFY', oldImage, newImage });
}

/** The three ways to give the pipeline its target, each recording what it was given. */
const modes: [string, (seen: ChangeRecord[]) => BatchProcessorOptions][] = [
  ['handler', (seen) => ({ handler: (r) => void seen.push(r) })],
  ['keyBatchHandler', (seen) => ({ keyBatchHandler: (rs) => void seen.push(...rs) })],
  [
    'sink',
    (seen) => ({
      sink: {
        name: 'recording',
        write: async (rs) => {
          seen.push(...rs);
          return rs.map(() => ({ status: 'ok' as const }));
        },
      },
    }),
  ],
];

describe.each(modes)('filters before the %s', (_mode, target) => {
  it('leaves out non-matching records: counted, evented, done, never retried nor parked', async () => {
    // arrange
    const records = [
      change({ key: 'a', sequenceNumber: 1, newImage: { id: 'a', status: 'paid' } }),
      change({ key: 'b', sequenceNumber: 2, newImage: { id: 'b', status: 'open' } }),
      change({ key: 'c', sequenceNumber: 3, newImage: { id: 'c', status: 'paid' } }),
    ];
    const seen: ChangeRecord[] = [];
    const metrics = new InMemoryMetrics();
    const events = new EventBus();
    const filtered: ShardlineEventMap['record.filtered'][] = [];
    events.on('record.filtered', (e) => filtered.push(e));
    const destination = new InMemoryFailureDestination();
    const processor = new BatchProcessor({
      ...target(seen),
      retry: fastRetry,
      failureDestination: destination,
      metrics,
      events,
      filters: { Filters: [{ Pattern: '{"dynamodb":{"NewImage":{"status":{"S":["paid"]}}}}' }] },
    });
    // act
    const result = await processor.process(records);
    // assert
    expect(seen.map((r) => r.keys?.id)).toEqual(['a', 'c']);
    expect(result.outcomes[1]).toEqual({ status: 'filtered', reason: 'filter' });
    expect(result).toMatchObject({ firstNotDone: -1, succeeded: 2, filtered: 1, parked: 0 });
    expect(
      metrics.counter('records_filtered_total', {
        stream: streamId,
        shard: 'shardId-1',
        reason: 'filter',
      }),
    ).toBe(1);
    expect(filtered).toEqual([
      {
        shardId: 'shardId-1',
        sequenceNumber: records[1]!.sequenceNumber,
        orderingKey: records[1]!.orderingKey,
        reason: 'filter',
      },
    ]);
    expect(destination.records).toEqual([]);
  });

  it("skips TTL deletes with ttlDeletes: 'skip' and applies user deletes", async () => {
    // arrange
    const records = [removal('a', 1, true), removal('b', 2, false)];
    const seen: ChangeRecord[] = [];
    const processor = new BatchProcessor({ ...target(seen), ttlDeletes: 'skip' });
    // act
    const result = await processor.process(records);
    // assert
    expect(seen.map((r) => r.keys?.id)).toEqual(['b']);
    expect(result.outcomes[0]).toEqual({ status: 'filtered', reason: 'ttl-delete' });
    expect(result.firstNotDone).toBe(-1);
  });

  it('routes TTL deletes to another sink and the rest to the target', async () => {
    // arrange
    const records = [
      change({ key: 'a', sequenceNumber: 1, newImage: { id: 'a' } }),
      removal('b', 2, true),
      removal('c', 3, false),
    ];
    const seen: ChangeRecord[] = [];
    const archive = new ScriptedSink();
    const processor = new BatchProcessor({ ...target(seen), ttlDeletes: { routeTo: archive } });
    // act
    const result = await processor.process(records);
    // assert
    expect(seen.map((r) => r.keys?.id)).toEqual(['a', 'c']);
    expect(archive.applied).toEqual([records[1]!.sequenceNumber]);
    expect(result).toMatchObject({ firstNotDone: -1, succeeded: 3, filtered: 0 });
  });
});

describe('TTL route failures', () => {
  it('hold the checkpoint like any failure, and a failing route record is parked per the policy', async () => {
    // arrange
    const records = [removal('a', 1, true), removal('b', 2, false)];
    const archive = new ScriptedSink();
    archive.failRecord(records[0]!.sequenceNumber, 100, true);
    const processor = new BatchProcessor({
      handler: () => {},
      retry: { ...fastRetry, onExhausted: 'block' },
      ttlDeletes: { routeTo: archive },
    });
    const parking = new InMemoryFailureDestination();
    const parked = new BatchProcessor({
      handler: () => {},
      retry: fastRetry,
      failureDestination: parking,
      ttlDeletes: { routeTo: archive },
    });
    // act
    const held = await processor.process(records);
    const moved = await parked.process(records);
    // assert
    expect(held.firstNotDone).toBe(0);
    expect(held.outcomes[0]!.status).toBe('failed');
    expect(held.outcomes[1]!.status).toBe('succeeded');
    expect(moved.firstNotDone).toBe(-1);
    expect(parking.records.map((f) => f.sequenceNumber)).toEqual([records[0]!.sequenceNumber]);
  });

  it('forget reaches the route: a routed delete whose write did not last is written again', async () => {
    // arrange: the route's own deduper remembers the delete once written
    const records = [removal('a', 1, true), removal('b', 2, false)];
    const archive = new ScriptedSink();
    const seen: ChangeRecord[] = [];
    const processor = new BatchProcessor({
      handler: (r) => void seen.push(r),
      ttlDeletes: { routeTo: archive },
    });
    await processor.process(records);
    // act: the writes did not become durable (a buffering sink's flush failed); redelivered
    for (const record of records) processor.forget(record);
    const again = await processor.process(records);
    // assert
    expect(again.duplicates).toBe(0);
    expect(archive.applied).toEqual([records[0]!.sequenceNumber, records[0]!.sequenceNumber]);
    expect(seen.map((r) => r.sequenceNumber)).toEqual([
      records[1]!.sequenceNumber,
      records[1]!.sequenceNumber,
    ]);
  });

  it('rejects a ttlDeletes that is not apply, skip or a routeTo sink', () => {
    expect(() => new BatchProcessor({ handler: () => {}, ttlDeletes: 'archive' as never })).toThrow(
      ConfigurationError,
    );
    expect(
      () => new BatchProcessor({ handler: () => {}, ttlDeletes: { routeTo: {} } as never }),
    ).toThrow(/routeTo: sink/);
  });
});

describe('global tables', () => {
  it('2017.11.29: drops MODIFYs that change only aws:rep:* and strips those attributes', async () => {
    // arrange
    const stamp = (region: string, time: string) => ({
      'aws:rep:updateregion': region,
      'aws:rep:updatetime': time,
      'aws:rep:deleting': false,
    });
    const records = [
      modify('a', 1, { id: 'a', n: 1 }, { id: 'a', n: 2, tags: new Set(['x']) }),
      modify(
        'a',
        2,
        { id: 'a', n: 2, tags: new Set(['x']) },
        { id: 'a', n: 2, tags: new Set(['x']), ...stamp('us-east-1', '1.5') },
      ),
      modify(
        'a',
        3,
        { id: 'a', n: 2, ...stamp('us-east-1', '1.5') },
        { id: 'a', n: 2, ...stamp('us-east-1', '1.5'), 'aws:rep:deleting': true },
      ),
      modify(
        'a',
        4,
        { id: 'a', n: 2, ...stamp('us-east-1', '1.5') },
        { id: 'a', n: 3, ...stamp('eu-west-1', '2.0') },
      ),
    ];
    const seen: ChangeRecord[] = [];
    const processor = new BatchProcessor({
      handler: (r) => void seen.push(r),
      globalTables: { version: '2017.11.29' },
    });
    // act
    const result = await processor.process(records);
    // assert
    expect(result.outcomes.map((o) => o.status)).toEqual([
      'succeeded',
      'filtered',
      'filtered',
      'succeeded',
    ]);
    expect(result.outcomes[1]).toEqual({ status: 'filtered', reason: 'replication' });
    expect(seen.map((r) => r.sequenceNumber)).toEqual([
      records[0]!.sequenceNumber,
      records[3]!.sequenceNumber,
    ]);
    expect(seen[1]!.newImage).toEqual({ id: 'a', n: 3 });
    expect(seen[1]!.oldImage).toEqual({ id: 'a', n: 2 });
    expect(seen[1]!.raw).toBe(records[3]!.raw);
  });

  it("2017.11.29 with replicationAttributes: 'expose' keeps aws:rep:* in both images", async () => {
    // arrange
    const record = modify(
      'a',
      1,
      { id: 'a', n: 1, 'aws:rep:updateregion': 'us-east-1' },
      { id: 'a', n: 2, 'aws:rep:updateregion': 'us-east-1' },
    );
    const seen: ChangeRecord[] = [];
    const processor = new BatchProcessor({
      handler: (r) => void seen.push(r),
      globalTables: { version: '2017.11.29', replicationAttributes: 'expose' },
    });
    // act
    await processor.process([record]);
    // assert
    expect(seen[0]!.newImage).toEqual({ id: 'a', n: 2, 'aws:rep:updateregion': 'us-east-1' });
    expect(seen[0]!.oldImage).toEqual({ id: 'a', n: 1, 'aws:rep:updateregion': 'us-east-1' });
  });

  it('onlyOrigin keeps the changes written in one Region (2017: aws:rep:updateregion; 2019: the named attribute; REMOVE: the old image)', async () => {
    // arrange
    const legacy = [
      modify('a', 1, { id: 'a', n: 0 }, { id: 'a', n: 1, 'aws:rep:updateregion': 'us-east-1' }),
      modify('b', 2, { id: 'b', n: 0 }, { id: 'b', n: 1, 'aws:rep:updateregion': 'eu-west-1' }),
    ];
    const current = [
      change({ key: 'a', sequenceNumber: 3, newImage: { id: 'a', writtenIn: 'eu-west-1' } }),
      change({ key: 'b', sequenceNumber: 4, newImage: { id: 'b', writtenIn: 'us-east-1' } }),
      change({
        key: 'c',
        sequenceNumber: 5,
        eventName: 'REMOVE',
        oldImage: { id: 'c', writtenIn: 'eu-west-1' },
      }),
      change({ key: 'd', sequenceNumber: 6, newImage: { id: 'd' } }),
    ];
    const seen2017: string[] = [];
    const seen2019: string[] = [];
    const seenStrict: string[] = [];
    const p2017 = new BatchProcessor({
      handler: (r) => void seen2017.push(String(r.keys?.id)),
      globalTables: { version: '2017.11.29', onlyOrigin: { region: 'eu-west-1' } },
    });
    const p2019 = new BatchProcessor({
      handler: (r) => void seen2019.push(String(r.keys?.id)),
      globalTables: {
        version: '2019.11.21',
        onlyOrigin: { region: 'eu-west-1', attribute: 'writtenIn' },
      },
    });
    const strict = new BatchProcessor({
      handler: (r) => void seenStrict.push(String(r.keys?.id)),
      globalTables: {
        version: '2019.11.21',
        onlyOrigin: { region: 'eu-west-1', attribute: 'writtenIn', unstamped: 'skip' },
      },
    });
    // act
    const r2017 = await p2017.process(legacy);
    const r2019 = await p2019.process(current);
    await strict.process(current);
    // assert
    expect(seen2017).toEqual(['b']);
    expect(r2017.outcomes[0]).toEqual({ status: 'filtered', reason: 'other-region' });
    expect(seen2019).toEqual(['a', 'c', 'd']);
    expect(r2019.firstNotDone).toBe(-1);
    expect(seenStrict).toEqual(['a', 'c']);
  });

  it('needs the origin attribute for 2019.11.21 and no aws:rep option there', () => {
    expect(
      () =>
        new BatchProcessor({
          handler: () => {},
          globalTables: { version: '2019.11.21', onlyOrigin: { region: 'us-east-1' } },
        }),
    ).toThrow(/attribute is required for version 2019.11.21/);
    expect(
      () =>
        new BatchProcessor({
          handler: () => {},
          globalTables: { version: '2019.11.21', replicationAttributes: 'strip' },
        }),
    ).toThrow(/2017.11.29 only/);
  });
});

describe('ShardConsumer with filters', () => {
  it('checkpoints past filtered records, also when a page holds only filtered ones', async () => {
    // arrange: page 1 = [kept, filtered], page 2 = [filtered]
    const records = [
      change({ key: 'a', sequenceNumber: 1, newImage: { id: 'a', keep: true } }),
      change({ key: 'b', sequenceNumber: 2, newImage: { id: 'b' } }),
      change({ key: 'c', sequenceNumber: 3, newImage: { id: 'c' } }),
    ];
    const pages = [records.slice(0, 2), records.slice(2)];
    const source: ShardSource = {
      kind: 'dynamodb-streams',
      streamId,
      listShards: async () => [],
      openShard: async () => ({
        next: async () => {
          const page = pages.shift() ?? [];
          return { records: page, millisBehindLatest: 0, shardEnded: pages.length === 0 };
        },
      }),
    };
    const applied: string[] = [];
    const commits: Checkpoint[] = [];
    const consumer = new ShardConsumer({
      source,
      shardId: 'shardId-1',
      from: { type: 'TRIM_HORIZON' },
      minReadIntervalMs: 0,
      processor: new BatchProcessor({
        handler: (r) => {
          if (!r.newImage?.keep) throw new Error('a filtered record reached the handler');
          applied.push(String(r.keys?.id));
        },
        retry: { maxAttempts: 1, onExhausted: 'block' },
        filters: [{ dynamodb: { NewImage: { keep: { BOOL: [true] } } } }],
      }),
      commit: async (c) => void commits.push(c),
    });
    // act
    const result = await consumer.run();
    // assert
    expect(result.ended).toBe(true);
    expect(applied).toEqual(['a']);
    expect(commits.at(-2)).toEqual(
      expect.objectContaining({ sequenceNumber: records[2]!.sequenceNumber }),
    );
    expect(commits.at(-1)).toBe('SHARD_END');
  });
});
