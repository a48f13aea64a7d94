import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  type ChangeRecord,
  ConfigurationError,
  canonicalKey,
  decodeDynamoDBRecord,
} from '@shardline/core';
import {
  type DynamoDBLocalServer,
  makeDynamoDBRecord,
  startDynamoDBLocal,
  streamArnFor,
} from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBy, DynamoDBLedgerSummarySink } from '../../src/index.js';
import { asBootstrap } from '../helpers/projection.js';
import {
  applyVotes,
  createSummaryTable,
  createVotesTable,
  readStream,
  readSummary,
  tallyVotes,
  type VoteOp,
} from '../helpers/votes.js';

const byVote = countBy({ attribute: 'vote', counter: 'num' });

/**
 * What Lambda does to a DynamoDB stream, as far as a sink can see: records without a shard id
 * (Lambda's DynamoDB records carry none), several shards read at once, up to `factor`
 * concurrent invocations per shard (split by key hash), each delivered batch possibly delivered
 * again, redelivery from an earlier point after a "failure", and at the end a replay of some
 * records from a failure destination in random order.
 */
interface Schedule {
  readonly shards: number;
  readonly factor: number;
  readonly batchSize: number;
  readonly seed: number;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The record as the Lambda decoder gives it: no shard id. */
function withoutShard(record: ChangeRecord): ChangeRecord {
  return new Proxy(record, {
    get: (target, property) =>
      property === 'shardId' ? 'unknown' : Reflect.get(target, property, target),
  });
}

async function deliverLikeLambda(
  sink: DynamoDBLedgerSummarySink,
  records: readonly ChangeRecord[],
  schedule: Schedule,
): Promise<void> {
  const random = fc.sample(fc.integer({ min: 0, max: 999 }), {
    seed: schedule.seed,
    numRuns: 4000,
  });
  let r = 0;
  const next = () => random[r++ % random.length]!;
  // No shard id, as the Lambda decoder produces them.
  const unknown = records.map(withoutShard);
  const lanes = new Map<number, ChangeRecord[]>();
  for (const record of unknown) {
    const key = canonicalKey(record.marshalledKeys!);
    const lane =
      (hash(key) % schedule.shards) * schedule.factor + (hash(`pf${key}`) % schedule.factor);
    const list = lanes.get(lane) ?? [];
    list.push(record);
    lanes.set(lane, list);
  }
  const replayLater: ChangeRecord[] = [];
  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      let position = 0;
      while (position < lane.length) {
        const batch = lane.slice(position, position + schedule.batchSize);
        const results = await sink.write(batch, { attempt: 1 });
        expect(results.filter((x) => x.status !== 'ok')).toEqual([]);
        const roll = next();
        if (roll < 200) continue; // delivered again, whole
        if (roll < 350 && position > 0) {
          position = Math.max(0, position - (next() % (schedule.batchSize * 2))); // redelivery
          continue;
        }
        if (roll < 450) replayLater.push(...batch.filter(() => next() < 500));
        position += batch.length;
      }
    }),
  );
  // A failure destination (SQS standard) returns messages in any order.
  const shuffled = replayLater
    .map((record) => ({ record, order: next() }))
    .sort((a, b) => a.order - b.order)
    .map((x) => x.record);
  for (let i = 0; i < shuffled.length; i += 7) {
    await sink.write(shuffled.slice(i, i + 7), { attempt: 1 });
  }
}

describe('DynamoDBLedgerSummarySink on DynamoDB Local', () => {
  let server: DynamoDBLocalServer;
  let client: DynamoDBClient;
  let streams: DynamoDBStreamsClient;
  let records: ChangeRecord[];
  let tables = 0;

  const freshSink = async (): Promise<{ sink: DynamoDBLedgerSummarySink; summary: string }> => {
    const summary = `VoteSummary${++tables}`;
    await createSummaryTable(client, summary);
    await client.send(
      new CreateTableCommand({
        TableName: `${summary}-ledger`,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const sink = new DynamoDBLedgerSummarySink({
      client,
      tableName: summary,
      ledgerTableName: `${summary}-ledger`,
      contributions: byVote,
      streamViewType: 'NEW_AND_OLD_IMAGES',
    });
    return { sink, summary };
  };

  beforeAll(async () => {
    server = await startDynamoDBLocal();
    client = new DynamoDBClient(server.clientConfig);
    streams = new DynamoDBStreamsClient(server.clientConfig);
    const streamArn = await createVotesTable(client);
    // Votes, changed votes and withdrawn votes by 20 voters (a few hot ones) over 3 candidates.
    const ops = fc.sample(
      fc.record({
        voter: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 19 })),
        vote: fc.constantFrom<string | null>('A', 'B', 'C', null),
      }),
      { numRuns: 150, seed: 1111 },
    ) as VoteOp[];
    await applyVotes(client, ops);
    records = await readStream(streams, streamArn);
  });

  afterAll(async () => {
    client?.destroy();
    streams?.destroy();
    await server?.stop();
  });

  it('counts exactly once over many shards, ParallelizationFactor 10, redeliveries and replays in any order, with no shard id', async () => {
    // arrange
    const expected = await tallyVotes(client);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          shards: fc.integer({ min: 1, max: 4 }),
          factor: fc.constantFrom(1, 3, 10),
          batchSize: fc.integer({ min: 1, max: 25 }),
          seed: fc.integer(),
        }),
        async (schedule) => {
          const { sink, summary } = await freshSink();
          // act
          await deliverLikeLambda(sink, records, schedule);
          // assert
          expect(await readSummary(client, summary)).toEqual(expected);
        },
      ),
      { numRuns: 8, seed: 20261202 },
    );
  });

  it('ends at the newest state when one item’s changes arrive newest first (reordering)', async () => {
    // arrange
    const { sink, summary } = await freshSink();
    const reversed = [...records].reverse().map(withoutShard);
    // act
    for (let i = 0; i < reversed.length; i += 10) {
      await sink.write(reversed.slice(i, i + 10), { attempt: 1 });
    }
    // assert: every item's newest change wins; older ones are stale and change nothing
    expect(await readSummary(client, summary)).toEqual(await tallyVotes(client));
  });

  it('a record whose contribution throws fails alone and does not block the item’s later changes', async () => {
    // arrange
    const summary = `VoteSummary${++tables}`;
    await createSummaryTable(client, summary);
    await client.send(
      new CreateTableCommand({
        TableName: `${summary}-ledger`,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const first = records[0]!;
    let broken = true;
    const sink = new DynamoDBLedgerSummarySink({
      client,
      tableName: summary,
      ledgerTableName: `${summary}-ledger`,
      contributions: (image, record) => {
        if (broken && record.sequenceNumber === first.sequenceNumber) throw new Error('bug');
        return byVote.contributions!(image, record);
      },
    });
    // act: the first change fails, the rest go on; after the "fix" the first is retried
    const results = await sink.write([first], { attempt: 1 });
    for (let i = 1; i < records.length; i += 10) {
      await sink.write(records.slice(i, i + 10), { attempt: 1 });
    }
    broken = false;
    await sink.write([first], { attempt: 2 });
    // assert
    expect(results[0]).toMatchObject({ status: 'failed', retriable: false });
    expect(await readSummary(client, summary)).toEqual(await tallyVotes(client));
  });

  it('seeds bootstrap records only where the ledger holds nothing of the item', async () => {
    // arrange
    const { sink, summary } = await freshSink();
    const change = (sequenceNumber: string, voter: string, vote: string | null) =>
      decodeDynamoDBRecord(
        makeDynamoDBRecord({
          keys: { voter },
          ...(vote === null
            ? { eventName: 'REMOVE' as const }
            : { eventName: 'MODIFY' as const, newImage: { voter, vote } }),
          sequenceNumber,
        }) as never,
        { streamId: streamArnFor(), shardId: 'shard-1' },
      );
    const write = async (batch: ChangeRecord[]) =>
      expect((await sink.write(batch, { attempt: 1 })).every((r) => r.status === 'ok')).toBe(true);
    // act: b1 seeded from a Scan; b2 deleted by the stream, then read by a late Scan
    await write([asBootstrap(change('900', 'boot-1', 'A')), change('100', 'boot-2', null)]);
    await write([asBootstrap(change('901', 'boot-2', 'C'))]);
    expect(await readSummary(client, summary)).toEqual({ A: 1 });
    // act: the stream's change of b1 replaces the seed; a second Scan of b1 changes nothing
    await write([change('200', 'boot-1', 'B')]);
    await write([asBootstrap(change('902', 'boot-1', 'A'))]);
    // assert
    expect(await readSummary(client, summary)).toEqual({ B: 1 });
  });

  it('rejects a stream view without the new image at construction', () => {
    expect(
      () =>
        new DynamoDBLedgerSummarySink({
          client,
          tableName: 'VoteSummary',
          ledgerTableName: 'VoteSummary-ledger',
          contributions: byVote,
          streamViewType: 'KEYS_ONLY',
        }),
    ).toThrow(ConfigurationError);
  });
});
