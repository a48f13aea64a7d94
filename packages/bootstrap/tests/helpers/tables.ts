import {
  BatchWriteItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { ChangeRecord, Sink, SinkRecordResult } from '@shardline/core';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';

let tableNo = 0;

/** A fresh table name for one test. */
export function tableName(prefix: string): string {
  return `${prefix}-${process.pid}-${++tableNo}`;
}

/** Creates a source table keyed by `pk` (S), provisioned with `readCapacityUnits`. */
export async function createSourceTable(
  client: DynamoDBClient,
  name: string,
  readCapacityUnits = 100,
): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      ProvisionedThroughput: { ReadCapacityUnits: readCapacityUnits, WriteCapacityUnits: 1000 },
    }),
  );
}

/** Creates a lease table (the consumer's), where bootstrap progress is kept. */
export async function createLeaseTable(client: DynamoDBClient, name: string): Promise<void> {
  await new DynamoDBLeaseStore({
    client,
    tableName: name,
    streamId: 'bootstrap-tests',
  }).createTableIfNotExists();
}

/** The key of item `i`. */
export function keyOf(i: number): string {
  return `item-${String(i).padStart(6, '0')}`;
}

/** Writes `count` items `{ pk, n, pad }` (pad: `padBytes` characters). */
export async function fillTable(
  client: DynamoDBClient,
  name: string,
  count: number,
  padBytes = 100,
): Promise<void> {
  for (let start = 0; start < count; start += 25) {
    const requests = [];
    for (let i = start; i < Math.min(count, start + 25); i++) {
      requests.push({
        PutRequest: {
          Item: { pk: { S: keyOf(i) }, n: { N: String(i) }, pad: { S: 'x'.repeat(padBytes) } },
        },
      });
    }
    let pending: Record<string, typeof requests> | undefined = { [name]: requests };
    while (pending && Object.keys(pending).length > 0) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: pending }));
      pending = out.UnprocessedItems as typeof pending;
    }
  }
}

/** A sink that keeps what it is given, and can be told to fail some keys. */
export class CollectingSink implements Sink {
  readonly name = 'collecting';
  readonly records: ChangeRecord[] = [];
  failKeys = new Set<string>();

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    return records.map((record) => {
      const key = String(record.keys?.pk);
      if (this.failKeys.has(key)) {
        return { status: 'failed', error: new Error(`refused ${key}`), retriable: false };
      }
      this.records.push(record);
      return { status: 'ok' };
    });
  }

  /** Deliveries per key. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.records) {
      const key = String(r.keys?.pk);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }
}
