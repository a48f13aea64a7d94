/**
 * Benchmark of the DynamoDB projection sink (copy and derived tables) against naive peers that
 * write without conditions (one PutItem per change; BatchWriteItem of 25), on a DynamoDB Local
 * it starts. Run: `npx tsc -b && npx tsx test/bench/projection-sink.ts`.
 *
 * Prints, per phase (creates, updates, deletes, a replay of every change), the write units per
 * change the service reported (`ReturnConsumedCapacity: TOTAL`), and records/s of each path
 * next to the peers, with their ratio, all measured in this run on the same server. A write
 * whose condition fails reports no capacity, though DynamoDB charges one WCU per KB for it
 * (and the write units of a cancelled transaction's items): those are counted apart, by that
 * documented rule for conditional writes (1 WCU per KB), and 2 per item of a cancelled
 * transaction (an upper bound: the service reports nothing for it), as "+ failed conditions".
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type ConsumedCapacity,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  BatchProcessor,
  type ChangeRecord,
  decodeDynamoDBRecord,
  type Sink,
} from '@shardline/core';
import { DynamoDBProjectionSink } from '@shardline/sink-dynamodb';
import { makeDynamoDBRecord, startDynamoDBLocal } from '@shardline/testing';

const USERS = 200;
const BATCH_SIZE = 100;
const ROUNDS = 3;
const PEER_CONCURRENCY = 16;

const server = await startDynamoDBLocal();
const client = new DynamoDBClient(server.clientConfig);
const meter = { reported: 0, failedConditions: 0 };
const WRITES = new Set([
  'PutItemCommand',
  'DeleteItemCommand',
  'UpdateItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);
client.middlewareStack.add(
  (next, context) => async (args) => {
    const write = WRITES.has(context.commandName ?? '');
    if (write) (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
    try {
      const result = await next(args);
      if (write) {
        const consumed = (
          result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }
        ).ConsumedCapacity;
        for (const c of [consumed ?? []].flat()) meter.reported += c.CapacityUnits ?? 0;
      }
      return result;
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'ConditionalCheckFailedException') meter.failedConditions += 1;
      if (name === 'TransactionCanceledException') {
        const items = (args.input as { TransactItems?: unknown[] }).TransactItems?.length ?? 0;
        meter.failedConditions += 2 * items;
      }
      throw error;
    }
  },
  { step: 'initialize', name: 'consumedCapacity' },
);

let tables = 0;
async function table(prefix: string, keys: string[]): Promise<string> {
  const name = `${prefix}${++tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: keys.map((k) => ({ AttributeName: k, AttributeType: 'S' })),
      KeySchema: keys.map((k, i) => ({ AttributeName: k, KeyType: i ? 'RANGE' : 'HASH' })),
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

const ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/Users/stream/2026-01-01T00:00:00.000';
let sequence = 10n ** 20n;

/** One phase of changes of every user: creates, updates (new group and name) or deletes. */
function phase(kind: 'create' | 'update' | 'delete', round: number): ChangeRecord[] {
  return Array.from({ length: USERS }, (_, i) => {
    sequence += 10n;
    const id = `user-${i}`;
    const image = {
      id,
      name: `name-${round}-${i}`,
      email: `u${i}@example.com`,
      group: `g${(i + round) % 7}`,
      plan: 'pro',
    };
    return decodeDynamoDBRecord(
      makeDynamoDBRecord({
        keys: { id },
        ...(kind === 'delete'
          ? { eventName: 'REMOVE' as const }
          : {
              eventName: kind === 'create' ? ('INSERT' as const) : ('MODIFY' as const),
              newImage: image,
            }),
        sequenceNumber: sequence.toString(),
        streamArn: ARN,
      }) as never,
      { streamId: ARN, shardId: 'shardId-1' },
    );
  });
}

/** A sink for one path, on fresh tables. */
async function sinkFor(path: 'copy' | 'derived'): Promise<Sink> {
  if (path === 'copy') {
    return new DynamoDBProjectionSink({
      client,
      tableName: await table('Copy', ['id']),
      stateTableName: await table('CopyState', ['pk']),
    });
  }
  const byGroup = await table('ByGroup', ['group', 'id']);
  return new DynamoDBProjectionSink({
    client,
    tableName: byGroup,
    stateTableName: await table('ByGroupState', ['pk']),
    project: (user) => [
      { key: { group: user.group, id: user.id }, attributes: { name: user.name } },
    ],
  });
}

/** The naive peers: unconditional writes of the same copy, no versions, no tombstones. */
function naiveSink(tableName: string, batch: boolean): Sink {
  const requestOf = (record: ChangeRecord): WriteRequest =>
    record.eventName === 'REMOVE'
      ? { DeleteRequest: { Key: record.marshalledKeys as Record<string, AttributeValue> } }
      : {
          PutRequest: {
            Item: (record.raw as { dynamodb: { NewImage: Record<string, AttributeValue> } })
              .dynamodb.NewImage,
          },
        };
  return {
    name: batch ? 'naive-batch' : 'naive-put',
    async write(records) {
      if (batch) {
        const chunks: WriteRequest[][] = [];
        for (let i = 0; i < records.length; i += 25)
          chunks.push(records.slice(i, i + 25).map(requestOf));
        await Promise.all(
          chunks.map(async (chunk) => {
            let pending: WriteRequest[] | undefined = chunk;
            while (pending?.length) {
              const out: { UnprocessedItems?: Record<string, WriteRequest[]> } = await client.send(
                new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }),
              );
              pending = out.UnprocessedItems?.[tableName];
            }
          }),
        );
      } else {
        for (let i = 0; i < records.length; i += PEER_CONCURRENCY) {
          await Promise.all(
            records.slice(i, i + PEER_CONCURRENCY).map((record) => {
              const request = requestOf(record);
              return request.DeleteRequest
                ? client.send(
                    new DeleteItemCommand({ TableName: tableName, Key: request.DeleteRequest.Key }),
                  )
                : client.send(
                    new PutItemCommand({ TableName: tableName, Item: request.PutRequest!.Item }),
                  );
            }),
          );
        }
      }
      return records.map(() => ({ status: 'ok' as const }));
    },
  };
}

interface PhaseResult {
  readonly wcu: number;
  readonly charged: number;
  readonly ms: number;
  readonly records: number;
}

async function apply(sink: Sink, records: ChangeRecord[]): Promise<PhaseResult> {
  const processor = new BatchProcessor({ sink, deduper: false });
  meter.reported = 0;
  meter.failedConditions = 0;
  const started = performance.now();
  for (let i = 0; i < records.length; i += BATCH_SIZE) {
    const batch = records.slice(i, i + BATCH_SIZE);
    const result = await processor.process(batch);
    if (result.succeeded !== batch.length) throw new Error(`${sink.name}: a batch failed`);
  }
  return {
    records: records.length,
    ms: performance.now() - started,
    wcu: meter.reported / records.length,
    charged: meter.failedConditions / records.length,
  };
}

const PHASES = ['create', 'update', 'update', 'delete', 'replay'] as const;

/** Runs every phase on one sink; returns per-phase results and the records/s over all phases. */
async function run(sink: Sink): Promise<{ phases: PhaseResult[]; rate: number }> {
  const phases: PhaseResult[] = [];
  const all: ChangeRecord[] = [];
  let records = 0;
  let ms = 0;
  for (const [round, kind] of PHASES.entries()) {
    const changes = kind === 'replay' ? [...all] : phase(kind, round);
    if (kind !== 'replay') all.push(...changes);
    const result = await apply(sink, changes);
    phases.push(result);
    records += changes.length;
    ms += result.ms;
  }
  return { phases, rate: (records / ms) * 1000 };
}

try {
  const paths = {
    copy: () => sinkFor('copy'),
    derived: () => sinkFor('derived'),
    'naive PutItem': async () => naiveSink(await table('Naive', ['id']), false),
    'naive BatchWriteItem': async () => naiveSink(await table('NaiveBatch', ['id']), true),
  };
  for (const make of Object.values(paths)) await run(await make()); // warm-up
  const rates = new Map<string, number[]>();
  const last = new Map<string, PhaseResult[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, make] of Object.entries(paths)) {
      const { phases, rate } = await run(await make());
      rates.set(name, [...(rates.get(name) ?? []), rate]);
      last.set(name, phases);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `DynamoDB projection sink benchmark (DynamoDB Local, ${USERS} users: creates, 2 updates, deletes, then every change replayed; batches of ${BATCH_SIZE}; median of ${ROUNDS})`,
  );
  console.log('  WCU per change reported by the service (+ failed conditions, estimated):');
  console.log(
    `  ${'path'.padEnd(22)}${PHASES.map((p, i) => (i === 2 ? 'update 2' : p).padStart(14)).join('')}`,
  );
  for (const [name, phases] of last) {
    const cells = phases.map((p) => `${p.wcu.toFixed(2)}+${p.charged.toFixed(2)}`.padStart(14));
    console.log(`  ${name.padEnd(22)}${cells.join('')}`);
  }
  console.log('  records/s per phase (last round):');
  for (const [name, phases] of last) {
    const cells = phases.map((p) => ((p.records / p.ms) * 1000).toFixed(0).padStart(14));
    console.log(`  ${name.padEnd(22)}${cells.join('')}`);
  }
  const peer = median(rates.get('naive PutItem')!);
  const batchPeer = median(rates.get('naive BatchWriteItem')!);
  for (const [name, xs] of rates) {
    const rate = median(xs);
    console.log(
      `  records/s ${name.padEnd(22)} ${rate.toFixed(0).padStart(6)}  ratio to naive PutItem ${(rate / peer).toFixed(2)}x, to naive BatchWriteItem ${(rate / batchPeer).toFixed(2)}x`,
    );
  }
} finally {
  client.destroy();
  await server.stop();
}
