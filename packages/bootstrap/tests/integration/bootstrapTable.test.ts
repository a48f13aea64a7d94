import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type ChangeRecord,
  ConfigurationError,
  decodeDynamoDBRecord,
  InMemoryFailureDestination,
  sleep,
} from '@shardline/core';
import { DynamoDBBootstrapStore, DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BootstrapIncompleteError,
  type BootstrapProgress,
  bootstrapTable,
} from '../../src/index.js';
import {
  CollectingSink,
  createLeaseTable,
  createSourceTable,
  fillTable,
  keyOf,
  tableName,
} from '../helpers/tables.js';

let server: DynamoDBLocalServer;
let client: DynamoDBClient;

beforeAll(async () => {
  server = await startDynamoDBLocal();
  client = new DynamoDBClient(server.clientConfig);
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

async function setup(items: number, padBytes: number, readCapacityUnits = 100) {
  const table = tableName('src');
  const leases = tableName('leases');
  await createSourceTable(client, table, readCapacityUnits);
  await createLeaseTable(client, leases);
  await fillTable(client, table, items, padBytes);
  return { table, leases };
}

describe('bootstrapTable', () => {
  it('delivers every item once as a bootstrap INSERT, no page costing more than the bucket holds', async () => {
    // arrange: 80 items of ~3 KB (0.375 RCU each, eventually consistent); budget 8 RCU/s. A
    // page sized by Limit alone (one segment's ~27 items) would cost ~10 RCU.
    const { table, leases } = await setup(80, 3000, 16);
    const sink = new CollectingSink();
    const reports: BootstrapProgress[] = [];

    // act
    const result = await bootstrapTable({
      client,
      table,
      sink,
      progressTable: leases,
      segments: 3,
      onProgress: (p) => reports.push(p),
    });

    // assert: each item once, as read, marked as a bootstrap record
    expect(result.budget).toMatchObject({ unitsPerSecond: 8, basis: 'provisioned' });
    expect(result.items).toBe(80);
    expect(result.itemsTotal).toBe(80);
    expect(result.resumed).toBe(false);
    const counts = sink.counts();
    expect(counts.size).toBe(80);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    for (const record of sink.records) {
      expect(record.bootstrap).toBe(true);
      expect(record.eventName).toBe('INSERT');
      expect(record.newImage?.n).toBe(Number(String(record.keys?.pk).slice('item-'.length)));
      expect(record.shardId).toMatch(/^scan-[0-2]$/);
    }
    // each report follows one page: the difference is that page's cost
    const pageUnits = reports.map((r, i) => r.consumedRcu - (reports[i - 1]?.consumedRcu ?? 0));
    expect(Math.max(...pageUnits)).toBeLessThanOrEqual(8 + 0.5);
    expect(result.consumedRcu).toBeCloseTo(
      pageUnits.reduce((a, b) => a + b, 0),
      6,
    );
    expect(result.consumedRcu).toBeGreaterThan(80 * 0.25);
  });

  it('stops at a page whose item fails, and a rerun resumes at that page, not from zero', async () => {
    // arrange: one segment of 100 small items in pages of 10; item 55 refused once
    const { table, leases } = await setup(100, 10);
    const sink = new CollectingSink();
    sink.failKeys.add(keyOf(55));
    const options = {
      client,
      table,
      sink,
      progressTable: leases,
      segments: 1,
      maxPageItems: 10,
      bootstrapId: 'resume-test',
      retry: { maxAttempts: 1 },
    };

    // act
    const error = await bootstrapTable(options).catch((e: unknown) => e);
    const deliveredFirst = sink.records.length;
    sink.failKeys.clear();
    const second = await bootstrapTable(options);

    // assert
    expect(error).toBeInstanceOf(BootstrapIncompleteError);
    expect((error as BootstrapIncompleteError).partId).toBe('scan-0');
    expect((error as Error).message).toContain(keyOf(55));
    expect(deliveredFirst).toBeGreaterThanOrEqual(50);
    expect(second.resumed).toBe(true);
    expect(second.items).toBeLessThanOrEqual(100 - 50);
    expect(second.itemsTotal).toBe(100);
    expect(new Set(sink.records.map((r) => r.keys?.pk)).size).toBe(100);
    // a finished bootstrap run again reads nothing
    const third = await bootstrapTable(options);
    expect(third.items).toBe(0);
  });

  it('parks a failing item in the failure destination and finishes', async () => {
    // arrange
    const { table, leases } = await setup(30, 10);
    const sink = new CollectingSink();
    sink.failKeys.add(keyOf(7));
    const failureDestination = new InMemoryFailureDestination();

    // act
    const result = await bootstrapTable({
      client,
      table,
      sink,
      failureDestination,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      progressTable: leases,
      segments: 2,
    });

    // assert: parked whole, and decoded again it is still a bootstrap record
    expect(result.itemsTotal).toBe(30);
    expect(sink.counts().size).toBe(29);
    expect(failureDestination.records).toHaveLength(1);
    const parked = failureDestination.records[0]!;
    const again = decodeDynamoDBRecord(parked.record as never, {
      streamId: parked.streamId,
      shardId: parked.shardId,
    });
    expect(again.bootstrap).toBe(true);
    expect(again.keys).toEqual({ pk: keyOf(7) });
  });

  it('shares segments between two processes of one bootstrap, each segment read by one of them', async () => {
    // arrange
    const { table, leases } = await setup(200, 10);
    const sinkA = new CollectingSink();
    const sinkB = new CollectingSink();
    const common = {
      client,
      table,
      progressTable: leases,
      segments: 6,
      segmentConcurrency: 2,
      maxPageItems: 5,
      bootstrapId: 'shared',
      claimDurationMs: 4_000,
    };

    // act
    const [a, b] = await Promise.all([
      bootstrapTable({ ...common, sink: sinkA, owner: 'process-a' }),
      bootstrapTable({ ...common, sink: sinkB, owner: 'process-b' }),
    ]);

    // assert: every item once over both, and no segment read by both
    const keys = [...sinkA.records, ...sinkB.records].map((r) => r.keys?.pk);
    expect(keys).toHaveLength(200);
    expect(new Set(keys).size).toBe(200);
    const segmentsA = new Set(sinkA.records.map((r) => r.shardId));
    const segmentsB = new Set(sinkB.records.map((r) => r.shardId));
    expect([...segmentsA].filter((s) => segmentsB.has(s))).toEqual([]);
    expect(a.items + b.items).toBe(200);
    expect(a.itemsTotal).toBe(200);
  });

  it('keeps its progress in the lease table where lease listings do not see it', async () => {
    // arrange
    const { table, leases } = await setup(10, 10);
    await bootstrapTable({ client, table, sink: new CollectingSink(), progressTable: leases });

    // act
    const listed = await new DynamoDBLeaseStore({
      client,
      tableName: leases,
      streamId: 'bootstrap-tests',
    }).listLeases();
    const run = await new DynamoDBBootstrapStore({ client, tableName: leases }).getRun(
      `scan-${table}`,
    );

    // assert
    expect(listed).toEqual([]);
    expect(run?.finishedAtMs).toBeGreaterThan(0);
    expect(run?.parts).toBe(4);
  });

  it('reads a page again when it waited longer than maxPageAgeMs, so a delete meanwhile is not undone', async () => {
    // arrange: while the first page is delivered (slowly), every other item is deleted; the
    // second page was read before that, ahead of its turn
    const { table, leases } = await setup(20, 10);
    const sink = new CollectingSink();
    let kept: Set<string> | undefined;
    const reports: BootstrapProgress[] = [];
    const slowSink = {
      name: 'slow',
      write: async (records: readonly ChangeRecord[]) => {
        if (!kept) {
          kept = new Set(records.map((r) => String(r.keys?.pk)));
          for (let i = 0; i < 20; i++) {
            if (kept.has(keyOf(i))) continue;
            await client.send(
              new DeleteItemCommand({ TableName: table, Key: { pk: { S: keyOf(i) } } }),
            );
          }
          await sleep(400);
        }
        return sink.write(records);
      },
    };

    // act
    const result = await bootstrapTable({
      client,
      table,
      sink: slowSink,
      progressTable: leases,
      segments: 1,
      maxPageItems: 5,
      maxPageAgeMs: 200,
      onProgress: (p) => reports.push(p),
    });

    // assert: the page read before the deletes was read again; nothing deleted was delivered
    expect(new Set(sink.records.map((r) => String(r.keys?.pk)))).toEqual(kept);
    expect(reports.at(-1)?.pagesReread).toBeGreaterThanOrEqual(1);
    expect(result.itemsTotal).toBe(kept?.size);
  });

  it('says what is wrong with bad options', async () => {
    const { table, leases } = await setup(1, 10);
    const sink = new CollectingSink();
    await expect(
      bootstrapTable({ client, table, sink, progressTable: leases, readPercent: 2 }),
    ).rejects.toThrow(/readPercent must be above 0 and at most 1.5/);
    await expect(
      bootstrapTable({ client, table: 'no-such-table', sink, progressTable: leases }),
    ).rejects.toThrow(ConfigurationError);
    await expect(
      bootstrapTable({ client, table, sink, progressTable: 'no-such-lease-table' }),
    ).rejects.toThrow(/progress table "no-such-lease-table" does not exist/);
  });
});
