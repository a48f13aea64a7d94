import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type ChangeRecord, decodeDynamoDBRecord, type Item } from '@shardline/core';
import { makeDynamoDBRecord } from '@shardline/testing';

/** Creates a table keyed by the given string attributes (hash, then range), on demand. */
export async function createKeyedTable(
  client: DynamoDBClient,
  tableName: string,
  hash: string,
  range?: string,
): Promise<void> {
  const names = range ? [hash, range] : [hash];
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: names.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: names.map((name, i) => ({
        AttributeName: name,
        KeyType: i === 0 ? 'HASH' : 'RANGE',
      })),
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/** Creates a projection state table: key `pk` (S). */
export async function createStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await createKeyedTable(client, tableName, 'pk');
}

/** Every item of a table, unmarshalled, without `omit` attributes, in a fixed order. */
export async function scanItems(
  client: DynamoDBClient,
  tableName: string,
  omit: readonly string[] = ['_shardlineVersion'],
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    for (const raw of page.Items ?? []) {
      const item = unmarshall(raw) as Item;
      for (const name of omit) delete item[name];
      items.push(item);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
}

/** An item's attributes in name order, as text: a Scan's order is not the test's. */
function sortKey(item: Item): string {
  return JSON.stringify(Object.entries(item).sort(([x], [y]) => x.localeCompare(y)));
}

/** Options of {@link userChange}. */
export interface UserChangeOptions {
  /** The user id (the source key `id`). */
  readonly id: string;
  /** The item after the change; `null` for a REMOVE. */
  readonly image: Item | null;
  /**
   * The change's order among the item's changes. `kds`: the creation time in ms of a "Kinesis
   * Data Streams for DynamoDB" record (its version); `streams`: a DynamoDB Streams sequence
   * number.
   */
  readonly order: number;
  readonly source?: 'kds' | 'streams';
  readonly tableName?: string;
  /** An INSERT (the item did not exist before) instead of a MODIFY. */
  readonly insert?: boolean;
}

/** A decoded change of the `Users` source table (key `id`), as either source delivers it. */
export function userChange(options: UserChangeOptions): ChangeRecord {
  const kds = (options.source ?? 'kds') === 'kds';
  const tableName = options.tableName ?? 'Users';
  const raw = makeDynamoDBRecord({
    keys: { id: options.id },
    ...(options.image === null
      ? { eventName: 'REMOVE' as const }
      : {
          eventName: options.insert ? ('INSERT' as const) : ('MODIFY' as const),
          newImage: { ...options.image, id: options.id },
        }),
    sequenceNumber: kds ? '1' : String(1000 + options.order).padStart(21, '0'),
    approximateCreationDateTime: kds ? 1_700_000_000_000 + options.order : 1_700_000_000,
    streamArn: `arn:aws:dynamodb:us-east-1:123456789012:table/${tableName}/stream/2026-01-01T00:00:00.000`,
    eventId: `${options.id}-${options.order}-${options.image === null ? 'rm' : 'put'}`,
  });
  return decodeDynamoDBRecord(raw as never, {
    streamId: raw.eventSourceARN!,
    shardId: 'shardId-1',
    ...(kds ? { versionFromCreationTime: true, creationTimeUnit: 'ms' as const } : {}),
  });
}

/** The record as a bootstrap (a Scan or an export) gives it: `bootstrap: true`. */
export function asBootstrap(record: ChangeRecord): ChangeRecord {
  return new Proxy(record, {
    get: (target, property) =>
      property === 'bootstrap' ? true : Reflect.get(target, property, target),
  });
}
