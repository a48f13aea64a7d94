/**
 * Guarantees over a multi-shard DynamoDB stream with rollovers and a split while votes are
 * written: the real DynamoDB Streams source reads every shard, parents before children, several
 * shards at once, with pages delivered twice (redelivery); the vote recipe's summary sink (the
 * ledger) must end equal to a Scan of the Votes table, and every change must be read once, per
 * key in stream order.
 */
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { ChangeRecord } from '@shardline/core';
import { canonicalKey, readyShards } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import {
  countVotesByScan,
  createVoteSummarySink,
  createVoteTables,
  readSummary,
} from '@shardline/example-vote-aggregation';
import {
  type DynamoDBLocalServer,
  type MultiShardStreamsServer,
  startDynamoDBLocal,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let ddb: DynamoDBLocalServer;
let server: MultiShardStreamsServer;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  await createVoteTables(dynamodb, { votesTable: 'Votes', summaryTable: 'VoteSummary' });
  const table = await dynamodb.send(new DescribeTableCommand({ TableName: 'Votes' }));
  server = await startMultiShardStreamsServer({
    source: ddb.clientConfig,
    sourceStreamArn: table.Table?.LatestStreamArn ?? '',
    shardCount: 4,
    seed: 11,
  });
  streams = new DynamoDBStreamsClient(server.clientConfig);
}, 60_000);

afterAll(async () => {
  streams?.destroy();
  dynamodb?.destroy();
  await server?.close();
  await ddb?.stop();
});

describe('vote summary over a multi-shard stream with rollovers and a split', () => {
  it('reads every change once, per key in order, and the summary equals a Scan', async () => {
    // arrange: three rounds of votes, a rollover of every shard and a split between rounds
    const ops = fc.sample(
      fc.record({
        user: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 39 })),
        vote: fc.constantFrom<string | null>('A', 'B', 'C', null),
      }),
      { numRuns: 180, seed: 77 },
    );
    let writes = 0;
    for (let round = 0; round < 3; round++) {
      for (const op of ops.slice(round * 60, round * 60 + 60)) {
        const key = { UserID: { S: `user-${op.user}` } };
        if (op.vote === null) {
          await dynamodb.send(new DeleteItemCommand({ TableName: 'Votes', Key: key }));
        } else {
          await dynamodb.send(
            new PutItemCommand({
              TableName: 'Votes',
              Item: { ...key, vote: { S: op.vote }, n: { N: String(writes) } },
            }),
          );
        }
        writes++;
      }
      await server.sync();
      if (round === 0) server.rollover();
      if (round === 1) {
        const open = server.shards().find((s) => s.endingSequenceNumber === undefined)!;
        server.split(open.shardId);
      }
    }
    await server.sync();
    const expectedChanges = server.shards().reduce((n, s) => n + s.recordCount, 0);
    const source = new DynamoDBStreamsSource({ client: streams, streamArn: server.streamArn });
    const sink = createVoteSummarySink({ client: dynamodb, summaryTable: 'VoteSummary' });
    const finished = new Set<string>();
    const started = new Set<string>();
    const seen = new Set<string>();
    const lastByKey = new Map<string, bigint>();
    const outOfOrder: string[] = [];
    let redelivered = 0;

    const readShard = async (shardId: string): Promise<void> => {
      const iterator = await source.openShard(shardId, { type: 'TRIM_HORIZON' });
      for (;;) {
        const page = await iterator.next();
        check(page.records);
        const results = await sink.write(page.records, { attempt: 1 });
        expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
        if (page.records.length > 0 && redelivered++ % 3 === 0) {
          await sink.write(page.records, { attempt: 2 }); // a redelivery of the same page
        }
        if (page.shardEnded) break;
        if (page.records.length === 0) return; // an open shard, read to its end for now
      }
      finished.add(shardId);
    };
    const check = (records: readonly ChangeRecord[]) => {
      for (const record of records) {
        seen.add(record.eventId);
        const key = canonicalKey(record.marshalledKeys!);
        const sequence = BigInt(record.sequenceNumber);
        if ((lastByKey.get(key) ?? -1n) >= sequence) outOfOrder.push(`${key}@${sequence}`);
        lastByKey.set(key, sequence);
      }
    };

    // act: read ready shards concurrently, parents before children, until none is left
    for (;;) {
      const shards = await source.listShards();
      const ready = readyShards(shards, (id) => finished.has(id)).filter(
        (s) => !started.has(s.shardId),
      );
      if (ready.length === 0) break;
      for (const s of ready) started.add(s.shardId);
      await Promise.all(ready.map((s) => readShard(s.shardId)));
    }

    // assert
    expect(server.shards().length).toBe(4 + 4 + 2);
    expect(seen.size).toBe(expectedChanges);
    expect(expectedChanges).toBeGreaterThan(150);
    expect(outOfOrder).toEqual([]);
    expect(redelivered).toBeGreaterThan(0);
    expect(await readSummary(dynamodb, 'VoteSummary')).toEqual(
      await countVotesByScan(dynamodb, 'Votes'),
    );
  });
});
