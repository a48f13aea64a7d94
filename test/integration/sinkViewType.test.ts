/**
 * A summary sink on a DynamoDB stream whose view type lacks the image it needs fails the worker
 * at start, and a Lambda handler at the batch's first record, with one error naming the table,
 * the view type found, the one needed and the fix; nothing is written and no record is parked.
 * DynamoDB Local, no SDK mocks.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  ConfigurationError,
  FanOutSink,
  InMemoryFailureDestination,
  type Sink,
} from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
import {
  countBy,
  DynamoDBLedgerSummarySink,
  DynamoDBProjectionSink,
  DynamoDBSummarySink,
} from '@shardline/sink-dynamodb';
import {
  type DynamoDBLocalServer,
  makeDynamoDBEvent,
  makeDynamoDBRecord,
  startDynamoDBLocal,
} from '@shardline/testing';
import { createWorker, type Worker } from '@shardline/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
const workers: Worker[] = [];
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

async function createTable(name: string, key: string, view?: StreamViewType): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      ...(view ? { StreamSpecification: { StreamEnabled: true, StreamViewType: view } } : {}),
    }),
  );
}

/** A votes table with a `view` stream and one vote in it, and an empty summary table. */
async function votesWith(view: StreamViewType): Promise<{ source: DynamoDBStreamsSource }> {
  await createTable(`Votes-${view}`, 'UserID', view);
  await createTable(`Summary-${view}`, 'vote');
  await dynamodb.send(
    new PutItemCommand({
      TableName: `Votes-${view}`,
      Item: { UserID: { S: 'u1' }, vote: { S: 'A' } },
    }),
  );
  const source = await DynamoDBStreamsSource.fromTable({
    dynamodb,
    client: streams,
    tableName: `Votes-${view}`,
  });
  return { source };
}

const summarySink = (view: StreamViewType) =>
  new DynamoDBSummarySink({
    client: dynamodb,
    tableName: `Summary-${view}`,
    deltas: countBy({ attribute: 'vote' }),
  });

async function summaryItems(view: StreamViewType): Promise<number> {
  const { Items } = await dynamodb.send(new ScanCommand({ TableName: `Summary-${view}` }));
  return Items?.length ?? 0;
}

function workerFor(source: DynamoDBStreamsSource, sink: Sink, app: string): Worker {
  const worker = createWorker({
    applicationName: app,
    sources: source,
    dynamoDBClient: dynamodb,
    sink,
    takeIntervalMs: 100,
    logger: silent,
    handleSignals: false,
  });
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  server = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
});

afterAll(async () => {
  // Each test's worker is stopped here (the failed starts too: stop() is safe after one).
  await Promise.all(workers.map((w) => w.stop()));
  dynamodb?.destroy();
  streams?.destroy();
  await server?.stop();
});

describe('a sink on a stream of the wrong view type', () => {
  it('fails the worker at start: countBy summary on a NEW_IMAGE stream', async () => {
    // arrange
    const { source } = await votesWith('NEW_IMAGE');
    const worker = workerFor(source, summarySink('NEW_IMAGE'), 'view-new-image');
    // act
    const error = await worker.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error!.message).toContain(
      `needs a stream with view type NEW_AND_OLD_IMAGES, but the stream of table Votes-NEW_IMAGE (${source.streamId}) has NEW_IMAGE`,
    );
    expect(error!.message).toContain(
      'aws dynamodb update-table --table-name Votes-NEW_IMAGE --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES',
    );
    expect(worker.ownedLeaseKeys()).toEqual([]);
    expect(await summaryItems('NEW_IMAGE')).toBe(0);
  });

  it('fails the worker at start: ledger summary on a KEYS_ONLY stream', async () => {
    // arrange
    const { source } = await votesWith('KEYS_ONLY');
    await createTable('Ledger-KEYS_ONLY', 'pk');
    const sink = new DynamoDBLedgerSummarySink({
      client: dynamodb,
      tableName: 'Summary-KEYS_ONLY',
      ledgerTableName: 'Ledger-KEYS_ONLY',
      contributions: countBy({ attribute: 'vote' }),
    });
    // act
    const start = workerFor(source, sink, 'view-keys-only').start();
    // assert
    await expect(start).rejects.toThrow(
      /needs a stream with view type NEW_IMAGE or NEW_AND_OLD_IMAGES, but the stream of table Votes-KEYS_ONLY .* has KEYS_ONLY/,
    );
  });

  it('fails the worker at start: a projection (copy) table on a KEYS_ONLY stream', async () => {
    // arrange
    await createTable('Users-KEYS_ONLY', 'UserID', 'KEYS_ONLY');
    const source = await DynamoDBStreamsSource.fromTable({
      dynamodb,
      client: streams,
      tableName: 'Users-KEYS_ONLY',
    });
    const sink = new DynamoDBProjectionSink({
      client: dynamodb,
      tableName: 'Copy-KEYS_ONLY',
      stateTableName: 'Copy-KEYS_ONLY-state',
    });
    // act
    const start = workerFor(source, sink, 'view-keys-only-copy').start();
    // assert
    await expect(start).rejects.toThrow(
      /needs a stream with view type NEW_IMAGE or NEW_AND_OLD_IMAGES, but the stream of table Users-KEYS_ONLY .* has KEYS_ONLY/,
    );
  });

  it('starts and counts on a stream with the view type it needs', async () => {
    // arrange
    const { source } = await votesWith('NEW_AND_OLD_IMAGES');
    const worker = workerFor(source, summarySink('NEW_AND_OLD_IMAGES'), 'view-both');
    // act
    await worker.start();
    // assert: the vote is counted (polled: the worker reads asynchronously)
    for (let i = 0; i < 200 && (await summaryItems('NEW_AND_OLD_IMAGES')) === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await summaryItems('NEW_AND_OLD_IMAGES')).toBe(1);
  });

  it('fails a Lambda invocation at the first record, with the same error, parking nothing', async () => {
    // arrange
    await createTable('Summary-lambda', 'vote');
    const failures = new InMemoryFailureDestination();
    const handler = createDynamoDBHandler({
      sink: new DynamoDBSummarySink({
        client: dynamodb,
        tableName: 'Summary-lambda',
        deltas: countBy({ attribute: 'vote' }),
      }),
      failureDestination: failures,
      logger: silent,
    });
    const streamArn =
      'arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/2026-01-01T00:00:00.000';
    const event = makeDynamoDBEvent(
      ['u1', 'u2'].map((user) =>
        makeDynamoDBRecord({
          keys: { UserID: user },
          newImage: { UserID: user, vote: 'A' },
          streamViewType: 'NEW_IMAGE',
          streamArn,
        }),
      ),
    );
    // act
    const invocation = handler(event, {} as never);
    // assert
    await expect(invocation).rejects.toThrow(
      `needs a stream with view type NEW_AND_OLD_IMAGES, but the stream of table Votes (${streamArn}) has NEW_IMAGE`,
    );
    expect(failures.records).toEqual([]);
    const { Items } = await dynamodb.send(new ScanCommand({ TableName: 'Summary-lambda' }));
    expect(Items).toEqual([]);
  });

  it('a fan-out needs what every target needs', () => {
    // arrange
    const ledger = new DynamoDBLedgerSummarySink({
      client: dynamodb,
      tableName: 'Summary',
      ledgerTableName: 'Ledger',
      contributions: countBy({ attribute: 'vote' }),
    });
    const summary = summarySink('NEW_IMAGE');
    // act
    const fanOut = new FanOutSink({ targets: [ledger, summary] });
    // assert
    expect(ledger.requiredStreamViewTypes).toEqual(['NEW_IMAGE', 'NEW_AND_OLD_IMAGES']);
    expect(fanOut.requiredStreamViewTypes).toEqual(['NEW_AND_OLD_IMAGES']);
  });
});
