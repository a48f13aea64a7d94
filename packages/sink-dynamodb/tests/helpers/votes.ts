import {
  CreateTableCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { type ChangeRecord, decodeDynamoDBRecord } from '@shardline/core';

/** One change to the Votes table: a voter casts or changes a vote, or withdraws it (null). */
export interface VoteOp {
  readonly voter: number;
  readonly vote: string | null;
}

/** Creates the Votes table (key `voter`, stream NEW_AND_OLD_IMAGES); returns its stream ARN. */
export async function createVotesTable(
  client: DynamoDBClient,
  tableName = 'Votes',
  streamViewType: 'NEW_AND_OLD_IMAGES' | 'NEW_IMAGE' | 'KEYS_ONLY' = 'NEW_AND_OLD_IMAGES',
): Promise<string> {
  const created = await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'voter', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'voter', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: streamViewType },
    }),
  );
  return created.TableDescription!.LatestStreamArn!;
}

/** Creates a summary table keyed by `vote` (no stream). */
export async function createSummaryTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'vote', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'vote', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/** Applies vote operations to the Votes table, one request each, in order. */
export async function applyVotes(
  client: DynamoDBClient,
  ops: readonly VoteOp[],
  tableName = 'Votes',
): Promise<void> {
  for (const op of ops) {
    const voter = { S: `voter-${op.voter}` };
    if (op.vote === null) {
      await client.send(new DeleteItemCommand({ TableName: tableName, Key: { voter } }));
    } else {
      await client.send(
        new PutItemCommand({ TableName: tableName, Item: { voter, vote: { S: op.vote } } }),
      );
    }
  }
}

/** Reads every record of every shard of a stream, decoded, shard by shard in order. */
export async function readStream(
  streams: DynamoDBStreamsClient,
  streamArn: string,
): Promise<ChangeRecord[]> {
  const out: ChangeRecord[] = [];
  const description = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  for (const shard of description.StreamDescription?.Shards ?? []) {
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shard.ShardId!,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let iterator = ShardIterator;
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      const records = page.Records ?? [];
      for (const raw of records) {
        out.push(
          decodeDynamoDBRecord(raw as never, { streamId: streamArn, shardId: shard.ShardId! }),
        );
      }
      // An open shard never ends: stop at the first empty page, everything written is read.
      if (records.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

/** The expected summary: votes per value, from a Scan of the Votes table. */
export async function tallyVotes(
  client: DynamoDBClient,
  tableName = 'Votes',
): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (const item of await scanAll(client, tableName)) {
    const vote = item.vote?.S;
    if (vote !== undefined) tally[vote] = (tally[vote] ?? 0) + 1;
  }
  return tally;
}

/** The summary table as vote → num, leaving out counts of zero (an item that went to 0). */
export async function readSummary(
  client: DynamoDBClient,
  tableName: string,
): Promise<Record<string, number>> {
  const summary: Record<string, number> = {};
  for (const item of await scanAll(client, tableName)) {
    const num = Number(item.num?.N ?? '0');
    if (num !== 0) summary[item.vote!.S!] = num;
  }
  return summary;
}

async function scanAll(client: DynamoDBClient, tableName: string) {
  const items: Record<string, { S?: string; N?: string }>[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...((page.Items ?? []) as Record<string, { S?: string; N?: string }>[]));
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return items;
}

/** Counts the UpdateItem requests a client sends (a middleware on the real client). */
export function countUpdates(client: DynamoDBClient): { readonly count: number; reset(): void } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UpdateItemCommand') counter.count++;
      return next(args);
    },
    { step: 'initialize', name: 'countUpdateItem' },
  );
  return {
    get count() {
      return counter.count;
    },
    reset() {
      counter.count = 0;
    },
  };
}
