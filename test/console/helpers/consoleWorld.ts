import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { InMemoryFailureDestination, type Logger, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import {
  type DynamoDBLocalServer,
  type MultiShardStreamsServer,
  startDynamoDBLocal,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import { type ConsoleOptions, createWorker, type Worker } from '@shardline/worker';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** A value only record images hold: the console must never show it unless asked to. */
export const SECRET = 'card-4111-1111-1111-1111';

/**
 * A console test's world: DynamoDB Local with an `Orders` table, its real stream fanned out over
 * several shards by the multi-shard server, and one real Worker on it whose handler refuses
 * orders marked `poison` (they are parked in memory after two attempts).
 */
export interface ConsoleWorld {
  readonly ddb: DynamoDBClient;
  /** DynamoDB Local's endpoint (for `AWS_ENDPOINT_URL_DYNAMODB`). */
  readonly dynamoEndpoint: string;
  readonly streams: MultiShardStreamsServer;
  readonly parked: InMemoryFailureDestination;
  /** Puts orders `o<from>`…`o<to - 1>`; `poison` marks the ones the handler refuses. */
  put(from: number, to: number, poison?: (n: number) => boolean): Promise<void>;
  /** Starts a worker with the console on a free loopback port (application `orders-console`). */
  startWorker(
    workerId: string,
    console?: ConsoleOptions,
    applicationName?: string,
  ): Promise<Worker>;
  /** Records the workers' handlers applied. */
  readonly applied: string[];
  stop(): Promise<void>;
}

/** Starts DynamoDB Local, the Orders table and a multi-shard stream over it. */
export async function startConsoleWorld(shardCount = 3): Promise<ConsoleWorld> {
  const dynamo: DynamoDBLocalServer = await startDynamoDBLocal();
  const ddb = new DynamoDBClient(dynamo.clientConfig);
  const table = await ddb.send(
    new CreateTableCommand({
      TableName: 'Orders',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: 'Orders' });
  const streams = await startMultiShardStreamsServer({
    source: dynamo.clientConfig,
    sourceStreamArn: table.TableDescription?.LatestStreamArn ?? '',
    shardCount,
    seed: 7,
  });
  const streamsClient = new DynamoDBStreamsClient(streams.clientConfig);
  const parked = new InMemoryFailureDestination();
  const workers: Worker[] = [];
  const applied: string[] = [];
  return {
    ddb,
    dynamoEndpoint: dynamo.endpoint,
    streams,
    parked,
    applied,
    async put(from, to, poison = () => false) {
      for (let n = from; n < to; n++) {
        await ddb.send(
          new PutItemCommand({
            TableName: 'Orders',
            Item: {
              id: { S: `o${n}` },
              card: { S: SECRET },
              total: { N: String(n * 3) },
              ...(poison(n) ? { poison: { BOOL: true } } : {}),
            },
          }),
        );
      }
      await streams.sync();
    },
    async startWorker(workerId, console, applicationName = 'orders-console') {
      const worker = createWorker({
        applicationName,
        workerId,
        sources: new DynamoDBStreamsSource({
          client: streamsClient,
          streamArn: streams.streamArn,
        }),
        dynamoDBClient: ddb,
        handler: async (record) => {
          // Slow enough that a burst of orders stays visible as throughput for a few samples.
          await sleep(5);
          if (record.newImage?.poison) throw new Error(`order ${record.newImage.id} refused`);
          applied.push(String(record.newImage?.id));
        },
        retry: { maxAttempts: 2, baseDelayMs: 5 },
        failureDestination: parked,
        httpPort: 0,
        console: { sampleIntervalMs: 250, leaseRefreshMs: 200, ...console },
        leaseDurationMs: 3000,
        takeIntervalMs: 100,
        discoveryIntervalMs: 500,
        commitIntervalMs: 100,
        minReadIntervalMs: 20,
        idlePollIntervalMs: 50,
        logger: silent,
      });
      workers.push(worker);
      await worker.start();
      return worker;
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      streamsClient.destroy();
      await streams.close();
      ddb.destroy();
      await dynamo.stop();
    },
  };
}

/** Polls until `condition` holds (no time is asserted: the deadline only ends a hung test). */
export async function until<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}
