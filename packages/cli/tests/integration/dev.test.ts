import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBLocalServer,
  LOCAL_CREDENTIALS,
  startDynamoDBLocal,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/ExitCode.js';
import { cli, spawnCli } from '../helpers/cli.js';

// A tiny user handler: one line per record it gets, then success.
const HANDLER = `import { appendFileSync } from 'node:fs';
export const handler = async (event) => {
  for (const r of event.Records) appendFileSync(process.env.DEV_TEST_LOG, r.dynamodb.Keys.id.S + '\\n');
  return { batchItemFailures: [] };
};
`;

let ddb: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let dir: string;

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: 'DevItems',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  dir = mkdtempSync(join(tmpdir(), 'shardline-dev-'));
  writeFileSync(join(dir, 'handler.mjs'), HANDLER);
}, 60_000);

afterAll(async () => {
  dynamodb?.destroy();
  await ddb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('shardline dev', () => {
  it('invokes a handler per batch from a table stream and stops cleanly on SIGINT', async () => {
    // arrange: three changes already in the stream
    for (const id of ['a', 'b', 'c'])
      await dynamodb.send(new PutItemCommand({ TableName: 'DevItems', Item: { id: { S: id } } }));
    const log = join(dir, 'records.log');
    writeFileSync(log, '');
    const env = {
      ...process.env,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      DEV_TEST_LOG: log,
    };
    let lines = 0;
    let sent = false;

    // act: stop it with SIGINT once three invocations are printed
    const run = await spawnCli(
      [
        'dev',
        join(dir, 'handler.mjs'),
        '--table',
        'DevItems',
        '--endpoint',
        ddb.endpoint,
        '--starting-position',
        'trim-horizon',
        '--batch-size',
        '1',
        '--report-batch-item-failures',
      ],
      env,
      {
        timeoutMs: 60_000,
        onStdout: (text, child) => {
          lines += text.split('\n').filter((l) => l.includes('success')).length;
          if (!sent && lines >= 3) {
            sent = true;
            child.kill('SIGINT');
          }
        },
      },
    );

    // assert
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const invocations = run.stdout.split('\n').filter(Boolean);
    expect(invocations).toHaveLength(3);
    for (const line of invocations)
      expect(line).toMatch(/^shardId-\S+ {2}lane 0 {2}1 records {2}success {2}\d+ ms$/);
    expect(run.stderr).toContain('Stopping: waiting for invocations in flight');
    expect(run.stderr).toContain('Stopped: 3 invocations, 3 records delivered, 0 retries');
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual(['a', 'b', 'c']);
  });

  it('names a missing handler module, and a missing stream choice', async () => {
    // act
    const missing = await cli(['dev', './no-such-handler.mjs', '--table', 'DevItems']);
    const noStream = await cli(['dev', join(dir, 'handler.mjs')]);

    // assert
    expect(missing.code).toBe(ExitCode.NotFound);
    expect(missing.stderr).toContain('does not exist');
    expect(noStream.code).toBe(ExitCode.Usage);
    expect(noStream.stderr).toContain('--table');
  });
});
