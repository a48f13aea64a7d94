import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import {
  type DynamoDBLocalServer,
  type S3rverServer,
  startDynamoDBLocal,
  startS3rver,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/ExitCode.js';
import { runCli } from '../../src/program.js';
import { cli } from '../helpers/cli.js';

const TABLE = 'Accounts';
const APP = 'accounts-sync';
let server: DynamoDBLocalServer;
let s3server: S3rverServer;
let dynamodb: DynamoDBClient;
let dir: string;
let consumer: string;

/** What the consumer module's handler was given (it runs in this process). */
const seen = (): string[] => (globalThis as { __bootstrapSeen?: string[] }).__bootstrapSeen ?? [];

beforeAll(async () => {
  [server, s3server] = await Promise.all([
    startDynamoDBLocal(),
    startS3rver({ buckets: ['exports'] }),
  ]);
  // One key pair for both: s3rver accepts only its own; DynamoDB Local (-sharedDb) any.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_ENDPOINT_URL_S3: s3server.endpoint,
    AWS_S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  });
  dynamodb = new DynamoDBClient(server.clientConfig);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      ProvisionedThroughput: { ReadCapacityUnits: 200, WriteCapacityUnits: 200 },
    }),
  );
  for (let start = 0; start < 60; start += 25) {
    const puts = Array.from({ length: Math.min(25, 60 - start) }, (_, i) => ({
      PutRequest: { Item: { id: { S: `a${start + i}` }, balance: { N: String(start + i) } } },
    }));
    await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: puts } }));
  }
  await new DynamoDBLeaseStore({
    client: dynamodb,
    tableName: APP,
    streamId: 'accounts',
  }).createTableIfNotExists();
  dir = mkdtempSync(join(tmpdir(), 'shardline-bootstrap-cli-'));
  consumer = join(dir, 'consumer.mjs');
  writeFileSync(
    consumer,
    `globalThis.__bootstrapSeen = [];
export const bootstrap = {
  handler: (record) => {
    if (!record.bootstrap) throw new Error('not a bootstrap record');
    globalThis.__bootstrapSeen.push(record.keys.id);
  },
};
`,
  );
});

afterAll(async () => {
  dynamodb?.destroy();
  await Promise.all([server?.stop(), s3server?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('shardline bootstrap', () => {
  it('scans the table within the budget into the module, printing JSON progress when stdout is not a terminal', async () => {
    // act
    const run = await cli([
      'bootstrap',
      '--table',
      TABLE,
      '--to',
      consumer,
      '--app',
      APP,
      '--read-percent',
      '0.25',
      '--segments',
      '3',
      '--bootstrap-id',
      'cli-scan',
    ]);

    // assert
    expect(run.stderr).toBe('');
    expect(run.code).toBe(ExitCode.Ok);
    const lines = jsonLines(run.stdout);
    expect(lines.some((l) => l.event === 'progress')).toBe(true);
    const done = lines.at(-1)!;
    expect(done).toMatchObject({
      event: 'done',
      bootstrapId: 'cli-scan',
      itemsTotal: 60,
      parts: 3,
    });
    expect(done.budget).toMatchObject({
      unitsPerSecond: 50,
      readPercent: 0.25,
      basis: 'provisioned',
    });
    expect(new Set(seen()).size).toBe(60);
  });

  it('draws a progress bar with an ETA when stdout is a terminal, then a summary', async () => {
    // arrange: a terminal-like stdout (cli-progress writes its escape codes through write)
    let stdout = '';
    const terminal = { write: (t: string) => (stdout += t), isTTY: true, columns: 120 };

    // act
    const code = await runCli(
      ['bootstrap', '--table', TABLE, '--to', consumer, '--app', APP, '--bootstrap-id', 'cli-tty'],
      { stdout: terminal, stderr: { write: () => true, isTTY: false }, env: process.env },
    );

    // assert
    expect(code).toBe(ExitCode.Ok);
    expect(stdout).toMatch(/bootstrap \|.*\| \d+% \| \d+\/60 items \| \d\/4 parts .* ETA /);
    expect(stdout).toContain('Bootstrap cli-tty: 60 item(s) delivered in this run (60 in all)');
    expect(stdout).toMatch(/Budget: 100 RCU\/s \(0.5 of 200, provisioned\)/);
  });

  it('reads an export from S3 with --from-export', async () => {
    // arrange: an export of three items, laid out as ExportTableToPointInTime writes one
    const s3 = new S3Client(s3server.clientConfig);
    const base = 'accounts/AWSDynamoDB/01733565000000-abcdef12';
    const put = (Key: string, Body: string | Uint8Array) =>
      s3.send(new PutObjectCommand({ Bucket: 'exports', Key, Body }));
    const lines = ['x1', 'x2', 'x3'].map((id) => JSON.stringify({ Item: { id: { S: id } } }));
    await put(`${base}/data/abc.json.gz`, gzipSync(`${lines.join('\n')}\n`));
    await put(
      `${base}/manifest-files.json`,
      `${JSON.stringify({ itemCount: 3, md5Checksum: 'x', etag: 'y', dataFileS3Key: `${base}/data/abc.json.gz` })}\n`,
    );
    await put(
      `${base}/manifest-summary.json`,
      JSON.stringify({
        version: '2020-06-30',
        exportTime: '2026-12-07T09:00:00.000Z',
        tableArn: `arn:aws:dynamodb:us-east-1:123456789012:table/${TABLE}`,
        s3Bucket: 'exports',
        s3Prefix: 'accounts',
        manifestFilesS3Key: `${base}/manifest-files.json`,
        itemCount: 3,
        outputFormat: 'DYNAMODB_JSON',
        exportType: 'FULL_EXPORT',
      }),
    );
    s3.destroy();

    // act
    const run = await cli([
      'bootstrap',
      '--table',
      TABLE,
      '--to',
      consumer,
      '--app',
      APP,
      '--from-export',
      's3://exports/accounts',
      '--json',
    ]);

    // assert
    expect(run.code).toBe(ExitCode.Ok);
    const done = jsonLines(run.stdout).at(-1)!;
    expect(done).toMatchObject({ event: 'done', itemsTotal: 3, consumedRcu: 0 });
    expect(done.exportTimeMs).toBe(Date.parse('2026-12-07T09:00:00.000Z'));
    expect(seen()).toEqual(expect.arrayContaining(['x1', 'x2', 'x3']));
  });

  it('says what is missing: the progress table, a target in the module, a valid percent', async () => {
    const noApp = await cli(['bootstrap', '--table', TABLE, '--to', consumer]);
    expect(noApp.code).toBe(ExitCode.Usage);
    expect(noApp.stderr).toContain('--app');
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const nothing = 1;\n');
    const noTarget = await cli(['bootstrap', '--table', TABLE, '--to', empty, '--app', APP]);
    expect(noTarget.code).toBe(ExitCode.Usage);
    expect(noTarget.stderr).toContain('does not export a bootstrap target');
    const badPercent = await cli([
      'bootstrap',
      '--table',
      TABLE,
      '--to',
      consumer,
      '--app',
      APP,
      '--read-percent',
      'lots',
    ]);
    expect(badPercent.code).toBe(ExitCode.Usage);
    expect(badPercent.stderr).toContain('--read-percent "lots"');
  });
});
