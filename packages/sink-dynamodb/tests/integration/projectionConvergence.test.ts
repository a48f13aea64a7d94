/**
 * Property: whatever order, duplication and concurrency the changes of an item arrive in (as
 * "Kinesis Data Streams for DynamoDB" duplicates and reorders them, and a dead-letter queue
 * replays them), together with a bootstrap read of the item at any point of its history, the
 * target table ends equal to the projection of each item's last state.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ChangeRecord, Item } from '@shardline/core';
import { type DynamoDBLocalServer, seededRandom, startDynamoDBLocal } from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBProjectionSink, type DynamoDBProjectionSinkOptions } from '../../src/index.js';
import {
  asBootstrap,
  createKeyedTable,
  createStateTable,
  scanItems,
  userChange,
} from '../helpers/projection.js';

/** One item's life: its state before the stream starts, then its changes (`null`: deleted). */
interface ItemHistory {
  readonly initial: Item | null;
  readonly changes: readonly (Item | null)[];
  /** Which state a bootstrap read: 0 = initial, k = after change k. */
  readonly bootstrapAt: number;
}

const imageArbitrary: fc.Arbitrary<Item | null> = fc.oneof(
  fc.constant(null),
  fc.record({
    name: fc.constantFrom('a', 'b', 'c'),
    active: fc.boolean(),
    group: fc.constantFrom('g1', 'g2'),
  }),
);

const historyArbitrary: fc.Arbitrary<ItemHistory> = fc
  .record({
    initial: imageArbitrary,
    changes: fc.array(imageArbitrary, { minLength: 0, maxLength: 6, size: 'max' }),
  })
  .chain((h) =>
    fc.record({
      initial: fc.constant(h.initial),
      changes: fc.constant(h.changes),
      bootstrapAt: fc.integer({ min: 0, max: h.changes.length }),
    }),
  );

/** How the records reach the sink: duplicated, shuffled, in concurrent lanes of batches. */
const deliveryArbitrary = fc.record({
  /** Seeds the duplication and the shuffle (a permutation from fast-check's biased numbers would keep most records in place). */
  seed: fc.integer(),
  lanes: fc.integer({ min: 1, max: 4 }),
  batchSize: fc.integer({ min: 1, max: 8 }),
});

interface Mode {
  readonly name: string;
  /** The options of the sink and the tables it writes, created fresh. */
  setup(
    client: DynamoDBClient,
    n: number,
  ): Promise<{ options: DynamoDBProjectionSinkOptions; tables: string[] }>;
  /** Each target table's expected items, from each item's last state. */
  expected(last: ReadonlyMap<string, Item>): Item[][];
}

const keyedCopy: Mode = {
  name: 'keyed copy of the active users, two attributes',
  async setup(client, n) {
    await createKeyedTable(client, `Copy${n}`, 'id');
    await createStateTable(client, `Copy${n}-state`);
    return {
      options: {
        client,
        tableName: `Copy${n}`,
        stateTableName: `Copy${n}-state`,
        filter: (user) => user.active === true,
        attributes: ['name', 'group'],
      },
      tables: [`Copy${n}`],
    };
  },
  expected(last) {
    return [
      [...last]
        .filter(([, user]) => user.active === true)
        .map(([id, user]) => ({ id, name: user.name, group: user.group })),
    ];
  },
};

const derived: Mode = {
  name: 'derived: re-keyed by group and name, one-to-many over two tables',
  async setup(client, n) {
    await createKeyedTable(client, `ByGroup${n}`, 'group', 'id');
    await createKeyedTable(client, `ByName${n}`, 'name', 'id');
    await createStateTable(client, `ByGroup${n}-state`);
    return {
      options: {
        client,
        tableName: `ByGroup${n}`,
        stateTableName: `ByGroup${n}-state`,
        project: (user) => [
          { key: { group: user.group, id: user.id }, attributes: { name: user.name } },
          ...(user.active === true
            ? [{ tableName: `ByName${n}`, key: { name: user.name, id: user.id } }]
            : []),
        ],
      },
      tables: [`ByGroup${n}`, `ByName${n}`],
    };
  },
  expected(last) {
    const users = [...last];
    return [
      users.map(([id, user]) => ({ group: user.group, id, name: user.name })),
      users
        .filter(([, user]) => user.active === true)
        .map(([id, user]) => ({ name: user.name, id })),
    ];
  },
};

describe('DynamoDBProjectionSink converges whatever the delivery', () => {
  let server: DynamoDBLocalServer;
  let client: DynamoDBClient;
  let tables = 0;

  beforeAll(async () => {
    server = await startDynamoDBLocal();
    client = new DynamoDBClient(server.clientConfig);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  describe.each([keyedCopy, derived])('$name', (mode) => {
    it('ends equal to the projection of each item’s last state', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(historyArbitrary, { minLength: 1, maxLength: 6, size: 'max' }),
          deliveryArbitrary,
          async (histories, delivery) => {
            // arrange
            const { options, tables: targets } = await mode.setup(client, ++tables);
            const sink = new DynamoDBProjectionSink(options);
            const records: ChangeRecord[] = [];
            const last = new Map<string, Item>();
            histories.forEach((history, i) => {
              const id = `u${i}`;
              const states = [history.initial, ...history.changes];
              history.changes.forEach((image, k) => {
                // An INSERT where the item did not exist before, as DynamoDB names it.
                const insert = states[k] === null;
                records.push(userChange({ id, image, order: k + 1, insert }));
              });
              const read = states[history.bootstrapAt];
              if (read) {
                records.push(asBootstrap(userChange({ id, image: read, order: 0, insert: true })));
              }
              const final = states.at(-1);
              if (final) last.set(id, { ...final, id });
            });
            const random = seededRandom(delivery.seed);
            const sent = records.flatMap((record) =>
              Array.from({ length: 1 + Math.floor(random() * 3) }, () => record),
            );
            const shuffled = sent
              .map((record) => ({ record, rank: random() }))
              .sort((a, b) => a.rank - b.rank)
              .map((x) => x.record);
            // act: concurrent lanes, each writing its batches in turn
            await Promise.all(
              Array.from({ length: delivery.lanes }, async (_, lane) => {
                const mine = shuffled.filter((_, i) => i % delivery.lanes === lane);
                for (let i = 0; i < mine.length; i += delivery.batchSize) {
                  const results = await sink.write(mine.slice(i, i + delivery.batchSize), {
                    attempt: 1,
                  });
                  expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
                }
              }),
            );
            // assert
            const expected = mode.expected(last);
            for (const [index, table] of targets.entries()) {
              expect(await scanItems(client, table)).toEqual(await sortedLike(expected[index]!));
            }
          },
        ),
        { numRuns: 30, seed: 20261207 },
      );
    });
  });
});

/** The expected items in the order `scanItems` returns them. */
async function sortedLike(items: Item[]): Promise<Item[]> {
  const key = (item: Item) =>
    JSON.stringify(Object.entries(item).sort(([x], [y]) => x.localeCompare(y)));
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}
