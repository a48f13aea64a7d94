import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DynamoDBLocalServer,
  type MultiShardStreamsServer,
  startDynamoDBLocal,
  startMultiShardStreamsServer,
} from '../../src/index.js';

describe('multi-shard DynamoDB Streams server', () => {
  let ddb: DynamoDBLocalServer;
  let server: MultiShardStreamsServer;
  let table: DynamoDBClient;
  let streams: DynamoDBStreamsClient;
  beforeAll(async () => {
    ddb = await startDynamoDBLocal();
    table = new DynamoDBClient(ddb.clientConfig);
    const created = await table.send(
      new CreateTableCommand({
        TableName: 'Items',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    server = await startMultiShardStreamsServer({
      source: ddb.clientConfig,
      sourceStreamArn: created.TableDescription?.LatestStreamArn ?? '',
      shardCount: 4,
      seed: 7,
    });
    streams = new DynamoDBStreamsClient(server.clientConfig);
  }, 60_000);
  afterAll(async () => {
    streams?.destroy();
    table?.destroy();
    await server?.close();
    await ddb?.stop();
  });

  async function readShard(
    shardId: string,
    limit: number,
  ): Promise<{ key: string; seq: string }[]> {
    const it = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: server.streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const out: { key: string; seq: string }[] = [];
    let iterator = it.ShardIterator;
    while (iterator) {
      const page = await streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
      );
      for (const r of page.Records ?? [])
        out.push({ key: r.dynamodb?.Keys?.id?.S ?? '', seq: r.dynamodb?.SequenceNumber ?? '' });
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
    return out;
  }

  it('keeps feeding after its table sat idle while another table was written', async () => {
    // arrange: DynamoDB Local then answers TrimmedDataAccessException on the iterator that
    // waited on the quiet table's empty shard
    const tableWithStream = (TableName: string) =>
      table.send(
        new CreateTableCommand({
          TableName,
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
        }),
      );
    const quiet = await tableWithStream('Quiet');
    const server2 = await startMultiShardStreamsServer({
      source: ddb.clientConfig,
      sourceStreamArn: quiet.TableDescription?.LatestStreamArn ?? '',
      shardCount: 2,
    });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      await tableWithStream('Busy');
      for (let i = 0; i < 20; i++) {
        await table.send(new PutItemCommand({ TableName: 'Busy', Item: { id: { S: `b${i}` } } }));
      }
      await new Promise((r) => setTimeout(r, 3000));
      // act
      for (let i = 0; i < 10; i++) {
        await table.send(new PutItemCommand({ TableName: 'Quiet', Item: { id: { S: `q${i}` } } }));
      }
      await server2.sync();
      // assert
      expect(server2.shards().reduce((n, s) => n + s.recordCount, 0)).toBe(10);
    } finally {
      await server2.close();
    }
  }, 30_000);

  it('routes every change to exactly one shard, per-key in order, across a rollover and a split', async () => {
    // arrange
    const write = async (round: number) => {
      for (let i = 0; i < 20; i += 1)
        await table.send(
          new PutItemCommand({
            TableName: 'Items',
            Item: { id: { S: `k${i}` }, n: { N: String(round) } },
          }),
        );
      await server.sync();
    };
    await write(0);
    // act
    server.rollover();
    await write(1);
    const open = server.shards().find((s) => s.endingSequenceNumber === undefined);
    server.split(open?.shardId ?? '');
    await write(2);
    const described = await streams.send(
      new DescribeStreamCommand({ StreamArn: server.streamArn, Limit: 3 }),
    );
    const seen: { key: string; seq: string }[] = [];
    for (const shard of server.shards()) seen.push(...(await readShard(shard.shardId, 7)));
    // assert
    expect(server.shards()).toHaveLength(4 + 4 + 2);
    expect(described.StreamDescription?.Shards).toHaveLength(3);
    expect(described.StreamDescription?.LastEvaluatedShardId).toBe(server.shards()[2]?.shardId);
    expect(seen).toHaveLength(60);
    expect(new Set(seen.map((r) => r.seq)).size).toBe(60);
    for (let i = 0; i < 20; i += 1) {
      const seqs = seen.filter((r) => r.key === `k${i}`).map((r) => BigInt(r.seq));
      expect(seqs).toHaveLength(3);
      expect([...seqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs);
    }
  }, 60_000);

  it('answers CHILD_SHARDS, TrimmedDataAccessException, ExpiredIteratorException and ResourceNotFoundException', async () => {
    // arrange
    const strict = await startMultiShardStreamsServer({
      source: ddb.clientConfig,
      sourceStreamArn: server.streamArn,
      shardCount: 1,
      retentionMs: 0,
      iteratorTtlMs: 0,
      seed: 3,
    });
    const client = new DynamoDBStreamsClient(strict.clientConfig);
    try {
      await strict.sync();
      const [parent] = strict.shards();
      const children = strict.split(parent?.shardId ?? '');
      const it = await client.send(
        new GetShardIteratorCommand({
          StreamArn: strict.streamArn,
          ShardId: parent?.shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
      // act
      const childShards = await client.send(
        new DescribeStreamCommand({
          StreamArn: strict.streamArn,
          ShardFilter: { Type: 'CHILD_SHARDS', ShardId: parent?.shardId },
        }),
      );
      const expired = client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
      strict.trim();
      const trimmed = client.send(
        new GetShardIteratorCommand({
          StreamArn: strict.streamArn,
          ShardId: parent?.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          SequenceNumber: '1',
        }),
      );
      const missing = client.send(new DescribeStreamCommand({ StreamArn: `${strict.streamArn}x` }));
      // assert
      expect(childShards.StreamDescription?.Shards?.map((s) => s.ShardId)).toEqual(children);
      await expect(expired).rejects.toMatchObject({ name: 'ExpiredIteratorException' });
      await expect(trimmed).rejects.toMatchObject({ name: 'TrimmedDataAccessException' });
      await expect(missing).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    } finally {
      client.destroy();
      await strict.close();
    }
  }, 60_000);
});
