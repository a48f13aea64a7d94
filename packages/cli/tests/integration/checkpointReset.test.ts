import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { type ChangeRecord, type Logger, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import {
  type DynamoDBLocalServer,
  localAwsEnvironment,
  startDynamoDBLocal,
} from '@shardline/testing';
import { createWorker, type Worker } from '@shardline/worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/ExitCode.js';
import { cli } from '../helpers/cli.js';

// `shardline checkpoints reset` against DynamoDB Local and an in-process worker: a bad sequence
// number is refused before anything is written (with a fix line that runs as printed), and a
// forced reset makes the running worker read the shard again from the new checkpoint.
const APP = 'reset-app';
const TABLE = 'Orders';
let server: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let source: DynamoDBStreamsSource;
let shardId: string;
/** Sequence numbers of the first five changes, in order. */
let sequenceNumbers: string[];
const workers: Worker[] = [];

/** A logger that keeps every message (info and up), for the worker's words about a reset. */
function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug() {},
    info: (_o, msg) => void lines.push(msg ?? ''),
    warn: (_o, msg) => void lines.push(msg ?? ''),
    error: (_o, msg) => void lines.push(msg ?? ''),
    child: () => logger,
  };
  return logger;
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A worker reading the table's stream, recording every record its handler sees. */
function startWorker(seen: ChangeRecord[], lines: string[], options: object = {}): Worker {
  const worker = createWorker({
    applicationName: APP,
    sources: source,
    dynamoDBClient: dynamodb,
    handler: (record) => void seen.push(record),
    takeIntervalMs: 100,
    commitIntervalMs: 100,
    minReadIntervalMs: 20,
    maxIdleDelayMs: 50,
    handleSignals: false,
    logger: recordingLogger(lines),
    ...options,
  });
  workers.push(worker);
  return worker;
}

async function checkpointOf(shard: string): Promise<unknown> {
  const store = new DynamoDBLeaseStore({
    client: dynamodb,
    tableName: APP,
    streamId: source.streamId,
  });
  return (await store.listLeases()).find((l) => l.shardId === shard)?.checkpoint;
}

beforeAll(async () => {
  server = await startDynamoDBLocal();
  Object.assign(process.env, localAwsEnvironment(server.endpoint));
  dynamodb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  source = await DynamoDBStreamsSource.fromTable({
    dynamodb,
    client: streams,
    tableName: TABLE,
  });
  for (let i = 1; i <= 5; i++) {
    await dynamodb.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: `o${i}` } } }));
  }
  // A first run reads the five changes and checkpoints them, then stops.
  const seen: ChangeRecord[] = [];
  const worker = startWorker(seen, []);
  await worker.start();
  await until(() => seen.length === 5, 'the first five changes');
  await worker.stop();
  sequenceNumbers = seen.map((r) => r.sequenceNumber);
  shardId = seen[0]!.shardId!;
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  dynamodb?.destroy();
  streams?.destroy();
  await server?.stop();
});

const reset = (...args: string[]) =>
  cli([
    'checkpoints',
    'reset',
    '--app',
    APP,
    '--stream',
    TABLE,
    '--shard',
    shardId,
    '--watch-ms',
    '0',
    ...args,
  ]);

describe('shardline checkpoints reset: a bad sequence number', () => {
  it('refuses one of the wrong length for DynamoDB Streams, writing nothing', async () => {
    // arrange
    const before = await checkpointOf(shardId);
    // act
    const run = await reset('--to', '12345');
    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain(
      '--to 12345 is not a DynamoDB Streams sequence number (21 to 40 decimal digits, 5 given); nothing was written',
    );
    expect(run.stderr).toMatch(/fix:\s+shardline describe Orders\n/);
    expect(await checkpointOf(shardId)).toEqual(before);
  });

  it('refuses one before the shard’s first record, with a fix line that runs as printed', async () => {
    // arrange
    const before = await checkpointOf(shardId);
    const tooEarly = '0'.repeat(21);
    // act
    const run = await reset('--to', tooEarly);
    const fix = /fix:\s+(shardline .*)\n/.exec(run.stderr)?.[1];
    // assert
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain(
      `--to ${tooEarly} is before the first sequence number of shard ${shardId}`,
    );
    expect(await checkpointOf(shardId)).toEqual(before);
    expect(fix).toBe(
      `shardline checkpoints reset --app ${APP} --stream ${TABLE} --shard ${shardId} --to trim-horizon --watch-ms 0`,
    );
    // act: the fix line, as printed
    const fixed = await cli(fix!.split(' ').slice(1));
    // assert
    expect(fixed.code, fixed.stderr).toBe(ExitCode.Ok);
    expect(await checkpointOf(shardId)).toBe('TRIM_HORIZON');
  });
});

describe('shardline checkpoints reset --force on a running worker', () => {
  it('makes the worker drop its position and read the shard again from the new checkpoint', async () => {
    // arrange: the worker is at the end of the shard. Its lease lasts a minute and it lists the
    // lease table only every ten minutes, so only the reset's signal can make it retake the
    // lease within the test (an expiry or a periodic listing would come too late).
    const seen: ChangeRecord[] = [];
    const lines: string[] = [];
    const worker = startWorker(seen, lines, {
      leaseDurationMs: 60_000,
      fullScanIntervalMs: 600_000,
    });
    await worker.start();
    await until(() => seen.length >= 5, 'the worker to read the shard');
    await until(
      async () => JSON.stringify(await checkpointOf(shardId)).includes(sequenceNumbers[4]!),
      'the worker to checkpoint the last change',
    );
    const readBefore = seen.length;
    // act
    const run = await reset('--to', sequenceNumbers[1]!, '--force');
    // assert: the changes after the second are read again, with nothing new written
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    await until(() => seen.length >= readBefore + 3, 'the changes after the reset point again');
    expect(seen.slice(readBefore).map((r) => r.sequenceNumber)).toEqual(sequenceNumbers.slice(2));
    expect(lines).toContain(
      `checkpoint of shard ${shardId} reset to ${sequenceNumbers[1]} by \`shardline checkpoints reset\`; restarting the shard there`,
    );
  });
});
