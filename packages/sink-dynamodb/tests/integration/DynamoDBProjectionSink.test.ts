import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type ChangeRecord, ConfigurationError, type Item } from '@shardline/core';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PROJECTION_TOMBSTONE_TTL_SECONDS,
  DynamoDBProjectionSink,
  type DynamoDBProjectionSinkOptions,
} from '../../src/index.js';
import {
  asBootstrap,
  createKeyedTable,
  createStateTable,
  scanItems,
  userChange,
} from '../helpers/projection.js';

const NOW = 1_800_000_000_000;

describe('DynamoDBProjectionSink on DynamoDB Local', () => {
  let server: DynamoDBLocalServer;
  let client: DynamoDBClient;
  let tables = 0;

  /** A sink over fresh tables: `Copy<n>` keyed by `id`, and its state table. */
  const keyedSink = async (
    options: Partial<DynamoDBProjectionSinkOptions> = {},
  ): Promise<{ sink: DynamoDBProjectionSink; target: string; state: string }> => {
    const target = `Copy${++tables}`;
    await createKeyedTable(client, target, 'id');
    await createStateTable(client, `${target}-state`);
    const sink = new DynamoDBProjectionSink({
      client,
      tableName: target,
      stateTableName: `${target}-state`,
      now: () => NOW,
      ...options,
    });
    return { sink, target, state: `${target}-state` };
  };

  /** A derived sink: users by e-mail (`ByEmail<n>`, key `email`) and by tag (`ByTag<n>`, key tag + id). */
  const derivedSink = async (
    options: Partial<DynamoDBProjectionSinkOptions> = {},
  ): Promise<{ sink: DynamoDBProjectionSink; byEmail: string; byTag: string; state: string }> => {
    const n = ++tables;
    const byEmail = `ByEmail${n}`;
    const byTag = `ByTag${n}`;
    await createKeyedTable(client, byEmail, 'email');
    await createKeyedTable(client, byTag, 'tag', 'id');
    await createStateTable(client, `${byEmail}-state`);
    const sink = new DynamoDBProjectionSink({
      client,
      tableName: byEmail,
      stateTableName: `${byEmail}-state`,
      project: (user) => [
        ...(typeof user.email === 'string'
          ? [{ key: { email: user.email }, attributes: { id: user.id, name: user.name } }]
          : []),
        ...((user.tags as string[] | undefined) ?? []).map((tag) => ({
          tableName: byTag,
          key: { tag, id: user.id },
        })),
      ],
      now: () => NOW,
      ...options,
    });
    return { sink, byEmail, byTag, state: `${byEmail}-state` };
  };

  const write = async (sink: DynamoDBProjectionSink, records: readonly ChangeRecord[]) => {
    const results = await sink.write(records, { attempt: 1 });
    expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
    return results;
  };

  const getItem = async (tableName: string, key: Item): Promise<Item | undefined> => {
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    const response = await client.send(
      new GetItemCommand({ TableName: tableName, Key: marshall(key), ConsistentRead: true }),
    );
    return response.Item ? (unmarshall(response.Item) as Item) : undefined;
  };

  beforeAll(async () => {
    server = await startDynamoDBLocal();
    client = new DynamoDBClient(server.clientConfig);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  describe('keyed (copy, filter, transform, attributes)', () => {
    it('copies each item with the version of the change that wrote it', async () => {
      // arrange
      const { sink, target } = await keyedSink();
      // act
      await write(sink, [
        userChange({ id: 'u1', image: { name: 'Ann', n: 1 }, order: 1, insert: true }),
        userChange({ id: 'u2', image: { name: 'Bob', tags: new Set(['x']) }, order: 1 }),
      ]);
      await write(sink, [userChange({ id: 'u1', image: { name: 'Ann', n: 2 }, order: 2 })]);
      // assert
      expect(await scanItems(client, target)).toEqual([
        { id: 'u1', name: 'Ann', n: 2 },
        { id: 'u2', name: 'Bob', tags: new Set(['x']) },
      ]);
      expect((await getItem(target, { id: 'u1' }))?._shardlineVersion).toBe(
        String(1_700_000_000_002_000).padStart(64, '0'),
      );
    });

    it('replaces and deletes target items written before the sink, which carry no version', async () => {
      // arrange: a copy seeded by an import (no _shardlineVersion)
      const { sink, target } = await keyedSink();
      for (const id of ['u1', 'u2', 'u3']) {
        await client.send(
          new PutItemCommand({ TableName: target, Item: { id: { S: id }, n: { N: '1' } } }),
        );
      }
      // act: an update, an INSERT (the creation path) and a REMOVE of the imported items
      await write(sink, [
        userChange({ id: 'u1', image: { n: 2 }, order: 5 }),
        userChange({ id: 'u2', image: { n: 2 }, order: 5, insert: true }),
        userChange({ id: 'u3', image: null, order: 5 }),
      ]);
      // assert: all three applied (the version condition alone was false on every one)
      expect(await scanItems(client, target)).toEqual([
        { id: 'u1', n: 2 },
        { id: 'u2', n: 2 },
      ]);
    });

    it('projects attributes after a transform, and deletes an item the filter no longer keeps', async () => {
      // arrange
      const { sink, target, state } = await keyedSink({
        filter: (user) => user.active === true,
        transform: (user) => ({ ...user, name: String(user.name).toUpperCase() }),
        attributes: ['name'],
        versionAttribute: 'rev',
      });
      // act
      await write(sink, [
        userChange({ id: 'u1', image: { name: 'ann', active: true, secret: 's' }, order: 1 }),
        userChange({ id: 'u2', image: { name: 'bob', active: true }, order: 1 }),
        userChange({ id: 'u3', image: { name: 'cid', active: false }, order: 1 }),
      ]);
      await write(sink, [
        userChange({ id: 'u2', image: { name: 'bob', active: false }, order: 2 }),
      ]);
      // assert
      expect(await scanItems(client, target, ['rev'])).toEqual([{ id: 'u1', name: 'ANN' }]);
      const tombstone = await getItem(state, { pk: 'Users/id=S:u2' });
      expect(tombstone).toMatchObject({
        v: String(1_700_000_000_002_000).padStart(64, '0'),
        expiresAt: NOW / 1000 + DEFAULT_PROJECTION_TOMBSTONE_TTL_SECONDS,
      });
    });

    it('a REMOVE deletes the item and leaves a tombstone that stops older changes from bringing it back', async () => {
      // arrange
      const { sink, target } = await keyedSink({ tombstoneTtlSeconds: 3600 });
      const v1 = userChange({ id: 'u1', image: { name: 'v1' }, order: 1 });
      const v2 = userChange({ id: 'u1', image: { name: 'v2' }, order: 2 });
      const removed = userChange({ id: 'u1', image: null, order: 3 });
      // act: the delete arrives first, then the older changes (reordering, dead-letter replays)
      await write(sink, [removed]);
      await write(sink, [v2]);
      await write(sink, [v1]);
      // assert
      expect(await scanItems(client, target)).toEqual([]);
      // act: a newer change after the delete creates it again
      await write(sink, [userChange({ id: 'u1', image: { name: 'v4' }, order: 4 })]);
      expect(await scanItems(client, target)).toEqual([{ id: 'u1', name: 'v4' }]);
    });

    it('stale replays and reversed batches change nothing (KDS-for-DynamoDB and DynamoDB Streams versions)', async () => {
      for (const source of ['kds', 'streams'] as const) {
        // arrange
        const { sink, target } = await keyedSink();
        const history = [1, 2, 3, 4].map((order) =>
          userChange({ id: 'u1', image: { name: `v${order}` }, order, source }),
        );
        // act: newest first in one batch, then each older one again alone
        await write(sink, [...history].reverse());
        for (const record of history.slice(0, -1)) await write(sink, [record]);
        // assert
        expect(await scanItems(client, target)).toEqual([{ id: 'u1', name: 'v4' }]);
      }
    });

    it('a bootstrap record is written only where nothing of the item is held', async () => {
      // arrange
      const { sink, target } = await keyedSink();
      await write(sink, [
        userChange({ id: 'held', image: { name: 'stream' }, order: 5 }),
        userChange({ id: 'gone', image: null, order: 5 }),
      ]);
      // act
      await write(sink, [
        asBootstrap(userChange({ id: 'held', image: { name: 'scan' }, order: 9 })),
        asBootstrap(userChange({ id: 'gone', image: { name: 'scan' }, order: 9 })),
        asBootstrap(userChange({ id: 'new', image: { name: 'scan' }, order: 9 })),
      ]);
      // assert
      expect(await scanItems(client, target)).toEqual([
        { id: 'held', name: 'stream' },
        { id: 'new', name: 'scan' },
      ]);
      // act: the stream's first change of the bootstrapped item replaces it
      await write(sink, [userChange({ id: 'new', image: { name: 'stream' }, order: 1 })]);
      expect(await getItem(target, { id: 'new' })).toMatchObject({ name: 'stream' });
    });

    it('extra transaction actions run with the applied change, never with a stale one', async () => {
      // arrange
      const audit = `Audit${++tables}`;
      await createKeyedTable(client, audit, 'id');
      const { sink, target } = await keyedSink({
        transaction: ({ record, image }) => [
          {
            Put: {
              TableName: audit,
              Item: {
                id: { S: String(record.keys?.id) },
                last: { S: image ? String(image.name) : 'deleted' },
              },
            },
          },
        ],
      });
      // act
      await write(sink, [userChange({ id: 'u1', image: { name: 'v1' }, order: 1 })]); // create
      await write(sink, [userChange({ id: 'u1', image: { name: 'v3' }, order: 3 })]); // update
      await write(sink, [userChange({ id: 'u1', image: { name: 'v2' }, order: 2 })]); // stale
      await write(sink, [userChange({ id: 'u2', image: null, order: 1 })]); // delete
      // assert
      expect(await scanItems(client, target)).toEqual([{ id: 'u1', name: 'v3' }]);
      expect(await scanItems(client, audit)).toEqual([
        { id: 'u1', last: 'v3' },
        { id: 'u2', last: 'deleted' },
      ]);
    });

    it('an extra action whose condition fails fails the record, not retriable, and writes nothing', async () => {
      // arrange
      const audit = `Audit${++tables}`;
      await createKeyedTable(client, audit, 'id');
      const { sink, target } = await keyedSink({
        transaction: () => [
          {
            ConditionCheck: {
              TableName: audit,
              Key: { id: { S: 'gate' } },
              ConditionExpression: 'attribute_exists(id)',
            },
          },
        ],
      });
      // act
      const results = await sink.write([userChange({ id: 'u1', image: { n: 1 }, order: 1 })], {
        attempt: 1,
      });
      // assert
      expect(results[0]).toMatchObject({ status: 'failed', retriable: false });
      expect(await scanItems(client, target)).toEqual([]);
      // act: once the condition holds, the record goes through
      await client.send(new PutItemCommand({ TableName: audit, Item: { id: { S: 'gate' } } }));
      await write(sink, [userChange({ id: 'u1', image: { n: 1 }, order: 1 })]);
      expect(await scanItems(client, target)).toEqual([{ id: 'u1', n: 1 }]);
    });

    it('a record without a new image or without keys fails alone, not retriable', async () => {
      // arrange
      const { sink } = await keyedSink();
      const keysOnly = userChange({ id: 'u1', image: { n: 1 }, order: 1 });
      const noImage = new Proxy(keysOnly, {
        get: (t, p) => (p === 'newImage' ? undefined : Reflect.get(t, p, t)),
      });
      // act
      const results = await sink.write(
        [noImage, userChange({ id: 'u2', image: { n: 1 }, order: 1 })],
        { attempt: 1 },
      );
      // assert
      expect(results[0]).toMatchObject({ status: 'failed', retriable: false });
      expect(results[1]).toEqual({ status: 'ok' });
    });
  });

  describe('derived (re-key, one-to-many, several tables)', () => {
    it('writes every item a source item produces and deletes the ones it no longer produces', async () => {
      // arrange
      const { sink, byEmail, byTag } = await derivedSink();
      // act
      await write(sink, [
        userChange({
          id: 'u1',
          image: { email: 'a@x', name: 'Ann', tags: ['t1', 't2'] },
          order: 1,
        }),
        userChange({ id: 'u2', image: { email: 'b@x', name: 'Bob', tags: ['t1'] }, order: 1 }),
      ]);
      await write(sink, [
        userChange({
          id: 'u1',
          image: { email: 'a2@x', name: 'Ann', tags: ['t2', 't3'] },
          order: 2,
        }),
        userChange({ id: 'u2', image: null, order: 2 }),
      ]);
      // assert
      expect(await scanItems(client, byEmail)).toEqual([{ email: 'a2@x', id: 'u1', name: 'Ann' }]);
      expect(await scanItems(client, byTag)).toEqual([
        { tag: 't2', id: 'u1' },
        { tag: 't3', id: 'u1' },
      ]);
    });

    it('leaves a target another source item took over: an e-mail address that moved between users', async () => {
      // arrange: Ann has a@x, Bob b@x
      const { sink, byEmail } = await derivedSink();
      await write(sink, [
        userChange({ id: 'u1', image: { email: 'a@x', name: 'Ann' }, order: 1 }),
        userChange({ id: 'u2', image: { email: 'b@x', name: 'Bob' }, order: 1 }),
      ]);
      // act: Bob takes a@x, applied before Ann's move to a2@x (two shards, any order)
      await write(sink, [userChange({ id: 'u2', image: { email: 'a@x', name: 'Bob' }, order: 3 })]);
      await write(sink, [
        userChange({ id: 'u1', image: { email: 'a2@x', name: 'Ann' }, order: 2 }),
      ]);
      // assert: Ann's move does not delete Bob's row
      expect(await scanItems(client, byEmail)).toEqual([
        { email: 'a@x', id: 'u2', name: 'Bob' },
        { email: 'a2@x', id: 'u1', name: 'Ann' },
      ]);
    });

    it('older changes arriving after newer ones, and after a delete, change nothing', async () => {
      // arrange
      const { sink, byEmail, byTag } = await derivedSink();
      const v1 = userChange({ id: 'u1', image: { email: 'v1@x', tags: ['a'] }, order: 1 });
      const v2 = userChange({ id: 'u1', image: { email: 'v2@x', tags: ['b'] }, order: 2 });
      const removed = userChange({ id: 'u1', image: null, order: 3 });
      // act
      await write(sink, [v2]);
      await write(sink, [v1]);
      expect(await scanItems(client, byEmail)).toEqual([{ email: 'v2@x', id: 'u1' }]);
      await write(sink, [removed]);
      await write(sink, [v1]);
      await write(sink, [v2]);
      // assert
      expect(await scanItems(client, byEmail)).toEqual([]);
      expect(await scanItems(client, byTag)).toEqual([]);
    });

    it('a bootstrap record is written only where the source item has no state entry', async () => {
      // arrange
      const { sink, byEmail } = await derivedSink();
      await write(sink, [
        userChange({ id: 'u1', image: { email: 'stream@x' }, order: 3 }),
        userChange({ id: 'u2', image: null, order: 3 }),
      ]);
      // act
      await write(sink, [
        asBootstrap(userChange({ id: 'u1', image: { email: 'scan1@x' }, order: 9 })),
        asBootstrap(userChange({ id: 'u2', image: { email: 'scan2@x' }, order: 9 })),
        asBootstrap(userChange({ id: 'u3', image: { email: 'scan3@x' }, order: 9 })),
      ]);
      // assert
      expect(await scanItems(client, byEmail)).toEqual([
        { email: 'scan3@x', id: 'u3' },
        { email: 'stream@x', id: 'u1' },
      ]);
    });

    it('refuses a change that needs more than 100 transaction actions, naming the limit', async () => {
      // arrange
      const { sink } = await derivedSink();
      const tags = Array.from({ length: 100 }, (_, i) => `t${i}`);
      // act
      const results = await sink.write([userChange({ id: 'u1', image: { tags }, order: 1 })], {
        attempt: 1,
      });
      // assert
      expect(results[0]).toMatchObject({ status: 'failed', retriable: false });
      expect((results[0] as { error: Error }).error.message).toMatch(/at most 100/);
    });

    it('extra transaction actions go in the same transaction as the derived writes', async () => {
      // arrange
      const counts = `Counts${++tables}`;
      await createKeyedTable(client, counts, 'id');
      const { sink, byTag } = await derivedSink({
        transaction: ({ record, targets }) => [
          {
            Put: {
              TableName: counts,
              Item: { id: { S: String(record.keys?.id) }, items: { N: String(targets.length) } },
            },
          },
        ],
      });
      // act
      await write(sink, [userChange({ id: 'u1', image: { tags: ['a', 'b'] }, order: 2 })]);
      await write(sink, [userChange({ id: 'u1', image: { tags: ['c'] }, order: 1 })]); // stale
      // assert
      expect(await scanItems(client, byTag)).toEqual([
        { tag: 'a', id: 'u1' },
        { tag: 'b', id: 'u1' },
      ]);
      expect(await scanItems(client, counts)).toEqual([{ id: 'u1', items: 2 }]);
    });
  });

  it('names the bad option at construction', () => {
    const base = { client, tableName: 'Copy', stateTableName: 'Copy-state' };
    expect(() => new DynamoDBProjectionSink({ ...base, stateTableName: 'Copy' })).toThrow(
      ConfigurationError,
    );
    expect(
      () => new DynamoDBProjectionSink({ ...base, project: () => [], attributes: ['a'] }),
    ).toThrow(/cannot be combined/);
    expect(() => new DynamoDBProjectionSink({ ...base, tombstoneTtlSeconds: -1 })).toThrow(
      /tombstoneTtlSeconds/,
    );
    expect(() => new DynamoDBProjectionSink({ ...base, concurrency: 0 })).toThrow(/concurrency/);
  });
});
