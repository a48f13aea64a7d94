import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { LocalClientConfig } from '@shardline/local';
import { type LambdaShard, readLambdaShards } from './lambdaDelivery.js';
import { startMultiShardStreamsServer } from './multiShardStreams.js';
import { seededRandom } from './seededRandom.js';

/** Options of {@link recordTableHistory}. */
export interface TableHistoryOptions {
  /** DynamoDB Local's client settings (`startDynamoDBLocal().clientConfig`). */
  readonly source: LocalClientConfig;
  /** A table name not used yet in that DynamoDB Local. */
  readonly tableName: string;
  /** Changes to make (puts and deletes of items `item-0` … `item-<keys − 1>`). @default 240 */
  readonly changes?: number;
  /** Distinct items; a few of them are hot (changed far more often). @default 30 */
  readonly keys?: number;
  /** Open shards at start. @default 4 */
  readonly shardCount?: number;
  /** Seed of the changes and the shard ids, so a run repeats. @default 1 */
  readonly seed?: number;
}

/** What {@link recordTableHistory} made: the stream as Lambda reads it, and the table's end. */
export interface TableHistory {
  readonly streamArn: string;
  /** Every shard (the first generation, one rollover of each, one split) with its changes. */
  readonly shards: readonly LambdaShard[];
  /** The table's items at the end (a Scan), by their key `id`, as `{ id, n, value }`. */
  readonly items: ReadonlyMap<
    string,
    { readonly id: string; readonly n: number; readonly value: string }
  >;
  /** Changes in the stream. */
  readonly changeCount: number;
}

/**
 * Makes a table (key `id`, stream NEW_AND_OLD_IMAGES) in DynamoDB Local and changes it in three
 * rounds (puts that create and overwrite items, deletes, and re-creates after a delete, mostly
 * on a few hot items), with a rollover of every shard after the first round and a split after
 * the second, through {@link startMultiShardStreamsServer}; then reads the whole stream as a
 * Lambda function would ({@link readLambdaShards}) and Scans the table.
 *
 * The changes, event ids and sequence numbers are DynamoDB Local's own; only the shard graph is
 * simulated. Several sinks' end-state properties run on it.
 *
 * @example
 * const history = await recordTableHistory({ source: ddb.clientConfig, tableName: 'Items' });
 * await deliverLikeLambda(history.shards, invoke, { seed: 1, parallelizationFactor: 10 });
 */
export async function recordTableHistory(options: TableHistoryOptions): Promise<TableHistory> {
  const total = options.changes ?? 240;
  const keys = options.keys ?? 30;
  const random = seededRandom(options.seed ?? 1);
  const client = new DynamoDBClient(options.source);
  const table = await client.send(
    new CreateTableCommand({
      TableName: options.tableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const server = await startMultiShardStreamsServer({
    source: options.source,
    sourceStreamArn: table.TableDescription?.LatestStreamArn ?? '',
    shardCount: options.shardCount ?? 4,
    seed: options.seed ?? 1,
  });
  try {
    for (let n = 0; n < total; n++) {
      const hot = random() < 0.5;
      const id = `item-${Math.floor(random() * (hot ? Math.min(3, keys) : keys))}`;
      if (random() < 0.2) {
        await client.send(
          new DeleteItemCommand({ TableName: options.tableName, Key: { id: { S: id } } }),
        );
      } else {
        await client.send(
          new PutItemCommand({
            TableName: options.tableName,
            Item: {
              id: { S: id },
              n: { N: String(n) },
              value: { S: `v${n}-${Math.floor(random() * 1000)}` },
            },
          }),
        );
      }
      if (n === Math.floor(total / 3)) {
        await server.sync();
        server.rollover();
      }
      if (n === Math.floor((2 * total) / 3)) {
        await server.sync();
        const open = server.shards().find((s) => s.endingSequenceNumber === undefined);
        if (open) server.split(open.shardId);
      }
    }
    await server.sync();
    const shards = await readLambdaShards(server.clientConfig, server.streamArn);
    const items = new Map<string, { id: string; n: number; value: string }>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({ TableName: options.tableName, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) {
        const id = item.id?.S ?? '';
        items.set(id, { id, n: Number(item.n?.N), value: item.value?.S ?? '' });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return {
      streamArn: server.streamArn,
      shards,
      items,
      changeCount: shards.reduce((sum, s) => sum + s.records.length, 0),
    };
  } finally {
    await server.close();
    client.destroy();
  }
}
