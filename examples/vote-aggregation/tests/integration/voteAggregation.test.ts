import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type ChangeRecord, consoleWarningLogger, ShardGraph, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import {
  type DynamoDBLocalServer,
  localClientConfig,
  type SqsDouble,
  startDynamoDBLocal,
  startSqsDouble,
} from '@shardline/testing';
import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countVotesByScan,
  createVoteAggregationWorker,
  createVoteTables,
  ledgerTableFor,
  readSummary,
  sameTally,
  type Tally,
  voteLedgerTableDefinition,
  voteSummaryTableDefinition,
} from '../../src/index.js';

const PACKAGE_DIR = resolve(import.meta.dirname, '../..');
const CHOICES = ['A', 'B', 'C'];
let server: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let sqsDouble: SqsDouble;
let sqs: SQSClient;
let failureQueueUrl: string;

beforeAll(async () => {
  [server, sqsDouble] = await Promise.all([startDynamoDBLocal(), startSqsDouble()]);
  sqs = new SQSClient(localClientConfig(sqsDouble.endpoint));
  failureQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'vote-failures' })))
    .QueueUrl as string;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsDouble.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    // the Lambda handler reads it at cold start, as the Terraform sets it on the function
    FAILURE_QUEUE_URL: failureQueueUrl,
  });
  dynamodb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
  await createVoteTables(dynamodb, { votesTable: 'Votes', summaryTable: 'VoteSummary' });
  await dynamodb.send(new CreateTableCommand(voteSummaryTableDefinition('VoteSummaryLambda')));
  await dynamodb.send(
    new CreateTableCommand(voteLedgerTableDefinition(ledgerTableFor('VoteSummaryLambda'))),
  );
});

afterAll(async () => {
  dynamodb?.destroy();
  streams?.destroy();
  sqs?.destroy();
  await Promise.all([server?.stop(), sqsDouble?.stop()]);
});

/** A random mix of new, changed and withdrawn votes over a few voters (deterministic per seed). */
function randomChanges(seed: number, count: number): { user: string; vote: string | null }[] {
  return fc.sample(
    fc.record({
      user: fc.integer({ min: 0, max: 24 }).map((n) => `user-${n}`),
      vote: fc.oneof(fc.constantFrom(...CHOICES), fc.constant(null)),
    }),
    { seed, numRuns: count },
  );
}

async function apply(changes: { user: string; vote: string | null }[]): Promise<void> {
  for (const { user, vote } of changes) {
    if (vote === null) {
      await dynamodb.send(
        new DeleteItemCommand({ TableName: 'Votes', Key: { UserID: { S: user } } }),
      );
    } else {
      await dynamodb.send(
        new PutItemCommand({
          TableName: 'Votes',
          Item: { UserID: { S: user }, vote: { S: vote }, Date: { S: new Date().toISOString() } },
        }),
      );
    }
  }
}

async function waitForSummary(
  table: string,
  timeoutMs = 40_000,
): Promise<{ summary: Tally; scan: Tally }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const summary = await readSummary(dynamodb, table);
    const scan = await countVotesByScan(dynamodb, 'Votes');
    if (sameTally(summary, scan) || Date.now() > deadline) return { summary, scan };
    await sleep(300);
  }
}

function spawnWorker(env: NodeJS.ProcessEnv) {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'src/worker.ts'],
    { cwd: PACKAGE_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  child.stdout.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, exited, logs: () => logs };
}

describe('vote aggregation, worker entry point', () => {
  it('keeps the summary equal to a scan through inserts, changes and deletes, across a SIGTERM restart', async () => {
    // arrange: votes exist before the worker starts
    await apply(randomChanges(1, 60));
    const env = {
      VOTES_TABLE: 'Votes',
      SUMMARY_TABLE: 'VoteSummary',
      LEASE_TABLE: 'vote-aggregation-leases',
      SHARDLINE_APP: 'vote-aggregation',
      SHARDLINE_LEASE_DURATION_MS: '3000',
      SHARDLINE_COMMIT_INTERVAL_MS: '500',
      SHARDLINE_LOG_LEVEL: 'warn',
    };

    // act 1: the package's `worker` script, as ECS runs it; more votes while it runs; SIGTERM
    const first = spawnWorker(env);
    await apply(randomChanges(2, 60));
    const midway = await waitForSummary('VoteSummary');
    first.child.kill('SIGTERM');
    const code = await first.exited;

    // act 2: votes while no worker runs, then a new worker resumes from the checkpoints
    await apply(randomChanges(3, 60));
    const second = await createVoteAggregationWorker({
      dynamodb,
      streams,
      config: {
        votesTable: 'Votes',
        summaryTable: 'VoteSummary',
        leaseTable: 'vote-aggregation-leases',
        applicationName: 'vote-aggregation',
      },
      worker: {
        leaseDurationMs: 3000,
        commitIntervalMs: 500,
        handleSignals: false,
        logger: consoleWarningLogger(),
      },
    });
    await second.start();
    await apply(randomChanges(4, 40));
    const final = await waitForSummary('VoteSummary');
    await second.stop();

    // assert
    expect(midway.summary, first.logs()).toEqual(midway.scan);
    expect(code, first.logs()).toBe(0);
    expect(final.summary).toEqual(final.scan);
    expect(Object.values(final.scan).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});

/** Every record the Votes stream holds, parents first, as the SDK returned them. */
async function readWholeStream(): Promise<ChangeRecord[]> {
  const source = await DynamoDBStreamsSource.fromTable({
    client: streams,
    dynamodb,
    tableName: 'Votes',
  });
  const out: ChangeRecord[] = [];
  for (const shard of new ShardGraph(await source.listShards()).shards()) {
    const iterator = await source.openShard(shard.shardId, { type: 'TRIM_HORIZON' });
    for (let empty = 0; empty < 2; ) {
      const page = await iterator.next();
      out.push(...page.records);
      if (page.shardEnded) break;
      empty = page.records.length === 0 ? empty + 1 : 0;
    }
  }
  return out;
}

/** A GetRecords record in the shape a Lambda event source mapping delivers it. */
function toLambdaRecord(record: ChangeRecord): DynamoDBRecord {
  const raw = record.raw as DynamoDBRecord & {
    dynamodb: { ApproximateCreationDateTime?: unknown };
  };
  const created: unknown = raw.dynamodb.ApproximateCreationDateTime;
  return {
    ...raw,
    eventSourceARN: record.streamId,
    dynamodb: {
      ...raw.dynamodb,
      ApproximateCreationDateTime:
        created instanceof Date ? Math.floor(created.getTime() / 1000) : (created as number),
    },
  } as DynamoDBRecord;
}

describe('vote aggregation, Lambda entry point', () => {
  it('counts every change exactly once through the ./lambda handler, with batches redelivered', async () => {
    // arrange: the handler module reads SUMMARY_TABLE at cold start
    await apply(randomChanges(5, 80));
    process.env.SUMMARY_TABLE = 'VoteSummaryLambda';
    const { handler } = await import('@shardline/example-vote-aggregation/lambda');
    const records = (await readWholeStream()).map(toLambdaRecord);
    const context = { getRemainingTimeInMillis: () => 60_000 } as never;
    const batches: DynamoDBRecord[][] = [];
    for (let i = 0; i < records.length; i += 25) batches.push(records.slice(i, i + 25));

    // act: each batch once, then Lambda-style retries: whole batches again, and from the middle
    const responses = [];
    for (const batch of batches) responses.push(await handler({ Records: batch }, context));
    for (const batch of batches.slice(0, 3))
      responses.push(await handler({ Records: batch }, context));
    responses.push(await handler({ Records: records.slice(10, 70) }, context));

    // assert
    expect(records.length).toBeGreaterThan(50);
    for (const response of responses) expect(response).toEqual({ batchItemFailures: [] });
    const summary = await readSummary(dynamodb, 'VoteSummaryLambda');
    expect(summary).toEqual(await countVotesByScan(dynamodb, 'Votes'));
  });

  it('parks a record it cannot decode whole in FAILURE_QUEUE_URL and moves on, so the mapping never needs to skip', async () => {
    // arrange: a good record after an undecodable one (an attribute value of no DynamoDB type)
    process.env.SUMMARY_TABLE = 'VoteSummaryLambda';
    const { handler } = await import('@shardline/example-vote-aggregation/lambda');
    const [good] = (await readWholeStream()).map(toLambdaRecord).slice(-1);
    if (!good?.dynamodb) throw new Error('the stream has no record');
    const poison = {
      ...good,
      eventID: 'poison-1',
      eventName: 'INSERT',
      dynamodb: {
        ...good.dynamodb,
        SequenceNumber: '1',
        Keys: { UserID: { S: 'poison' } },
        NewImage: { UserID: { S: 'poison' }, vote: { BOGUS: 'x' } },
      },
    } as unknown as DynamoDBRecord;
    const context = { getRemainingTimeInMillis: () => 60_000 } as never;

    // act
    const response = await handler({ Records: [poison] }, context);

    // assert: nothing left for Lambda to retry, and the whole record is in the queue
    expect(response).toEqual({ batchItemFailures: [] });
    const destination = new SqsFailureDestination({ client: sqs, queueUrl: failureQueueUrl });
    const parked = await destination.receive({ maxRecords: 10 });
    expect(parked).toHaveLength(1);
    expect(parked[0]?.failed.sequenceNumber).toBe('1');
    expect(parked[0]?.failed.record).toEqual(poison);
  });
});
