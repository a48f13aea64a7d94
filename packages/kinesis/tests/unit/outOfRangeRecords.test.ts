import {
  ConfigurationError,
  EventBus,
  InMemoryMetrics,
  type ShardlineEventMap,
} from '@shardline/core';
import { describe, expect, it } from 'vitest';
import { decodeKinesisRecord, hashKeyOf, KinesisSource } from '../../src/index.js';
import { kplAggregate } from '../helpers/kinesis.js';

const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
const SHARD = 'shardId-000000000001';
const SEQUENCE = '49590338271490256608559692538361571095921575989136588898';
// The shard's range holds exactly the hash of partition key "mine"; "other" hashes elsewhere.
const RANGE = {
  startingHashKey: String(hashKeyOf('mine')),
  endingHashKey: String(hashKeyOf('mine')),
};

/** An aggregate put by an aggregator that, unlike the KPL, did not re-route after a reshard. */
async function misroutedAggregate() {
  const [aggregated] = await kplAggregate([
    { partitionKey: 'mine', data: 'm1' },
    { partitionKey: 'other', data: 'o1' },
    { partitionKey: 'mine', data: 'm2' },
  ]);
  return {
    sequenceNumber: SEQUENCE,
    partitionKey: 'mine',
    data: aggregated!.data,
    approximateArrivalTimeMs: 1_764_000_000_000,
  };
}

function observed() {
  const events = new EventBus();
  const reported: ShardlineEventMap['record.outOfRange'][] = [];
  const warnings: Record<string, unknown>[] = [];
  events.on('record.outOfRange', (e) => reported.push(e));
  const logger = {
    debug() {},
    info() {},
    warn: (fields: Record<string, unknown>) => void warnings.push(fields),
    error() {},
    child: () => logger,
  };
  return { events, metrics: new InMemoryMetrics(), logger, reported, warnings };
}

const text = (r: { data?: Uint8Array | undefined }) => Buffer.from(r.data!).toString();

describe('KPL user records outside the shard hash key range', () => {
  it('delivers them by default, with an event, a metric and a warning for each', async () => {
    // arrange
    const { events, metrics, logger, reported, warnings } = observed();
    // act
    const records = decodeKinesisRecord(await misroutedAggregate(), {
      streamId: STREAM,
      shardId: SHARD,
      hashKeyRange: RANGE,
      events,
      metrics,
      logger,
    });
    // assert: another aggregator's record is a change nobody else delivers
    expect(records.map(text)).toEqual(['m1', 'o1', 'm2']);
    expect(records.map((r) => r.subSequenceNumber)).toEqual([0, 1, 2]);
    expect(reported).toEqual([
      {
        streamId: STREAM,
        shardId: SHARD,
        sequenceNumber: SEQUENCE,
        subSequenceNumber: 1,
        partitionKey: 'other',
        explicitHashKey: undefined,
        hashKey: String(hashKeyOf('other')),
        action: 'delivered',
      },
    ]);
    expect(
      metrics.counter('kpl_user_records_out_of_range_total', {
        stream: STREAM,
        shard: SHARD,
        action: 'delivered',
      }),
    ).toBe(1);
    expect(warnings).toEqual([
      expect.objectContaining({
        shardId: SHARD,
        sequenceNumber: SEQUENCE,
        subSequenceNumber: 1,
        partitionKey: 'other',
      }),
    ]);
  });

  it("skips them with outOfRangeRecordPolicy: 'skip', still reporting each", async () => {
    // arrange
    const { events, metrics, logger, reported } = observed();
    // act
    const records = decodeKinesisRecord(await misroutedAggregate(), {
      streamId: STREAM,
      shardId: SHARD,
      hashKeyRange: RANGE,
      outOfRangeRecordPolicy: 'skip',
      events,
      metrics,
      logger,
    });
    // assert
    expect(records.map(text)).toEqual(['m1', 'm2']);
    expect(records.map((r) => r.subSequenceNumber)).toEqual([0, 2]);
    expect(reported.map((e) => [e.partitionKey, e.action])).toEqual([['other', 'skipped']]);
    expect(
      metrics.counter('kpl_user_records_out_of_range_total', {
        stream: STREAM,
        shard: SHARD,
        action: 'skipped',
      }),
    ).toBe(1);
  });

  it('checks nothing, and reports nothing, when the shard range is not known', async () => {
    // arrange
    const { events, metrics, reported } = observed();
    // act
    const records = decodeKinesisRecord(await misroutedAggregate(), {
      streamId: STREAM,
      shardId: SHARD,
      outOfRangeRecordPolicy: 'skip',
      events,
      metrics,
    });
    // assert
    expect(records).toHaveLength(3);
    expect(reported).toEqual([]);
  });

  it('names a bad policy in its error', () => {
    expect(
      () =>
        new KinesisSource({
          client: {} as never,
          streamName: 'orders',
          outOfRangeRecordPolicy: 'drop' as never,
        }),
    ).toThrow(ConfigurationError);
    expect(
      () =>
        new KinesisSource({
          client: {} as never,
          streamName: 'orders',
          outOfRangeRecordPolicy: 'drop' as never,
        }),
    ).toThrow(/outOfRangeRecordPolicy must be 'deliver' or 'skip', got "drop"/);
  });
});
