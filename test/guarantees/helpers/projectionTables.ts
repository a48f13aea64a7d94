/**
 * The projection tables of the guarantees tests: a source table `Users` (key UserID) projected
 * into a keyed copy (active users, two attributes) and a derived table re-keyed by group, by one
 * fan-out sink, and the expected content of both computed from a Scan of the source.
 */
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { FanOutSink, type Item } from '@shardline/core';
import { DynamoDBProjectionSink } from '@shardline/sink-dynamodb';

export const SOURCE_TABLE = 'Users';
export const COPY_TABLE = 'UsersCopy';
export const BY_GROUP_TABLE = 'UsersByGroup';
const STATE = (table: string) => `${table}-state`;

/** Creates the source table (stream NEW_AND_OLD_IMAGES), both targets and their state tables. */
export async function createProjectionTables(client: DynamoDBClient): Promise<string> {
  const table = (name: string, keys: string[], stream = false) =>
    client.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: keys.map((k) => ({ AttributeName: k, AttributeType: 'S' })),
        KeySchema: keys.map((k, i) => ({ AttributeName: k, KeyType: i ? 'RANGE' : 'HASH' })),
        BillingMode: 'PAY_PER_REQUEST',
        ...(stream
          ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }
          : {}),
      }),
    );
  const source = await table(SOURCE_TABLE, ['UserID'], true);
  await table(COPY_TABLE, ['UserID']);
  await table(BY_GROUP_TABLE, ['group', 'UserID']);
  await table(STATE(COPY_TABLE), ['pk']);
  await table(STATE(BY_GROUP_TABLE), ['pk']);
  return source.TableDescription?.LatestStreamArn ?? '';
}

/** Both projection sinks behind one fan-out sink. */
export function createProjectionSink(client: DynamoDBClient): FanOutSink {
  return new FanOutSink({
    targets: [
      new DynamoDBProjectionSink({
        client,
        tableName: COPY_TABLE,
        stateTableName: STATE(COPY_TABLE),
        filter: (user) => user.active === true,
        attributes: ['name', 'n'],
      }),
      new DynamoDBProjectionSink({
        client,
        tableName: BY_GROUP_TABLE,
        stateTableName: STATE(BY_GROUP_TABLE),
        project: (user) => [
          { key: { group: user.group, UserID: user.UserID }, attributes: { name: user.name } },
        ],
      }),
    ],
  });
}

/** Every item of a table, unmarshalled, without the version attribute, in a fixed order. */
export async function scanTable(client: DynamoDBClient, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    for (const raw of page.Items ?? []) {
      const { _shardlineVersion: _, ...item } = unmarshall(raw) as Item;
      items.push(item);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return sortItems(items);
}

/** The expected copy and by-group tables, from a Scan of the source table. */
export async function expectedProjections(
  client: DynamoDBClient,
): Promise<{ copy: Item[]; byGroup: Item[] }> {
  const users = await scanTable(client, SOURCE_TABLE);
  return {
    copy: sortItems(
      users
        .filter((u) => u.active === true)
        .map((u) => ({ UserID: u.UserID, name: u.name, n: u.n })),
    ),
    byGroup: sortItems(users.map((u) => ({ group: u.group, UserID: u.UserID, name: u.name }))),
  };
}

function sortItems(items: Item[]): Item[] {
  const key = (item: Item) =>
    JSON.stringify(Object.entries(item).sort(([x], [y]) => x.localeCompare(y)));
  return items.sort((a, b) => key(a).localeCompare(key(b)));
}

/**
 * One random change of user `userId` in the source table: a delete (15 %), otherwise a put of a
 * random name, group and active flag with `n` as its counter. Returns whether it put (the caller
 * then moves `n` on).
 */
export async function writeRandomUserChange(
  client: DynamoDBClient,
  random: () => number,
  userId: string,
  n: number,
): Promise<boolean> {
  const key = { UserID: { S: userId } };
  if (random() < 0.15) {
    await client.send(new DeleteItemCommand({ TableName: SOURCE_TABLE, Key: key }));
    return false;
  }
  await client.send(
    new PutItemCommand({
      TableName: SOURCE_TABLE,
      Item: {
        ...key,
        name: { S: ['ann', 'bob', 'cid'][Math.floor(random() * 3)]! },
        group: { S: `g${Math.floor(random() * 3)}` },
        active: { BOOL: random() < 0.7 },
        n: { N: String(n) },
      },
    }),
  );
  return true;
}
