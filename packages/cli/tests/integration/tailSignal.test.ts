import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBLocalServer,
  type MultiShardStreamsServer,
  startDynamoDBLocal,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, cli } from '../helpers/cli.js';

// `shardline tail` reads every shard at once under one stop signal: each shard's paced read
// waits on it and each GetRecords call adds an abort listener to it (AWS SDK), so a stream of
// more than a few shards passes Node's limit of 10 listeners with nothing leaking.

let dynamo: DynamoDBLocalServer;
let server: MultiShardStreamsServer;
let ddb: DynamoDBClient;

beforeAll(async () => {
  dynamo = await startDynamoDBLocal();
  ddb = new DynamoDBClient(dynamo.clientConfig);
  const table = await ddb.send(
    new CreateTableCommand({
      TableName: 'Tail',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  // The CLI reads only the standard AWS_* variables, as a user's shell would set them; its
  // Streams calls go to the multi-shard server.
  process.env.AWS_ENDPOINT_URL = dynamo.endpoint;
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  server = await startMultiShardStreamsServer({
    source: dynamo.clientConfig,
    sourceStreamArn: table.TableDescription?.LatestStreamArn ?? '',
    shardCount: 16,
    seed: 3,
  });
  process.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS = server.endpoint;
}, 60_000);

afterAll(async () => {
  ddb?.destroy();
  await server?.close();
  await dynamo?.stop();
});

describe('shardline tail over a 16-shard stream', () => {
  it('sets off no MaxListenersExceededWarning', async () => {
    // arrange
    for (let i = 0; i < 64; i++) {
      await ddb.send(new PutItemCommand({ TableName: 'Tail', Item: { id: { S: `item-${i}` } } }));
    }
    await server.sync();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning);
    };
    process.on('warning', onWarning);
    let run: CliRun;
    try {
      // act: the CLI as a user runs it, its Streams endpoint the multi-shard server
      run = await cli([
        'tail',
        server.streamArn,
        '--from',
        'trim-horizon',
        '--json',
        '--limit',
        '64',
      ]);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    // assert
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.stdout.trim().split('\n')).toHaveLength(64);
    expect(warnings.map((w) => w.message)).toEqual([]);
  }, 60_000);
});
