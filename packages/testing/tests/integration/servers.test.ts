import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { startDynamoDBLocal, startKinesalite, startS3rver } from '../../src/index.js';

describe('local servers', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(stops.map((stop) => stop()));
  });

  it('starts DynamoDB Local with streams on a free loopback port', async () => {
    // arrange
    const server = await startDynamoDBLocal();
    stops.push(server.stop);
    const client = new DynamoDBClient(server.clientConfig);
    // act
    const created = await client.send(
      new CreateTableCommand({
        TableName: 'Smoke',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const tables = await client.send(new ListTablesCommand({}));
    // assert
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(created.TableDescription?.LatestStreamArn).toContain('table/Smoke/stream/');
    expect(tables.TableNames).toEqual(['Smoke']);
    client.destroy();
  });

  it('starts kinesalite, which the SDK v3 client reaches over HTTP/1.1', async () => {
    const server = await startKinesalite();
    stops.push(server.stop);
    const client = new KinesisClient(server.clientConfig);
    await client.send(new CreateStreamCommand({ StreamName: 's', ShardCount: 2 }));
    const shards = await client.send(new ListShardsCommand({ StreamName: 's' }));
    expect(shards.Shards?.map((s) => s.ShardId)).toEqual([
      'shardId-000000000000',
      'shardId-000000000001',
    ]);
    client.destroy();
  });

  it('starts s3rver with buckets, path-style', async () => {
    const server = await startS3rver({ buckets: ['archive'] });
    stops.push(server.stop);
    const client = new S3Client(server.clientConfig);
    await client.send(new CreateBucketCommand({ Bucket: 'second' }));
    await client.send(new PutObjectCommand({ Bucket: 'archive', Key: 'a/b.txt', Body: 'hello' }));
    const object = await client.send(new GetObjectCommand({ Bucket: 'archive', Key: 'a/b.txt' }));
    expect(await object.Body?.transformToString()).toBe('hello');
    client.destroy();
  });
});
