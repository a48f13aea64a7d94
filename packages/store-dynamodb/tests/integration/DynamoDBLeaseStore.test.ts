import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { LeaseLostError } from '@shardline/core';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBLeaseStore, FLEET_ITEM_KEY } from '../../src/index.js';

const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
let server: DynamoDBLocalServer;
let client: DynamoDBClient;
let tableNo = 0;

async function newStore(options: { multiStream?: boolean } = {}) {
  const store = new DynamoDBLeaseStore({
    client,
    tableName: `leases-${++tableNo}`,
    ...(options.multiStream ? { multiStream: true } : { streamId: STREAM }),
  });
  await store.createTableIfNotExists();
  return store;
}

function shardLease(store: DynamoDBLeaseStore, shardId: string, parents: string[] = []) {
  return {
    leaseKey: store.leaseKeyFor(STREAM, shardId),
    streamId: STREAM,
    shardId,
    checkpoint: 'TRIM_HORIZON' as const,
    parentShardIds: parents,
    childShardIds: [],
  };
}

beforeAll(async () => {
  server = await startDynamoDBLocal();
  client = new DynamoDBClient(server.clientConfig);
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('DynamoDBLeaseStore', () => {
  it('reads a lease table written in the KCL format, checkpoints included', async () => {
    // arrange: items exactly as the KCL's DynamoDBLeaseSerializer writes them
    const store = await newStore();
    const put = (item: Record<string, unknown>) =>
      client.send(new PutItemCommand({ TableName: store.tableName, Item: item as never }));
    await put({
      leaseKey: { S: 'shardId-000000000000' },
      leaseOwner: { S: 'kcl-worker-1' },
      leaseCounter: { N: '1234' },
      checkpoint: { S: '49590338271490256608559692538361571095921575989136588898' },
      checkpointSubSequenceNumber: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '2' },
      startingHashKey: { S: '0' },
      endingHashKey: { S: '170141183460469231731687303715884105727' },
    });
    await put({
      leaseKey: { S: 'shardId-000000000001' },
      leaseCounter: { N: '7' },
      checkpoint: { S: 'SHARD_END' },
      checkpointSubSequenceNumber: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      childShardIds: { SS: ['shardId-000000000002', 'shardId-000000000003'] },
    });
    await put({
      leaseKey: { S: 'shardId-000000000002' },
      leaseCounter: { N: '0' },
      checkpoint: { S: 'TRIM_HORIZON' },
      checkpointSubSequenceNumber: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      parentShardId: { SS: ['shardId-000000000001'] },
    });
    // act
    const leases = (await store.listLeases()).sort((a, b) => a.leaseKey.localeCompare(b.leaseKey));
    // assert
    expect(leases).toHaveLength(3);
    expect(leases[0]).toMatchObject({
      streamId: STREAM,
      shardId: 'shardId-000000000000',
      leaseOwner: 'kcl-worker-1',
      leaseCounter: 1234,
      checkpoint: {
        sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
        subSequenceNumber: 0,
      },
      ownerSwitchesSinceCheckpoint: 2,
      hashKeyRange: {
        startingHashKey: '0',
        endingHashKey: '170141183460469231731687303715884105727',
      },
    });
    expect(leases[1]).toMatchObject({ checkpoint: 'SHARD_END', leaseOwner: undefined });
    expect([...leases[1]!.childShardIds].sort()).toEqual([
      'shardId-000000000002',
      'shardId-000000000003',
    ]);
    expect(leases[2]).toMatchObject({
      checkpoint: 'TRIM_HORIZON',
      parentShardIds: ['shardId-000000000001'],
    });
    expect(await store.getCheckpoint(STREAM, 'shardId-000000000001')).toBe('SHARD_END');
  });

  it('writes leases with the KCL attribute names and types', async () => {
    const store = await newStore();
    await store.createLeaseIfNotExists({
      ...shardLease(store, 'shardId-000000000004', ['shardId-000000000001']),
      hashKeyRange: { startingHashKey: '0', endingHashKey: '99' },
    });
    const taken = await store.takeLease('shardId-000000000004', 'w1', 0);
    await store.commitCheckpoint(
      STREAM,
      'shardId-000000000004',
      { sequenceNumber: '123', subSequenceNumber: 4 },
      {
        leaseKey: 'shardId-000000000004',
        owner: 'w1',
        leaseCounter: taken!.leaseCounter,
      },
    );
    const { Item } = await client.send(
      new (await import('@aws-sdk/client-dynamodb')).GetItemCommand({
        TableName: store.tableName,
        Key: { leaseKey: { S: 'shardId-000000000004' } },
      }),
    );
    expect(Item).toEqual({
      leaseKey: { S: 'shardId-000000000004' },
      leaseOwner: { S: 'w1' },
      leaseCounter: { N: '1' },
      checkpoint: { S: '123' },
      checkpointSubSequenceNumber: { N: '4' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      parentShardId: { SS: ['shardId-000000000001'] },
      startingHashKey: { S: '0' },
      endingHashKey: { S: '99' },
    });
  });

  it('fences a worker that lost its lease: no checkpoint move, and the error says why', async () => {
    // arrange
    const store = await newStore();
    await store.createLeaseIfNotExists(shardLease(store, 'shardId-000000000000'));
    const first = await store.takeLease('shardId-000000000000', 'old-owner', 0);
    const stale = {
      leaseKey: 'shardId-000000000000',
      owner: 'old-owner',
      leaseCounter: first!.leaseCounter,
    };
    await store.takeLease('shardId-000000000000', 'new-owner', first!.leaseCounter);
    // act
    const error = await store
      .commitCheckpoint(STREAM, 'shardId-000000000000', { sequenceNumber: '999' }, stale)
      .catch((e: unknown) => e);
    const renewal = await store.renewLease(stale).catch((e: unknown) => e);
    // assert
    expect(error).toBeInstanceOf(LeaseLostError);
    expect((error as Error).message).toContain('owner is now new-owner, not old-owner');
    expect((error as Error).message).toContain('checkpoint was not moved');
    expect(renewal).toBeInstanceOf(LeaseLostError);
    expect(await store.getCheckpoint(STREAM, 'shardId-000000000000')).toBe('TRIM_HORIZON');
  });

  it('hands a lease over: the old owner may commit once more, then only the new one', async () => {
    const store = await newStore();
    await store.createLeaseIfNotExists(shardLease(store, 'shardId-000000000000'));
    const taken = await store.takeLease('shardId-000000000000', 'a', 0);
    const handed = await store.handoverLease('shardId-000000000000', 'a', 'b', taken!.leaseCounter);
    expect(handed).toMatchObject({ leaseOwner: 'b', checkpointOwner: 'a' });
    // the new owner renews meanwhile; the old owner's final commit is still accepted
    await store.renewLease({
      leaseKey: 'shardId-000000000000',
      owner: 'b',
      leaseCounter: handed!.leaseCounter,
    });
    const finalToken = {
      leaseKey: 'shardId-000000000000',
      owner: 'a',
      leaseCounter: 0,
      handover: true,
    };
    await store.commitCheckpoint(
      STREAM,
      'shardId-000000000000',
      { sequenceNumber: '10' },
      finalToken,
    );
    await store.completeHandover('shardId-000000000000', 'a');
    const late = await store
      .commitCheckpoint(STREAM, 'shardId-000000000000', { sequenceNumber: '11' }, finalToken)
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(LeaseLostError);
    expect(await store.getLease('shardId-000000000000')).toMatchObject({
      leaseOwner: 'b',
      checkpointOwner: undefined,
      checkpoint: { sequenceNumber: '10' },
    });
  });

  it('finds leases by owner through LeaseOwnerToLeaseKeyIndex', async () => {
    const store = await newStore({ multiStream: true });
    for (const id of ['s0', 's1', 's2']) await store.createLeaseIfNotExists(shardLease(store, id));
    await store.takeLease(store.leaseKeyFor(STREAM, 's0'), 'a', 0);
    await store.takeLease(store.leaseKeyFor(STREAM, 's2'), 'a', 0);
    await store.takeLease(store.leaseKeyFor(STREAM, 's1'), 'b', 0);
    const mine = await store.listLeasesByOwner('a');
    expect(mine.map((l) => l.shardId).sort()).toEqual(['s0', 's2']);
    expect(mine[0]!.streamId).toBe(STREAM);
    expect(mine[0]!.leaseKey).toBe(`${STREAM}:${mine[0]!.shardId}`);
  });

  it('keeps fleet heartbeats in one coordination item that listLeases skips', async () => {
    const store = await newStore();
    await store.createLeaseIfNotExists(shardLease(store, 'shardId-000000000000'));
    await store.heartbeat('a', 1);
    await store.heartbeat('b', 0);
    const before = await store.readFleet();
    await store.heartbeat('a', 2);
    await store.noteLeaseSetChanged();
    await store.removeWorker('b', 12345); // a stale observation: refused silently
    const after = await store.readFleet();
    const aBefore = before.workers.find((w) => w.workerId === 'a')!;
    const aAfter = after.workers.find((w) => w.workerId === 'a')!;
    expect(aAfter.heartbeat).not.toBe(aBefore.heartbeat);
    expect(aAfter.leaseCount).toBe(2);
    expect(after.workers.map((w) => w.workerId).sort()).toEqual(['a', 'b']);
    expect(after.leaseSetVersion).toBe(before.leaseSetVersion + 1);
    await store.removeWorker('b');
    expect((await store.readFleet()).workers.map((w) => w.workerId)).toEqual(['a']);
    expect((await store.listLeases()).map((l) => l.leaseKey)).toEqual(['shardId-000000000000']);
    expect(FLEET_ITEM_KEY).toBe('__shardline_fleet__');
  });

  it('skips KCL 3 metadata items (entityType other than LEASE) when listing leases', async () => {
    // arrange: a KCL 3 migration-state item and a KCL lease that names its type
    const store = await newStore();
    const put = (item: Record<string, unknown>) =>
      client.send(new PutItemCommand({ TableName: store.tableName, Item: item as never }));
    await put({
      leaseKey: { S: 'Migration3.0' },
      entityType: { S: 'MIGRATION' },
      cv: { S: 'CLIENT_VERSION_3x' },
      mb: { S: 'worker-1' },
    });
    await put({
      leaseKey: { S: 'shardId-000000000000' },
      entityType: { S: 'LEASE' },
      leaseCounter: { N: '1' },
      checkpoint: { S: 'TRIM_HORIZON' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
    });
    // act
    const leases = await store.listLeases();
    // assert
    expect(leases.map((l) => l.leaseKey)).toEqual(['shardId-000000000000']);
  });
});
