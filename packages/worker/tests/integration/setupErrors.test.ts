import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { ConfigurationError, type ShardSource } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import {
  type DynamoDBLocalServer,
  type KinesaliteServer,
  startDynamoDBLocal,
  startKinesalite,
} from '@shardline/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type Worker, type WorkerOptions } from '../../src/index.js';
import { FAST } from '../helpers/kinesisWorld.js';

// Setup mistakes a user makes on the first run (a table or stream that does not exist, a lease
// table not created, no region) fail the library call or the worker's start with a
// ConfigurationError that names the thing, where the client looked and the fix; against
// DynamoDB Local and kinesalite, no SDK mocks.
let dynamo: DynamoDBLocalServer;
let kinesalite: KinesaliteServer;
let ddb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let kinesis: KinesisClient;
const workers: Worker[] = [];
const MISSING_STREAM_ARN =
  'arn:aws:dynamodb:us-east-1:000000000000:table/Missing/stream/2024-01-01T00:00:00.000';

beforeAll(async () => {
  [dynamo, kinesalite] = await Promise.all([startDynamoDBLocal(), startKinesalite()]);
  ddb = new DynamoDBClient(dynamo.clientConfig);
  streams = new DynamoDBStreamsClient(dynamo.clientConfig);
  kinesis = new KinesisClient(kinesalite.clientConfig);
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  ddb?.destroy();
  streams?.destroy();
  kinesis?.destroy();
  await kinesalite?.stop();
  await dynamo?.stop();
});

/** The error a worker's start rejects with, for `applicationName` reading `source`. */
function startFailure(
  applicationName: string,
  source: ShardSource,
  options: Partial<WorkerOptions> = {},
): Promise<Error> {
  const worker = createWorker({
    ...FAST,
    applicationName,
    sources: source,
    dynamoDBClient: ddb,
    handler: () => {},
    ...options,
  });
  workers.push(worker);
  return failure(worker.start());
}

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

describe('setup errors name the thing, where the client looked, and the fix', () => {
  it('DynamoDBStreamsSource.fromTable on a missing table', async () => {
    // act
    const error = await failure(
      DynamoDBStreamsSource.fromTable({ dynamodb: ddb, client: streams, tableName: 'Nope' }),
    );
    // assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(
      `DynamoDB table Nope not found in region us-east-1 at ${dynamo.endpoint}: create it with a stream (aws dynamodb create-table --table-name Nope`,
    );
    expect(error.message).toContain('or set tableName to an existing table');
  });

  it('KinesisSource.create on a missing stream', async () => {
    // act
    const error = await failure(KinesisSource.create({ client: kinesis, streamName: 'nope' }));
    // assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(
      `Kinesis stream nope not found in region us-east-1 at ${kinesalite.endpoint}: create it with: aws kinesis create-stream --stream-name nope --shard-count 1`,
    );
  });

  it('a worker on a DynamoDB stream that does not exist fails at start, before taking any lease', async () => {
    // arrange
    const source = new DynamoDBStreamsSource({ client: streams, streamArn: MISSING_STREAM_ARN });
    // act
    const error = await startFailure('missing-stream-app', source);
    // assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(
      `DynamoDB stream ${MISSING_STREAM_ARN} not found in region us-east-1 at ${dynamo.endpoint}`,
    );
    expect(error.message).toContain("DynamoDBStreamsSource.fromTable({ tableName: 'Missing' })");
    const { Items } = await ddb.send(new ScanCommand({ TableName: 'missing-stream-app' }));
    expect(Items?.filter((i) => i.leaseKey?.S !== undefined && i.leaseOwner?.S)).toEqual([]);
  });

  it('a worker on a Kinesis stream that does not exist fails at start', async () => {
    // arrange
    // By name: kinesalite does not take StreamARN in ListShards.
    const source = new KinesisSource({ client: kinesis, streamName: 'gone' });
    // act
    const error = await startFailure('missing-kinesis-app', source);
    // assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(
      `Kinesis stream gone not found in region us-east-1 at ${kinesalite.endpoint}`,
    );
    expect(error.message).toContain('aws kinesis create-stream --stream-name gone --shard-count 1');
  });

  it('a worker told not to create its lease table fails at start when the table is missing', async () => {
    // arrange
    const source = new DynamoDBStreamsSource({ client: streams, streamArn: MISSING_STREAM_ARN });
    // act
    const error = await startFailure('no-lease-table', source, { createLeaseTable: false });
    // assert
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(
      `Lease table no-lease-table not found in region us-east-1 at ${dynamo.endpoint}: let the worker create it (createLeaseTable: true, the default)`,
    );
  });

  describe('with no region configured', () => {
    const saved = { ...process.env };
    beforeAll(() => {
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      delete process.env.AWS_PROFILE;
      process.env.AWS_CONFIG_FILE = '/nonexistent/shardline-test-config';
      process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/shardline-test-credentials';
    });
    afterAll(() => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    });
    const config = (endpoint: string) => ({
      endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });

    it('the worker says which client and which variable', async () => {
      // arrange
      const client = new DynamoDBClient(config(dynamo.endpoint));
      const source = new DynamoDBStreamsSource({ client: streams, streamArn: MISSING_STREAM_ARN });
      // act
      const error = await startFailure('no-region-app', source, { dynamoDBClient: client });
      // assert
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toBe(
        "No AWS region is configured for the DynamoDBClient that reaches Lease table no-region-app. Set AWS_REGION (e.g. AWS_REGION=us-east-1; or a profile's region through AWS_PROFILE), or pass it to the client: new DynamoDBClient({ region: 'us-east-1' }).",
      );
    });

    it('a source fails at once, not after its throttling retries', async () => {
      // arrange
      const client = new DynamoDBStreamsClient(config(dynamo.endpoint));
      const retried: string[] = [];
      const source = new DynamoDBStreamsSource({
        client,
        streamArn: MISSING_STREAM_ARN,
        describeAttempts: 3,
        metrics: { increment: (name) => void retried.push(name), gauge() {}, observe() {} },
      });
      // act
      const error = await failure(source.listShards());
      // assert
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toContain(
        `No AWS region is configured for the DynamoDBStreamsClient that reaches DynamoDB stream ${MISSING_STREAM_ARN}. Set AWS_REGION`,
      );
      expect(retried).toEqual([]);
    });

    it('KinesisSource.create names the Kinesis client', async () => {
      // act
      const error = await failure(
        KinesisSource.create({
          client: new KinesisClient(config(kinesalite.endpoint)),
          streamName: 'orders',
        }),
      );
      // assert
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toContain('No AWS region is configured for the KinesisClient');
    });
  });

  it('an existing lease table passes the check when the worker may not create it', async () => {
    // arrange
    await new DynamoDBLeaseStore({
      client: ddb,
      tableName: 'existing-leases',
      streamId: MISSING_STREAM_ARN,
    }).createTableIfNotExists();
    // act
    const check = new DynamoDBLeaseStore({
      client: ddb,
      tableName: 'existing-leases',
      streamId: MISSING_STREAM_ARN,
    }).assertTableExists();
    // assert
    await expect(check).resolves.toBeUndefined();
  });
});
