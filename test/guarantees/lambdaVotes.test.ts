/**
 * Guarantees of the Lambda runtime as Lambda runs it: the event source mapping emulator reads a
 * 4-shard DynamoDB stream (the multi-shard server fed by DynamoDB Local) that rolls over and
 * splits mid-run, with ParallelizationFactor 10, small batches, each invocation in its own
 * execution environment, and seeded duplicate deliveries, kill -9 mid-batch and timeouts.
 *  1. The vote recipe's real Lambda handler (examples/vote-aggregation/src/lambda.ts, configured
 *     by its environment variables) ends with a summary equal to a Scan of the Votes table.
 *  2. A user handler that logs every change it sees (per key, shard-agnostic) sees, per key,
 *     every change in stream order, repeats only as redeliveries.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  countVotesByScan,
  createVoteTables,
  readSummary,
} from '@shardline/example-vote-aggregation';
import {
  type DynamoDBLocalServer,
  type EventSourceMapping,
  type EventSourceMappingOptions,
  LOCAL_CREDENTIALS,
  type MultiShardStreamsServer,
  startDynamoDBLocal,
  startEventSourceMapping,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPerKeyLog } from './helpers/perKeyLog.js';

const REPO = resolve(import.meta.dirname, '../..');
const VOTE_HANDLER = join(REPO, 'examples/vote-aggregation/src/lambda.ts');
const LOG_HANDLER = join(import.meta.dirname, 'helpers/changeLogHandler.ts');

let ddb: DynamoDBLocalServer;
let server: MultiShardStreamsServer;
let dynamodb: DynamoDBClient;
let work: string;
const mappings: EventSourceMapping[] = [];

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  await createVoteTables(dynamodb, { votesTable: 'Votes', summaryTable: 'VoteSummary' });
  const table = await dynamodb.send(new DescribeTableCommand({ TableName: 'Votes' }));
  server = await startMultiShardStreamsServer({
    source: ddb.clientConfig,
    sourceStreamArn: table.Table?.LatestStreamArn ?? '',
    shardCount: 4,
    seed: 23,
  });
  work = mkdtempSync(join(tmpdir(), 'shardline-lambda-votes-'));
}, 60_000);

afterAll(async () => {
  await Promise.all(mappings.map((m) => m.stop()));
  dynamodb?.destroy();
  await server?.close();
  await ddb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Every change the stream holds, per key in stream order (read straight from every shard). */
async function streamChangesByKey(): Promise<Map<string, string[]>> {
  const streams = new DynamoDBStreamsClient(server.clientConfig);
  const byKey = new Map<string, string[]>();
  try {
    const described = await streams.send(
      new DescribeStreamCommand({ StreamArn: server.streamArn }),
    );
    for (const shard of described.StreamDescription?.Shards ?? []) {
      let iterator = (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: server.streamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      while (iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        for (const record of page.Records ?? []) {
          const key = JSON.stringify(record.dynamodb?.Keys);
          byKey.set(key, [...(byKey.get(key) ?? []), record.dynamodb?.SequenceNumber ?? '']);
        }
        if ((page.Records ?? []).length === 0) break;
        iterator = page.NextShardIterator;
      }
    }
  } finally {
    streams.destroy();
  }
  for (const seqs of byKey.values()) seqs.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return byKey;
}

describe('Lambda handlers under the event source mapping, over a resharding stream', () => {
  it('vote summary equals a Scan, and a logging handler sees every change per key in order', async () => {
    // arrange: two functions on the stream, as two mappings on one table would be
    const changeLog = join(work, 'changes.log');
    writeFileSync(changeLog, '');
    const common: Omit<EventSourceMappingOptions, 'handlerModule' | 'seed'> = {
      source: {
        type: 'dynamodb-streams',
        streamArn: server.streamArn,
        clientConfig: server.clientConfig,
      },
      execArgv: ['--conditions=source'],
      environment: {
        VOTES_TABLE: 'Votes',
        SUMMARY_TABLE: 'VoteSummary',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        CHANGE_LOG: changeLog,
      },
      functionLogs: 'ignore',
      batchSize: 10,
      parallelizationFactor: 10,
      functionResponseTypes: ['ReportBatchItemFailures'],
      maximumConcurrency: 6,
      timeoutMs: 2500,
      duplicateBatchProbability: 0.15,
      killProbability: 0.06,
      killWithinMs: 150,
      timeoutProbability: 0.02,
      pollIntervalMs: 50,
      discoveryIntervalMs: 300,
      retryDelayMs: 20,
    };
    let split = false;
    const votes = await startEventSourceMapping({
      ...common,
      handlerModule: VOTE_HANDLER,
      seed: 5,
      reshards: [
        { afterInvocations: 6, run: () => server.rollover() },
        {
          afterInvocations: 24,
          run: () => {
            const open = server.shards().find((s) => s.endingSequenceNumber === undefined)!;
            server.split(open.shardId);
            split = true;
          },
        },
      ],
    });
    mappings.push(votes);
    const logger = await startEventSourceMapping({
      ...common,
      handlerModule: LOG_HANDLER,
      seed: 9,
    });
    mappings.push(logger);
    const ops = fc.sample(
      fc.record({
        user: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 59 })),
        vote: fc.constantFrom<string | null>('A', 'B', 'C', 'A', 'B', null),
      }),
      { numRuns: 180, seed: 31 },
    );

    // act: votes in three rounds while both mappings run; the reshards land between and within
    for (let round = 0; round < 3; round++) {
      for (const [i, op] of ops.slice(round * 60, round * 60 + 60).entries()) {
        const key = { UserID: { S: `user-${op.user}` } };
        if (op.vote === null)
          await dynamodb.send(new DeleteItemCommand({ TableName: 'Votes', Key: key }));
        else
          await dynamodb.send(
            new PutItemCommand({
              TableName: 'Votes',
              Item: { ...key, vote: { S: op.vote }, n: { N: String(round * 60 + i) } },
            }),
          );
      }
      await server.sync();
      if (round === 1) await votes.drained({ timeoutMs: 40_000 });
    }
    await server.sync();
    await votes.drained({ timeoutMs: 60_000 });
    await logger.drained({ timeoutMs: 60_000 });

    // assert: the faults and reshards happened
    const voteStats = votes.stats();
    const logStats = logger.stats();
    console.log('vote mapping', JSON.stringify(voteStats));
    console.log('log mapping', JSON.stringify(logStats));
    expect(split).toBe(true);
    expect(server.shards().length).toBe(4 + 4 + 2);
    expect(Math.max(...Object.values(voteStats.maxConcurrentByShard))).toBeGreaterThan(1);
    for (const stats of [voteStats, logStats]) {
      expect(stats.kills + stats.timeouts).toBeGreaterThan(0);
      expect(stats.duplicates).toBeGreaterThan(0);
      expect(stats.recordsDiscarded).toBe(0);
    }
    // 1. the summary equals a Scan
    expect(await readSummary(dynamodb, 'VoteSummary')).toEqual(
      await countVotesByScan(dynamodb, 'Votes'),
    );
    // 2. per key, every change in stream order; repeats only as redeliveries
    const expected = await streamChangesByKey();
    const observed = new Map<string, string[]>();
    for (const line of readFileSync(changeLog, 'utf8').split('\n').filter(Boolean)) {
      const [key, seq] = line.split(' ') as [string, string];
      observed.set(key, [...(observed.get(key) ?? []), seq]);
    }
    const total = [...expected.values()].reduce((n, s) => n + s.length, 0);
    expect(total).toBeGreaterThan(150);
    const check = checkPerKeyLog(expected, observed);
    console.log(`per-key log: ${total} changes, ${check.repeats} repeats`);
    expect(check.skipped).toEqual([]);
    expect(check.jumps).toEqual([]);
    expect(check.unknown).toEqual([]);
    expect(check.repeats).toBeGreaterThan(0);
  }, 120_000);
});
