import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDBLeaseStore,
  type DynamoDBLeaseStoreOptions,
  kclStreamIdentifier,
  streamForIdentifier,
  streamsAdapterStreamIdentifier,
} from '../../src/index.js';

const ORDERS = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
const PAYMENTS = 'arn:aws:kinesis:us-east-1:123456789012:stream/payments';
const VOTES_STREAM =
  'arn:aws:dynamodb:us-east-1:123456789012:table/votes/stream/2026-01-01T00:00:00.000';
const DDB_SHARD = 'shardId-00000001767225600000-1a2b3c4d';
let server: DynamoDBLocalServer;
let client: DynamoDBClient;
let tableNo = 0;

beforeAll(async () => {
  server = await startDynamoDBLocal();
  client = new DynamoDBClient(server.clientConfig);
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

async function table(): Promise<string> {
  const name = `forms-${++tableNo}`;
  await new DynamoDBLeaseStore({
    client,
    tableName: name,
    streamId: ORDERS,
  }).createTableIfNotExists();
  return name;
}

async function put(tableName: string, item: Record<string, unknown>) {
  await client.send(new PutItemCommand({ TableName: tableName, Item: item as never }));
}

async function item(tableName: string, leaseKey: string) {
  const out = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { leaseKey: { S: leaseKey } } }),
  );
  return out.Item;
}

function store(tableName: string, options: Partial<DynamoDBLeaseStoreOptions>) {
  return new DynamoDBLeaseStore({ client, tableName, ...options });
}

describe('stream identifiers', () => {
  it('writes the KCL and the Streams adapter forms, and maps each back to its stream only', () => {
    const kcl = kclStreamIdentifier(ORDERS, new Date('2023-11-14T22:13:20Z'));
    const adapter = streamsAdapterStreamIdentifier(VOTES_STREAM);
    expect(kcl).toBe('123456789012:orders:1700000000');
    expect(adapter).toBe('123456789012:us-east-1$123456789012$votes$2026-01-01T00_00_00.000:1');
    const streams = [PAYMENTS, ORDERS, VOTES_STREAM];
    expect(streamForIdentifier(kcl, streams)).toBe(ORDERS);
    expect(streamForIdentifier(`${kcl}:us-east-1`, streams)).toBe(ORDERS);
    expect(streamForIdentifier(`${kcl}:eu-west-1`, streams)).toBeUndefined();
    expect(streamForIdentifier(adapter, streams)).toBe(VOTES_STREAM);
    expect(streamForIdentifier(ORDERS, streams)).toBe(ORDERS);
    expect(streamForIdentifier('123456789012:refunds:1700000000', streams)).toBeUndefined();
    // a stream of the same name created again is another stream
    expect(streamForIdentifier(kcl, streams, new Map([[ORDERS, 1800000000]]))).toBeUndefined();
    expect(() => kclStreamIdentifier(VOTES_STREAM, new Date())).toThrow(/Kinesis stream ARN/);
  });
});

describe('DynamoDBLeaseStore: lease key forms', () => {
  it("takes over a KCL multi-stream table: leases read as their stream's, checkpoints kept, new leases in the KCL's form, pending checkpoints cleared on commit", async () => {
    // arrange: items as the KCL's DynamoDBMultiStreamLeaseSerializer writes them
    const tableName = await table();
    const kclKey = '123456789012:orders:1700000000:shardId-000000000000';
    await put(tableName, {
      leaseKey: { S: kclKey },
      leaseCounter: { N: '41' },
      checkpoint: { S: '49590338271490256608559692538361571095921575989136588898' },
      checkpointSubSequenceNumber: { N: '0' },
      pendingCheckpoint: { S: '49590338271490256608559692538361571095921575989136589999' },
      pendingCheckpointSubSequenceNumber: { N: '0' },
      pendingCheckpointState: { B: Buffer.from('state') },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      streamName: { S: '123456789012:orders:1700000000' },
      shardId: { S: 'shardId-000000000000' },
    });
    const leases = store(tableName, { multiStream: true, streams: [PAYMENTS, ORDERS] });
    // act
    const listed = await leases.listLeases();
    const childKey = leases.leaseKeyFor(ORDERS, 'shardId-000000000001');
    const otherKey = leases.leaseKeyFor(PAYMENTS, 'shardId-000000000000');
    const taken = await leases.takeLease(kclKey, 'shardline-1', 41);
    await leases.commitCheckpoint(
      ORDERS,
      'shardId-000000000000',
      { sequenceNumber: '49590338271490256608559692538361571095921575989136590000' },
      { leaseKey: kclKey, owner: 'shardline-1', leaseCounter: taken!.leaseCounter },
    );
    // assert
    expect(listed).toMatchObject([
      {
        leaseKey: kclKey,
        streamId: ORDERS,
        shardId: 'shardId-000000000000',
        checkpoint: {
          sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
        },
      },
    ]);
    expect(leases.leaseKeyFor(ORDERS, 'shardId-000000000000')).toBe(kclKey);
    expect(childKey).toBe('123456789012:orders:1700000000:shardId-000000000001');
    expect(otherKey).toBe(`${PAYMENTS}:shardId-000000000000`);
    const after = await item(tableName, kclKey);
    expect(after?.checkpoint).toEqual({
      S: '49590338271490256608559692538361571095921575989136590000',
    });
    expect(after?.pendingCheckpoint).toBeUndefined();
    expect(after?.pendingCheckpointSubSequenceNumber).toBeUndefined();
    expect(after?.pendingCheckpointState).toBeUndefined();
  });

  it('takes over a DynamoDB Streams Kinesis adapter multi-stream table', async () => {
    // arrange
    const tableName = await table();
    const identifier = streamsAdapterStreamIdentifier(VOTES_STREAM);
    await put(tableName, {
      leaseKey: { S: `${identifier}:${DDB_SHARD}` },
      leaseCounter: { N: '3' },
      checkpoint: { S: '4100000000000000000001' },
      checkpointSubSequenceNumber: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      streamName: { S: identifier },
      shardId: { S: DDB_SHARD },
    });
    const leases = store(tableName, { multiStream: true, streams: [ORDERS, VOTES_STREAM] });
    // act
    const listed = await leases.listLeases();
    // assert
    expect(listed).toMatchObject([
      {
        streamId: VOTES_STREAM,
        shardId: DDB_SHARD,
        checkpoint: { sequenceNumber: '4100000000000000000001' },
      },
    ]);
    expect(await leases.getCheckpoint(VOTES_STREAM, DDB_SHARD)).toEqual({
      sequenceNumber: '4100000000000000000001',
      subSequenceNumber: 0,
    });
    expect(leases.leaseKeyFor(VOTES_STREAM, 'shardId-00000001767240000000-99999999')).toBe(
      `${identifier}:shardId-00000001767240000000-99999999`,
    );
  });

  it('offers one lease per shard when a bare key and an identifier-keyed one both exist (an older version orphaned the bare one)', async () => {
    // arrange: both forms of ORDERS' shard 0, as left by a second stream added before this fix
    const tableName = await table();
    await put(tableName, {
      leaseKey: { S: 'shardId-000000000000' },
      leaseCounter: { N: '5' },
      checkpoint: { S: '111' },
      checkpointSubSequenceNumber: { N: '0' },
    });
    await put(tableName, {
      leaseKey: { S: `${ORDERS}:shardId-000000000000` },
      leaseCounter: { N: '9' },
      checkpoint: { S: '999' },
      checkpointSubSequenceNumber: { N: '0' },
      streamName: { S: ORDERS },
      shardId: { S: 'shardId-000000000000' },
    });
    const multi = store(tableName, {
      multiStream: true,
      streamId: ORDERS,
      streams: [ORDERS, PAYMENTS],
    });
    // act
    const listed = await multi.listLeases();
    // assert: the identifier-keyed lease, the one read since, whatever the scan order
    expect(listed.map((l) => [l.leaseKey, l.checkpoint])).toEqual([
      [`${ORDERS}:shardId-000000000000`, { sequenceNumber: '999', subSequenceNumber: 0 }],
    ]);
    expect(multi.leaseKeyFor(ORDERS, 'shardId-000000000000')).toBe(
      `${ORDERS}:shardId-000000000000`,
    );
  });

  it('keeps the first stream’s checkpoints when a second stream is added (bare shard-id keys stay that stream’s)', async () => {
    // arrange: the table served ORDERS alone (single-stream keys)
    const tableName = await table();
    const single = store(tableName, { streamId: ORDERS });
    await single.createLeaseIfNotExists({
      leaseKey: single.leaseKeyFor(ORDERS, 'shardId-000000000000'),
      streamId: ORDERS,
      shardId: 'shardId-000000000000',
      checkpoint: 'TRIM_HORIZON',
      parentShardIds: [],
      childShardIds: [],
    });
    await single.commitCheckpoint(ORDERS, 'shardId-000000000000', { sequenceNumber: '777' });
    // act: the worker now reads ORDERS and PAYMENTS
    const multi = store(tableName, {
      multiStream: true,
      streamId: ORDERS,
      streams: [ORDERS, PAYMENTS],
    });
    const listed = await multi.listLeases();
    // assert
    expect(listed).toMatchObject([
      { leaseKey: 'shardId-000000000000', streamId: ORDERS, shardId: 'shardId-000000000000' },
    ]);
    expect(multi.leaseKeyFor(ORDERS, 'shardId-000000000000')).toBe('shardId-000000000000');
    expect(await multi.getCheckpoint(ORDERS, 'shardId-000000000000')).toMatchObject({
      sequenceNumber: '777',
    });
    expect(multi.leaseKeyFor(PAYMENTS, 'shardId-000000000000')).toBe(
      `${PAYMENTS}:shardId-000000000000`,
    );
    // and back to one stream: the multi-stream keys are read as that stream's
    await multi.createLeaseIfNotExists({
      leaseKey: multi.leaseKeyFor(ORDERS, 'shardId-000000000001'),
      streamId: ORDERS,
      shardId: 'shardId-000000000001',
      checkpoint: 'TRIM_HORIZON',
      parentShardIds: ['shardId-000000000000'],
      childShardIds: [],
    });
    const again = store(tableName, { streamId: ORDERS });
    const relisted = await again.listLeases();
    expect(relisted.map((l) => [l.streamId, l.shardId]).sort()).toEqual([
      [ORDERS, 'shardId-000000000000'],
      [ORDERS, 'shardId-000000000001'],
    ]);
  });
});
