import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createVoteTables } from '@shardline/example-vote-aggregation';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/ExitCode.js';
import { cli } from '../helpers/cli.js';

let server: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;

beforeAll(async () => {
  server = await startDynamoDBLocal();
  // The CLI reads only the standard AWS_* variables, as a user's shell would set them.
  process.env.AWS_ENDPOINT_URL = server.endpoint;
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  dynamodb = new DynamoDBClient(server.clientConfig);
  await createVoteTables(dynamodb, { votesTable: 'Votes', summaryTable: 'VoteSummary' });
});

afterAll(async () => {
  dynamodb?.destroy();
  await server?.stop();
});

const putVote = (user: string, vote: string) =>
  dynamodb.send(
    new PutItemCommand({
      TableName: 'Votes',
      Item: { UserID: { S: user }, vote: { S: vote }, Date: { S: new Date().toISOString() } },
    }),
  );

describe('shardline describe', () => {
  it('shows the shards of a table as JSON with open/closed status and sequence ranges', async () => {
    // arrange
    await putVote('describe-user', 'A');

    // act
    const run = await cli(['describe', 'Votes', '--json']);

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    const out = JSON.parse(run.stdout);
    expect(out.tableName).toBe('Votes');
    expect(out.streamArn).toMatch(/:table\/Votes\/stream\//);
    expect(out.shards.length).toBeGreaterThan(0);
    expect(out.shards.some((s: { status: string }) => s.status === 'open')).toBe(true);
    expect(out.shards[0].startingSequenceNumber).toMatch(/^\d+$/);
  });

  it('prints a human table by default, and accepts the stream ARN too', async () => {
    // arrange
    const arn = JSON.parse((await cli(['describe', 'Votes', '--json'])).stdout).streamArn;

    // act
    const run = await cli(['describe', arn]);

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    expect(run.stdout).toContain('SHARD');
    expect(run.stdout).toContain('open');
    expect(run.stdout).toContain('DynamoDB Streams, table Votes');
  });

  it('names an unknown table and the fix, exit 4', async () => {
    // act
    const run = await cli(['describe', 'NoSuchTable']);

    // assert
    expect(run.code).toBe(ExitCode.NotFound);
    expect(run.stderr).toContain('Table "NoSuchTable" does not exist');
    expect(run.stderr).toContain('fix:');
  });

  it('rejects a malformed ARN with the expected shapes, exit 2', async () => {
    // act
    const run = await cli(['describe', 'arn:aws:dynamodb:us-east-1:123:table/Votes']);

    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('is not a DynamoDB or Kinesis stream ARN');
    expect(run.stderr).toContain('arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL');
  });

  it('says when a table has no stream, and how to enable one', async () => {
    // act: VoteSummary has no stream
    const run = await cli(['describe', 'VoteSummary']);

    // assert
    expect(run.code).toBe(ExitCode.NotFound);
    expect(run.stderr).toContain('has no stream enabled');
    expect(run.stderr).toContain('--stream-specification StreamEnabled=true');
  });
});

describe('shardline tail', () => {
  it('prints decoded changes as they happen, filtered, and stops after --limit', async () => {
    // arrange: start tailing from LATEST, then write
    const tail = cli(['tail', 'Votes', '--json', '--filter', 'vote=B', '--limit', '2']);
    await new Promise((r) => setTimeout(r, 1500));
    await putVote('tail-1', 'A');
    await putVote('tail-2', 'B');
    await putVote('tail-1', 'B');

    // act
    const run = await tail;

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.eventName, l.keys.UserID])).toEqual([
      ['INSERT', 'tail-2'],
      ['MODIFY', 'tail-1'],
    ]);
    expect(lines[1].oldImage.vote).toBe('A');
    expect(lines[1].newImage.vote).toBe('B');
  });

  it('reads from trim-horizon and shows a MODIFY as a diff in human output', async () => {
    // act
    const run = await cli([
      'tail',
      'Votes',
      '--from',
      'trim-horizon',
      '--events',
      'modify',
      '--limit',
      '1',
    ]);

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    expect(run.stdout).toContain('MODIFY');
    expect(run.stdout).toContain('UserID=tail-1');
    expect(run.stdout).toContain('vote: A → B');
  });

  it('rejects a bad filter with the accepted forms', async () => {
    // act
    const run = await cli(['tail', 'Votes', '--filter', '=x']);

    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('--filter "=x" is not a condition');
  });
});
