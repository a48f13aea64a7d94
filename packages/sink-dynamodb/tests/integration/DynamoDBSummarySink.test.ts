import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  BatchProcessor,
  type ChangeRecord,
  ConfigurationError,
  decodeDynamoDBRecord,
} from '@shardline/core';
import {
  type DynamoDBLocalServer,
  makeDynamoDBRecord,
  startDynamoDBLocal,
  startFaultProxy,
  streamArnFor,
} from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBy, DynamoDBSummarySink } from '../../src/index.js';
import { deliverWithReplays, deliveryStepsArbitrary } from '../helpers/deliver.js';
import {
  applyVotes,
  countUpdates,
  createSummaryTable,
  createVotesTable,
  readStream,
  readSummary,
  tallyVotes,
  type VoteOp,
} from '../helpers/votes.js';

const byVote = countBy({ attribute: 'vote', counter: 'num' });

describe('DynamoDBSummarySink on DynamoDB Local', () => {
  let server: DynamoDBLocalServer;
  let client: DynamoDBClient;
  let streams: DynamoDBStreamsClient;
  let records: ChangeRecord[];
  let tables = 0;

  const freshSummaryTable = async (): Promise<string> => {
    const name = `VoteSummary${++tables}`;
    await createSummaryTable(client, name);
    return name;
  };

  beforeAll(async () => {
    server = await startDynamoDBLocal();
    client = new DynamoDBClient(server.clientConfig);
    streams = new DynamoDBStreamsClient(server.clientConfig);
    const streamArn = await createVotesTable(client);
    // Random votes, changed votes and withdrawn votes by 12 voters over 3 candidates.
    const ops = fc.sample(
      fc.record({
        voter: fc.integer({ min: 0, max: 11 }),
        vote: fc.constantFrom<string | null>('A', 'B', 'C', null),
      }),
      { numRuns: 70, seed: 4242 },
    ) as VoteOp[];
    await applyVotes(client, ops);
    records = await readStream(streams, streamArn);
  });

  afterAll(async () => {
    client?.destroy();
    streams?.destroy();
    await server?.stop();
  });

  it('reads a stream with inserts, changed votes and deletes (the fixture is what it claims)', () => {
    // arrange / act
    const kinds = new Set(records.map((r) => r.eventName));
    // assert
    expect(records.length).toBeGreaterThan(30);
    expect(kinds).toEqual(new Set(['INSERT', 'MODIFY', 'REMOVE']));
    expect(
      records.some((r) => r.oldImage?.vote !== r.newImage?.vote && r.eventName === 'MODIFY'),
    ).toBe(true);
  });

  it('ends equal to the tally of the Votes table under any replay and redelivery schedule', async () => {
    // arrange
    const expected = await tallyVotes(client);
    await fc.assert(
      fc.asyncProperty(deliveryStepsArbitrary, async (steps) => {
        const tableName = await freshSummaryTable();
        const sink = new DynamoDBSummarySink({ client, tableName, deltas: byVote });
        // act
        await deliverWithReplays(records, sink, steps);
        // assert
        expect(await readSummary(client, tableName)).toEqual(expected);
      }),
      { numRuns: 8, seed: 7 },
    );
  });

  it('sends one UpdateItem per distinct summary item of a batch', async () => {
    // arrange
    const tableName = await freshSummaryTable();
    const counting = new DynamoDBClient(server.clientConfig);
    const updates = countUpdates(counting);
    const sink = new DynamoDBSummarySink({ client: counting, tableName, deltas: byVote });
    // act
    const result = await new BatchProcessor({ sink }).process(records);
    // assert
    const items = (await readSummaryItems(tableName)).length;
    expect(result.succeeded).toBe(records.length);
    expect(items).toBeLessThanOrEqual(3);
    expect(updates.count).toBe(items);
    expect(await readSummary(client, tableName)).toEqual(await tallyVotes(client));
    counting.destroy();
  });

  it('counts nothing twice when the same batch is written again, at one request per item', async () => {
    // arrange
    const tableName = await freshSummaryTable();
    const counting = new DynamoDBClient(server.clientConfig);
    const updates = countUpdates(counting);
    const sink = new DynamoDBSummarySink({ client: counting, tableName, deltas: byVote });
    await sink.write(records, { attempt: 1 });
    const before = await readSummary(client, tableName);
    updates.reset();
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(await readSummary(client, tableName)).toEqual(before);
    expect(updates.count).toBe((await readSummaryItems(tableName)).length);
    counting.destroy();
  });

  it('moves the watermark even when a batch nets to zero, so a later partial replay adds nothing', async () => {
    // arrange
    const tableName = await freshSummaryTable();
    const sink = new DynamoDBSummarySink({ client, tableName, deltas: byVote });
    const insert = insertVote('v1', 'A');
    const toB = changeVote('v1', 'A', 'B');
    const backToA = changeVote('v1', 'B', 'A');
    await sink.write([insert], { attempt: 1 });
    await sink.write([toB, backToA], { attempt: 1 });
    // act: redelivery that starts at the second record of the zero-net batch
    const results = await sink.write([backToA], { attempt: 1 });
    // assert
    expect(results[0]!.status).toBe('ok');
    expect(await readSummary(client, tableName)).toEqual({ A: 1 });
  });

  it('holds back later changes of an item whose earlier change failed, until it lands', async () => {
    // arrange
    const tableName = await freshSummaryTable();
    const sink = new DynamoDBSummarySink({ client, tableName, deltas: byVote });
    const [first, second] = [insertVote('v1', 'A'), insertVote('v2', 'A')];
    // A string where the counter should be makes ADD fail for item A.
    await client.send(
      new PutItemCommand({ TableName: tableName, Item: { vote: { S: 'A' }, num: { S: 'x' } } }),
    );
    const failed = await sink.write([first], { attempt: 1 });
    // act
    const held = await sink.write([second], { attempt: 1 });
    await client.send(new PutItemCommand({ TableName: tableName, Item: { vote: { S: 'A' } } }));
    const retried = await sink.write([first], { attempt: 2 });
    const released = await sink.write([second], { attempt: 2 });
    // assert
    expect(failed[0]).toMatchObject({ status: 'failed', retriable: false });
    expect(held[0]).toMatchObject({ status: 'failed', retriable: true });
    expect((held[0] as { error: Error }).error.name).toBe('BlockedByEarlierFailureError');
    expect(retried[0]!.status).toBe('ok');
    expect(released[0]!.status).toBe('ok');
    expect(await readSummary(client, tableName)).toEqual({ A: 2 });
  });

  it('removes watermarks of shards whose last change is older than watermarkTtlMs', async () => {
    // arrange
    const tableName = await freshSummaryTable();
    const day = 24 * 3600 * 1000;
    const old = new DynamoDBSummarySink({ client, tableName, deltas: byVote });
    const later = new DynamoDBSummarySink({
      client,
      tableName,
      deltas: byVote,
      watermarkTtlMs: day,
      now: () => Date.now() + 2 * day,
    });
    await old.write([insertVote('v1', 'A', 'shard-old')], { attempt: 1 });
    await later.write([insertVote('v2', 'A', 'shard-new')], { attempt: 1 });
    // act
    await later.write([insertVote('v3', 'A', 'shard-new')], { attempt: 1 });
    // assert
    const item = await client.send(
      new GetItemCommand({ TableName: tableName, Key: { vote: { S: 'A' } }, ConsistentRead: true }),
    );
    const watermarks = Object.keys(item.Item ?? {}).filter((name) => name.startsWith('_wm:'));
    expect(watermarks).toHaveLength(1);
    expect(watermarks[0]).toMatch(/:shard-new$/);
    expect(item.Item?.num?.N).toBe('3');
  });

  it('fails only the item whose re-read failed after a condition check, not the whole batch', async () => {
    // arrange: the condition check fails without the item in the answer, and the GetItem that
    // follows fails too (a 500): only summary item A is affected
    const proxy = await startFaultProxy({ target: server.endpoint, service: 'dynamodb' });
    const proxied = new DynamoDBClient(proxy.clientConfig);
    try {
      const tableName = await freshSummaryTable();
      const sink = new DynamoDBSummarySink({
        client: proxied,
        tableName,
        deltas: byVote,
        concurrency: 1,
      });
      const batch = [insertVote('g1', 'A'), insertVote('g2', 'B')];
      proxy.inject({
        operation: 'UpdateItem',
        fault: { type: 'error', code: 'ConditionalCheckFailedException', status: 400 },
      });
      proxy.inject({ operation: 'GetItem', fault: { type: 'serverError' } });
      // act
      const results = await sink.write(batch, { attempt: 1 });
      const retried = await sink.write([batch[0]!], { attempt: 2 });
      // assert
      expect(proxy.faulted('GetItem')).toBe(1);
      expect(results[0]).toMatchObject({ status: 'failed', retriable: true });
      expect(results[1]).toEqual({ status: 'ok' });
      expect(retried).toEqual([{ status: 'ok' }]);
      expect(await readSummary(client, tableName)).toEqual({ A: 1, B: 1 });
    } finally {
      proxied.destroy();
      await proxy.stop();
    }
  });

  it('reports a stream without the old image as a ConfigurationError at the first record', async () => {
    // arrange
    const streamArn = await createVotesTable(client, 'VotesNewImageOnly', 'NEW_IMAGE');
    await applyVotes(client, [{ voter: 1, vote: 'A' }], 'VotesNewImageOnly');
    const newImageRecords = await readStream(streams, streamArn);
    const sink = new DynamoDBSummarySink({
      client,
      tableName: await freshSummaryTable(),
      deltas: byVote,
    });
    // act
    const results = await sink.write(newImageRecords, { attempt: 1 });
    // assert
    expect(results[0]).toMatchObject({ status: 'failed', retriable: false });
    const error = (results[0] as { error: Error }).error;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('NEW_IMAGE stream');
    expect(error.message).toContain('NEW_AND_OLD_IMAGES');
  });

  async function readSummaryItems(tableName: string) {
    const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    return page.Items ?? [];
  }
});

let nextSequence = 5_000_000_000_000_000_000n;

/** A decoded MODIFY of a vote from `before` to `after`, at the next sequence number. */
function changeVote(
  voter: string,
  before: string,
  after: string,
  shardId = 'shard-1',
): ChangeRecord {
  nextSequence += 10n;
  return decodeDynamoDBRecord(
    makeDynamoDBRecord({
      keys: { voter },
      oldImage: { voter, vote: before },
      newImage: { voter, vote: after },
      sequenceNumber: nextSequence.toString(),
    }) as never,
    { streamId: streamArnFor('Votes'), shardId },
  );
}

/** A decoded INSERT of a vote, at the next sequence number of `shardId`. */
function insertVote(voter: string, vote: string, shardId = 'shard-1'): ChangeRecord {
  nextSequence += 10n;
  return decodeDynamoDBRecord(
    makeDynamoDBRecord({
      keys: { voter },
      newImage: { voter, vote },
      sequenceNumber: nextSequence.toString(),
      approximateCreationDateTime: Math.floor(Date.now() / 1000),
    }) as never,
    { streamId: streamArnFor('Votes'), shardId },
  );
}
