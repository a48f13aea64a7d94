// Handover from a bootstrap to the stream: the stream consumer starts first (TRIM_HORIZON, so
// its position is fixed before the Scan begins), the bootstrap reads the items that predate the
// stream while writes go on, and both deliver into one sink that honours `record.bootstrap`
// (writes a bootstrap item only where it holds nothing of the item, tombstones included). After
// the writes stop and the stream is drained, the sink equals a Scan of the table.
import { isDeepStrictEqual } from 'node:util';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  paginateScan,
  UpdateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { bootstrapTable } from '@shardline/bootstrap';
import {
  type ChangeRecord,
  consoleWarningLogger,
  type Sink,
  type SinkRecordResult,
  sleep,
} from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { type DynamoDBLocalServer, seededRandom, startDynamoDBLocal } from '@shardline/testing';
import { createWorker } from '@shardline/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;

beforeAll(async () => {
  server = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(server.clientConfig);
  streams = new DynamoDBStreamsClient(server.clientConfig);
});

afterAll(async () => {
  dynamodb?.destroy();
  streams?.destroy();
  await server?.stop();
});

type Entry = { readonly image: Record<string, unknown> } | { readonly deleted: true };

/**
 * The target of the test: each item's latest state, or a tombstone. Stream changes are applied
 * in order; a bootstrap item only where nothing of the item is held (`honourBootstrap`).
 */
class LatestStateSink implements Sink {
  readonly name = 'latest-state';
  readonly effect = 'last-writer-wins' as const;
  readonly entries = new Map<string, Entry>();
  bootstrapWritten = 0;
  bootstrapSkipped = 0;

  constructor(readonly honourBootstrap: boolean) {}

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    for (const record of records) {
      const key = String(record.keys?.pk);
      if (record.bootstrap) {
        if (this.honourBootstrap && this.entries.has(key)) {
          this.bootstrapSkipped++;
          continue;
        }
        this.bootstrapWritten++;
      }
      this.entries.set(
        key,
        record.eventName === 'REMOVE' ? { deleted: true } : { image: record.newImage! },
      );
    }
    return records.map(() => ({ status: 'ok' }));
  }

  /** The live items, as a table Scan would show them. */
  live(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const [key, entry] of this.entries) if ('image' in entry) out[key] = entry.image;
    return out;
  }
}

/** Delays each bootstrap page before its sink write: the Scan's read is older by then. */
function delayed(sink: Sink, ms: number): Sink {
  return {
    name: `${sink.name}-delayed`,
    effect: 'last-writer-wins',
    write: async (records, context) => {
      await sleep(ms);
      return sink.write(records, context);
    },
  };
}

async function tableItems(table: string): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for await (const page of paginateScan(
    { client: dynamodb },
    { TableName: table, ConsistentRead: true },
  )) {
    for (const item of page.Items ?? []) {
      const plain = unmarshall(item);
      out[String(plain.pk)] = plain;
    }
  }
  return out;
}

async function runHandover(table: string, honourBootstrap: boolean) {
  // Items that exist before the stream is enabled: only the bootstrap can find them.
  await dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: table });
  const put = (id: number, value: string) =>
    dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: `k${id}` }, value: { S: value } },
      }),
    );
  for (let i = 0; i < 60; i++) await put(i, `old-${i}`);
  await dynamodb.send(
    new UpdateTableCommand({
      TableName: table,
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const sink = new LatestStateSink(honourBootstrap);
  const leases = `${table}-leases`;
  const source = await DynamoDBStreamsSource.fromTable({
    client: streams,
    dynamodb,
    tableName: table,
  });
  // The stream position first: TRIM_HORIZON of a stream enabled before the Scan begins.
  const worker = createWorker({
    applicationName: leases,
    dynamoDBClient: dynamodb,
    initialPosition: 'TRIM_HORIZON',
    sources: source,
    sink,
    leaseDurationMs: 3000,
    commitIntervalMs: 500,
    handleSignals: false,
    logger: consoleWarningLogger(),
  });
  await worker.start();
  const random = seededRandom(12);
  let writing = true;
  const writes = (async () => {
    let n = 0;
    while (writing) {
      const id = Math.floor(random() * 80);
      if (random() < 0.25) {
        await dynamodb.send(
          new DeleteItemCommand({ TableName: table, Key: { pk: { S: `k${id}` } } }),
        );
      } else {
        await put(id, `new-${++n}`);
      }
      await sleep(5);
    }
  })();
  const result = await bootstrapTable({
    client: dynamodb,
    table,
    sink: delayed(sink, 600),
    progressTable: leases,
    segments: 3,
    maxPageItems: 8,
    readCapacityUnits: 1000,
  });
  writing = false;
  await writes;
  // Drained: the sink shows the table, or the stream has nothing more to say about it.
  const expected = await tableItems(table);
  const end = Date.now() + 20_000;
  while (!isDeepStrictEqual(sink.live(), expected) && Date.now() < end) await sleep(200);
  await worker.stop();
  return { sink, expected, result };
}

describe('bootstrap handover to the stream', () => {
  it('ends equal to the table: no bootstrap item overwrites a newer stream change or revives a delete', async () => {
    // act
    const { sink, expected, result } = await runHandover('handover', true);

    // assert
    expect(sink.live()).toEqual(expected);
    expect(result.itemsTotal).toBeGreaterThanOrEqual(40);
    expect(sink.bootstrapSkipped).toBeGreaterThan(0); // the overlap happened
  }, 120_000);
});
