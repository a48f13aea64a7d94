/**
 * Benchmark of bootstrapTable on a DynamoDB Local it starts. Run:
 * `npx tsc -b && npx tsx test/bench/bootstrap.ts [--items=4000] [--rounds=3]`.
 *
 * 1. Budget: consumed RCU per second against the budget (readPercent × the provisioned RCU), as
 *    a ratio; it should stay at or under 1.0 and above 0.8. The bucket starts empty, so the
 *    ratio over a whole run includes the first wait.
 * 2. Speed: items/s of bootstrapTable with a budget too large to bind, next to a plain parallel
 *    Scan (same segments, Limit 1000, no delivery) measured in the same run, as a ratio.
 */
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { bootstrapTable } from '@shardline/bootstrap';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { startDynamoDBLocal } from '@shardline/testing';
import { flag, table } from './harness.js';

const ITEMS = flag('items', 10_000);
const ROUNDS = flag('rounds', 3);
const SEGMENTS = 4;
const PROVISIONED_RCU = 400;

const server = await startDynamoDBLocal();
const client = new DynamoDBClient(server.clientConfig);
const TABLE = 'BenchSource';
const LEASES = 'bench-bootstrap-leases';

await client.send(
  new CreateTableCommand({
    TableName: TABLE,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    ProvisionedThroughput: { ReadCapacityUnits: PROVISIONED_RCU, WriteCapacityUnits: 1000 },
  }),
);
await new DynamoDBLeaseStore({
  client,
  tableName: LEASES,
  streamId: 'bench',
}).createTableIfNotExists();
for (let start = 0; start < ITEMS; start += 25) {
  const puts = Array.from({ length: Math.min(25, ITEMS - start) }, (_, i) => ({
    PutRequest: {
      Item: {
        pk: { S: `item-${start + i}` },
        n: { N: String(start + i) },
        pad: { S: 'x'.repeat(900) },
      },
    },
  }));
  await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: puts } }));
}

let run = 0;
async function budgeted(readPercent: number, readCapacityUnits?: number) {
  const started = Date.now();
  // Steady state: RCU from the end of the first page to the end of the last, over that time.
  let first: { at: number; rcu: number } | undefined;
  let last: { at: number; rcu: number } | undefined;
  const result = await bootstrapTable({
    onProgress: (p) => {
      const mark = { at: Date.now(), rcu: p.consumedRcu };
      first ??= mark;
      last = mark;
    },
    client,
    table: TABLE,
    progressTable: LEASES,
    bootstrapId: `bench-${++run}`,
    segments: SEGMENTS,
    readPercent,
    ...(readCapacityUnits ? { readCapacityUnits } : {}),
    handler: () => undefined,
  });
  const seconds = (Date.now() - started) / 1000;
  const steady =
    first && last && last.at > first.at
      ? (last.rcu - first.rcu) / ((last.at - first.at) / 1000)
      : 0;
  return { result, seconds, steady };
}

async function plainParallelScan(): Promise<{ items: number; seconds: number }> {
  const started = Date.now();
  let items = 0;
  await Promise.all(
    Array.from({ length: SEGMENTS }, async (_, segment) => {
      let startKey: Record<string, never> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: TABLE,
            Segment: segment,
            TotalSegments: SEGMENTS,
            Limit: 1000,
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        items += page.Items?.length ?? 0;
        startKey = page.LastEvaluatedKey as typeof startKey;
      } while (startKey);
    }),
  );
  return { items, seconds: (Date.now() - started) / 1000 };
}

const range = (values: number[]) =>
  `${Math.min(...values).toFixed(3)}-${Math.max(...values).toFixed(3)}`;

const budgetRows: string[][] = [
  [
    'readPercent',
    'budget RCU/s',
    'consumed RCU',
    's',
    'RCU/s',
    'ratio',
    'steady RCU/s',
    'steady ratio',
  ],
];
const ratios: number[] = [];
const steadyRatios: number[] = [];
for (const readPercent of [0.25, 0.5]) {
  for (let round = 0; round < ROUNDS; round++) {
    const { result, seconds, steady } = await budgeted(readPercent);
    const budget = result.budget!.unitsPerSecond;
    const perSecond = result.consumedRcu / seconds;
    ratios.push(perSecond / budget);
    steadyRatios.push(steady / budget);
    budgetRows.push([
      String(readPercent),
      String(budget),
      result.consumedRcu.toFixed(1),
      seconds.toFixed(2),
      perSecond.toFixed(1),
      (perSecond / budget).toFixed(3),
      steady.toFixed(1),
      (steady / budget).toFixed(3),
    ]);
  }
}
console.log(
  `Budget: ${ITEMS} items of ~1 KB, ${SEGMENTS} segments, ${PROVISIONED_RCU} provisioned RCU`,
);
table(budgetRows);
console.log(
  `consumed/budget ratio, whole run: ${range(ratios)}; steady (first to last page): ${range(steadyRatios)} (target 0.8-1.0)`,
);

const speedRows: string[][] = [['round', 'bootstrap items/s', 'plain Scan items/s', 'ratio']];
for (let round = 0; round < ROUNDS; round++) {
  const peer = await plainParallelScan();
  const { result, seconds } = await budgeted(1, 1_000_000);
  const ours = result.items / seconds;
  const theirs = peer.items / peer.seconds;
  speedRows.push([
    String(round + 1),
    ours.toFixed(0),
    theirs.toFixed(0),
    (ours / theirs).toFixed(2),
  ]);
}
console.log('\nUnbound budget (1,000,000 RCU) against a plain parallel Scan, same segments:');
table(speedRows);

client.destroy();
await server.stop();
