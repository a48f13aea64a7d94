import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { consoleWarningLogger, ShardGraph, sleep, toFailedRecord } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import {
  countVotesByScan,
  createVoteAggregationWorker,
  createVoteTables,
  ledgerTableFor,
  readSummary,
  sameTally,
  voteLedgerTableDefinition,
  voteSummaryTableDefinition,
} from '@shardline/example-vote-aggregation';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { S3FailureDestination } from '@shardline/sink-s3';
import {
  type DynamoDBLocalServer,
  localAwsEnvironment,
  type SqsDouble,
  startDynamoDBLocal,
  startS3rver,
  startSqsDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/ExitCode.js';
import { cli, spawnCli } from '../helpers/cli.js';

const APP = 'ops-app';
const CONFIG = {
  votesTable: 'Votes',
  summaryTable: 'VoteSummary',
  leaseTable: APP,
  applicationName: APP,
};
const WORKER = {
  leaseDurationMs: 3000,
  commitIntervalMs: 300,
  handleSignals: false,
  logger: consoleWarningLogger(),
};
let server: DynamoDBLocalServer;
let sqs: SqsDouble;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;

const putVote = (user: string, vote: string) =>
  dynamodb.send(
    new PutItemCommand({
      TableName: 'Votes',
      Item: { UserID: { S: user }, vote: { S: vote }, Date: { S: '2026-11-23' } },
    }),
  );

async function caughtUp(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const summary = await readSummary(dynamodb, 'VoteSummary');
    if (sameTally(summary, await countVotesByScan(dynamodb, 'Votes'))) return;
    await sleep(200);
  }
}

beforeAll(async () => {
  [server, sqs] = await Promise.all([startDynamoDBLocal(), startSqsDouble()]);
  Object.assign(process.env, localAwsEnvironment(server.endpoint), {
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
  });
  dynamodb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
  await createVoteTables(dynamodb, CONFIG);
  for (let i = 0; i < 10; i++) await putVote(`early-${i}`, i % 2 ? 'A' : 'B');
  // A worker processes everything, then stops (its leases are released, checkpoints kept).
  const worker = await createVoteAggregationWorker({
    dynamodb,
    streams,
    config: CONFIG,
    worker: WORKER,
  });
  await worker.start();
  await caughtUp();
  await worker.stop();
  // Five changes that no worker has read yet.
  for (let i = 0; i < 5; i++) await putVote(`late-${i}`, 'C');
});

afterAll(async () => {
  dynamodb?.destroy();
  streams?.destroy();
  await Promise.all([server?.stop(), sqs?.stop()]);
});

describe('shardline lag', () => {
  it('counts the records after each checkpoint', async () => {
    // act
    const run = await cli(['lag', '--app', APP, '--stream', 'Votes', '--json']);

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    const out = JSON.parse(run.stdout);
    expect(out.totalRecordsBehind).toBe(5);
    expect(out.shards.some((s: { status: string }) => s.status === 'behind')).toBe(true);
    // the endpoint is DynamoDB Local's: the ages come from times rounded to the minute
    expect(out.note).toMatch(/DynamoDB Local rounds record times .* down to the minute/);
  });

  it('exits 5 above --max-lag, with a human table', async () => {
    // act
    const run = await cli(['lag', '--app', APP, '--stream', 'Votes', '--max-lag', '2']);

    // assert
    expect(run.code).toBe(ExitCode.CheckFailed);
    expect(run.stdout).toContain('BEHIND');
    expect(run.stdout).toContain('5 record(s) behind');
    expect(run.stdout).toContain('DynamoDB Local rounds record times');
  });

  it('reads the application from SHARDLINE_APP when --app is not given, as the workers do', async () => {
    // act
    const run = await cli(['lag', '--stream', 'Votes', '--json'], undefined, {
      ...process.env,
      SHARDLINE_APP: APP,
    });

    // assert
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    expect(JSON.parse(run.stdout)).toMatchObject({ app: APP, totalRecordsBehind: 5 });
  });

  it('reads the deprecated SHARDLINE_APPLICATION_NAME with a warning on stderr to rename it', async () => {
    // arrange
    const { SHARDLINE_APP: _a, ...env } = process.env;
    // act
    const run = await cli(['lag', '--stream', 'Votes', '--json'], undefined, {
      ...env,
      SHARDLINE_APPLICATION_NAME: APP,
    });

    // assert
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    expect(JSON.parse(run.stdout)).toMatchObject({ app: APP });
    expect(run.stderr).toContain(
      'warning: SHARDLINE_APPLICATION_NAME is deprecated: rename it to SHARDLINE_APP',
    );
  });

  it('asks for --app or SHARDLINE_APP when neither names the application, exit 2', async () => {
    // arrange
    const { SHARDLINE_APP: _a, SHARDLINE_APPLICATION_NAME: _b, ...env } = process.env;
    // act
    const run = await cli(['lag', '--stream', 'Votes'], undefined, env);

    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('Give --app <name>');
    expect(run.stderr).toContain('set SHARDLINE_APP');
  });

  it('names an unknown application and the fix, exit 4', async () => {
    // act
    const run = await cli(['lag', '--app', 'no-such-app']);

    // assert
    expect(run.code).toBe(ExitCode.NotFound);
    expect(run.stderr).toContain('No lease table "no-such-app"');
  });

  it('finds the stream of a single-stream lease table without --stream (the workers recorded it)', async () => {
    // act
    const run = await cli(['lag', '--app', APP, '--json']);

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    expect(JSON.parse(run.stdout).totalRecordsBehind).toBe(5);
  });

  it('asks for --stream on a single-stream lease table no worker recorded its stream in', async () => {
    // arrange: a lease written by hand (as by an older worker or the KCL): no coordination item
    await dynamodb.send(
      new CreateTableCommand({
        TableName: 'old-app',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
      }),
    );
    await dynamodb.send(
      new PutItemCommand({
        TableName: 'old-app',
        Item: {
          leaseKey: { S: 'shardId-00000001700000000000-abcdef01' },
          leaseCounter: { N: '1' },
          checkpoint: { S: 'TRIM_HORIZON' },
        },
      }),
    );
    // act
    const run = await cli(['lag', '--app', 'old-app']);

    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('no worker has recorded which');
    expect(run.stderr).toContain('--stream');
  });
});

describe('shardline checkpoints', () => {
  it('lists leases with their checkpoints', async () => {
    // act
    const run = await cli(['checkpoints', 'list', '--app', APP, '--stream', 'Votes', '--json']);

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    const { leases } = JSON.parse(run.stdout);
    expect(leases.length).toBeGreaterThan(0);
    expect(leases.some((l: { checkpoint: string }) => /^\d+$/.test(l.checkpoint))).toBe(true);
  });

  it('moves checkpoints of a stopped application back to trim-horizon', async () => {
    // act
    const reset = await cli([
      'checkpoints',
      'reset',
      '--app',
      APP,
      '--stream',
      'Votes',
      '--to',
      'trim-horizon',
      '--watch-ms',
      '300',
      '--json',
    ]);
    const lag = await cli(['lag', '--app', APP, '--stream', 'Votes', '--json']);

    // assert
    expect(reset.code, reset.stderr).toBe(ExitCode.Ok);
    expect(
      JSON.parse(reset.stdout).moved.every((m: { to: string }) => m.to === 'TRIM_HORIZON'),
    ).toBe(true);
    expect(JSON.parse(lag.stdout).totalRecordsBehind).toBe(15);
  });

  it('refuses to move a shard owned by a live worker unless --force', async () => {
    // arrange: a live worker renews its leases every second
    const worker = await createVoteAggregationWorker({
      dynamodb,
      streams,
      config: CONFIG,
      worker: WORKER,
    });
    await worker.start();
    try {
      // act
      const refused = await cli([
        'checkpoints',
        'reset',
        '--app',
        APP,
        '--stream',
        'Votes',
        '--to',
        'latest',
        '--watch-ms',
        '2500',
      ]);
      const forced = await cli([
        'checkpoints',
        'reset',
        '--app',
        APP,
        '--stream',
        'Votes',
        '--to',
        'latest',
        '--watch-ms',
        '2500',
        '--force',
      ]);

      // assert
      expect(refused.code).toBe(ExitCode.Refused);
      expect(refused.stderr).toContain('owned by a live worker');
      expect(refused.stderr).toContain('--force');
      expect(forced.code, forced.stderr).toBe(ExitCode.Ok);
    } finally {
      await worker.stop();
    }
  });

  it('rejects a bad --to', async () => {
    // act
    const run = await cli([
      'checkpoints',
      'reset',
      '--app',
      APP,
      '--stream',
      'Votes',
      '--to',
      'yesterday',
    ]);

    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('--to "yesterday" is not a position');
  });
});

const CONSUMER = resolve(
  import.meta.dirname,
  '../../../../examples/vote-aggregation/src/consumer.ts',
);

describe('shardline run', () => {
  it('runs a consumer module until SIGTERM and stops it cleanly, exit 0', async () => {
    // arrange
    const env = {
      ...process.env,
      VOTES_TABLE: 'Votes',
      SUMMARY_TABLE: 'VoteSummary',
      SHARDLINE_APP: APP,
      SHARDLINE_LEASE_DURATION_MS: '3000',
      SHARDLINE_LOG_LEVEL: 'warn',
    };
    let sent = false;
    const running = spawnCli(['run', CONSUMER], env, {
      timeoutMs: 60_000,
      onStderr: (text, child) => {
        if (!sent && text.includes('running')) {
          sent = true;
          setTimeout(() => child.kill('SIGTERM'), 1500);
        }
      },
    });

    // act
    const run = await running;

    // assert
    expect(run.stderr).toContain('Stopping');
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
  });

  it('names a missing module and the fix', async () => {
    // act
    const run = await cli(['run', './no-such-consumer.js']);

    // assert
    expect(run.code).toBe(ExitCode.NotFound);
    expect(run.stderr).toContain('does not exist');
  });
});

describe('shardline replay', () => {
  it('feeds parked records from SQS back through the consumer module and removes them', async () => {
    // arrange: park one real stream record in an SQS failure destination
    await dynamodb.send(new CreateTableCommand(voteSummaryTableDefinition('ReplaySummary')));
    await dynamodb.send(
      new CreateTableCommand(voteLedgerTableDefinition(ledgerTableFor('ReplaySummary'))),
    );
    const sqsClient = new SQSClient({
      endpoint: sqs.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
    const { QueueUrl } = await sqsClient.send(
      new CreateQueueCommand({ QueueName: 'vote-failures' }),
    );
    const source = await DynamoDBStreamsSource.fromTable({
      client: streams,
      dynamodb,
      tableName: 'Votes',
    });
    const shard = new ShardGraph(await source.listShards()).shards()[0]!;
    const page = await (await source.openShard(shard.shardId, { type: 'TRIM_HORIZON' })).next();
    const parked = page.records.find((r) => r.eventName === 'INSERT')!;
    await new SqsFailureDestination({ client: sqsClient, queueUrl: QueueUrl! }).send([
      toFailedRecord(parked, new Error('summary table was throttled'), 3),
    ]);

    // act
    const run = await spawnCli(
      ['replay', '--from', `sqs:${QueueUrl}`, '--to', CONSUMER, '--json'],
      { ...process.env, SUMMARY_TABLE: 'ReplaySummary' },
    );

    // assert
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    expect(JSON.parse(run.stdout)).toMatchObject({ received: 1, acknowledged: 1, failed: 0 });
    expect(Object.values(await readSummary(dynamodb, 'ReplaySummary'))).toEqual([1]);
    expect(sqs.messages(QueueUrl!)).toHaveLength(0);
    sqsClient.destroy();
  });

  it('reads an s3:// destination whose prefix has no trailing slash', async () => {
    // arrange: park one record under failures/votes/ on s3rver
    const s3 = await startS3rver({ buckets: ['parked-votes'] });
    const s3Client = new S3Client(s3.clientConfig);
    try {
      await dynamodb.send(new CreateTableCommand(voteSummaryTableDefinition('S3ReplaySummary')));
      await dynamodb.send(
        new CreateTableCommand(voteLedgerTableDefinition(ledgerTableFor('S3ReplaySummary'))),
      );
      const source = await DynamoDBStreamsSource.fromTable({
        client: streams,
        dynamodb,
        tableName: 'Votes',
      });
      const shard = new ShardGraph(await source.listShards()).shards()[0]!;
      const page = await (await source.openShard(shard.shardId, { type: 'TRIM_HORIZON' })).next();
      const parked = page.records.find((r) => r.eventName === 'INSERT')!;
      await new S3FailureDestination({
        client: s3Client,
        bucket: 'parked-votes',
        prefix: 'failures/votes/',
      }).send([toFailedRecord(parked, new Error('summary table was throttled'), 3)]);

      // act: the prefix as people type it, without the slash
      const run = await spawnCli(
        ['replay', '--from', 's3://parked-votes/failures/votes', '--to', CONSUMER, '--json'],
        {
          ...process.env,
          SUMMARY_TABLE: 'S3ReplaySummary',
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_S3_FORCE_PATH_STYLE: 'true',
          // s3rver knows one key pair; DynamoDB Local takes any
          AWS_ACCESS_KEY_ID: s3.clientConfig.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.clientConfig.credentials.secretAccessKey,
        },
      );

      // assert
      expect(run.code, run.stderr).toBe(ExitCode.Ok);
      expect(JSON.parse(run.stdout)).toMatchObject({ received: 1, acknowledged: 1, failed: 0 });
    } finally {
      s3Client.destroy();
      await s3.stop();
    }
  });

  it('says what to export when the --to module has no replay target', async () => {
    // arrange: a consumer module that exports only a worker factory
    const dir = mkdtempSync(join(tmpdir(), 'shardline-replay-'));
    const module = join(dir, 'consumer.mjs');
    writeFileSync(module, 'export function createWorker() { return {}; }\n');
    try {
      // act
      const run = await cli(['replay', '--from', 'sqs:http://127.0.0.1:9/q', '--to', module]);

      // assert
      expect(run.code).toBe(ExitCode.Usage);
      expect(run.stderr).toContain('does not export a replay target');
      expect(run.stderr).toContain('Export `replay` as { sink }');
      expect(run.stderr).not.toContain('TypeError');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a destination it cannot read', async () => {
    // act
    const run = await cli(['replay', '--from', 'ftp://x', '--to', CONSUMER]);

    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('is not a failure destination');
  });
});
