/**
 * Per-key order as Lambda runs Shardline, for the two paths that do not start in per-key
 * chains: a synchronous handler (run in shard order until a record fails: its failure goes
 * through the retry path, a promise, and hands the rest of the batch to per-key chains with
 * that key blocked) and a sink written in chunks (`maxBatchSize`, a key blocked across chunks
 * behind a change that stays failed). The event source mapping emulator reads a 2-shard DynamoDB stream with
 * ParallelizationFactor 4 and ReportBatchItemFailures, every shard rolling over mid-run, in
 * few execution environments. The handler (helpers/keyOrderHandler.ts) fails some changes for
 * good the first time an environment meets them, so they are sent again later. Property: a
 * change of an item is applied for the first time only after every earlier change of that
 * item was applied (no change overtakes an earlier one of its item), and every change is
 * applied.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBLocalServer,
  type EventSourceMapping,
  type MultiShardStreamsServer,
  seededRandom,
  startDynamoDBLocal,
  startEventSourceMapping,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const HANDLER = join(import.meta.dirname, 'helpers/keyOrderHandler.ts');
const ITEMS = 10;
const WRITES = 120;

let ddb: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let work: string;
let server: MultiShardStreamsServer | undefined;
let mapping: EventSourceMapping | undefined;

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  work = mkdtempSync(join(tmpdir(), 'shardline-lambda-key-order-'));
}, 60_000);

afterEach(async () => {
  await mapping?.stop();
  mapping = undefined;
  await server?.close();
  server = undefined;
});

afterAll(async () => {
  dynamodb?.destroy();
  await ddb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('per-key order under the event source mapping (ParallelizationFactor 4, a rollover mid-run)', () => {
  it.each(['sync', 'sink'])(
    'applies no change of an item before the earlier ones (%s)',
    async (mode) => {
      // arrange: a table of its own, its stream split in 2 shards
      const table = `Order-${mode}`;
      const created = await dynamodb.send(
        new CreateTableCommand({
          TableName: table,
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
        }),
      );
      const streams = await startMultiShardStreamsServer({
        source: ddb.clientConfig,
        sourceStreamArn: created.TableDescription?.LatestStreamArn ?? '',
        shardCount: 2,
        seed: 43,
      });
      server = streams;
      const applyLog = join(work, `apply-${mode}.log`);
      writeFileSync(applyLog, '');
      mapping = await startEventSourceMapping({
        source: {
          type: 'dynamodb-streams',
          streamArn: streams.streamArn,
          clientConfig: streams.clientConfig,
        },
        handlerModule: HANDLER,
        execArgv: ['--conditions=source'],
        environment: { APPLY_LOG: applyLog, MODE: mode, AWS_REGION: 'us-east-1' },
        functionLogs: 'ignore',
        batchSize: 8,
        parallelizationFactor: 4,
        functionResponseTypes: ['ReportBatchItemFailures'],
        maximumConcurrency: 3,
        timeoutMs: 5000,
        pollIntervalMs: 50,
        discoveryIntervalMs: 300,
        retryDelayMs: 20,
        seed: 19,
        // Every shard rolls over while it is read: children appear mid-run, parents read first.
        reshards: [{ afterInvocations: 10, run: () => streams.rollover() }],
      });
      const random = seededRandom(23);
      const written = new Map<string, number[]>();

      // act: 120 writes over 10 items, each item's n counting up
      for (let n = 0; n < WRITES; n++) {
        const id = `item-${Math.floor(random() * ITEMS)}`;
        written.set(id, [...(written.get(id) ?? []), n]);
        await dynamodb.send(
          new PutItemCommand({
            TableName: table,
            Item: { id: { S: id }, n: { N: String(n) } },
          }),
        );
      }
      await streams.sync();
      await mapping.drained({ timeoutMs: 90_000 });

      // assert
      const stats = mapping.stats();
      expect(stats.partialFailures).toBeGreaterThan(0);
      expect(stats.shardsFinished).toBeGreaterThanOrEqual(2);
      const applied = new Map<string, Set<number>>();
      const overtaken: string[] = [];
      for (const line of readFileSync(applyLog, 'utf8').split('\n').filter(Boolean)) {
        const [, id, text] = line.split(' ') as [string, string, string];
        const n = Number(text);
        const done = applied.get(id) ?? new Set<number>();
        applied.set(id, done);
        if (done.has(n)) continue; // applied again (at least once): allowed
        const missing = written.get(id)!.filter((earlier) => earlier < n && !done.has(earlier));
        if (missing.length > 0) overtaken.push(`${id}: ${n} before ${missing.join(',')}`);
        done.add(n);
      }
      expect(overtaken).toEqual([]);
      for (const [id, changes] of written) {
        expect(
          [...(applied.get(id) ?? [])].sort((a, b) => a - b),
          id,
        ).toEqual(changes);
      }
      console.log(`${mode}: mapping ${JSON.stringify(stats)}`);
    },
    150_000,
  );
});
