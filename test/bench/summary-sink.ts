/**
 * Benchmark of the DynamoDB summary sink against a naive loop, on a DynamoDB Local it starts.
 * Run: `npx tsc -b && npx tsx test/bench/summary-sink.ts`. Prints UpdateItem calls per 1000
 * votes over 2 candidates, and records/s of the sink next to one UpdateItem per record, with
 * their ratio (both measured in this run, on the same server).
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BatchProcessor, type ChangeRecord, decodeDynamoDBRecord } from '@shardline/core';
import { countBy, DynamoDBLedgerSummarySink, DynamoDBSummarySink } from '@shardline/sink-dynamodb';
import { makeDynamoDBRecord, startDynamoDBLocal, streamArnFor } from '@shardline/testing';

const VOTES = 1000;
const BATCH_SIZE = 100;
const ROUNDS = 3;

const server = await startDynamoDBLocal();
const client = new DynamoDBClient(server.clientConfig);
let updates = 0;
/** Write units by DynamoDB's documented rules for items under 1 KB: 1 per write, 2 per transactional write. */
let wcu = 0;
let calls = 0;
client.middlewareStack.add(
  (next, context) => async (args) => {
    const name = context.commandName;
    if (name === 'UpdateItemCommand') updates++;
    if (name === 'UpdateItemCommand' || name === 'PutItemCommand') wcu += 1;
    if (name === 'TransactWriteItemsCommand') {
      wcu += 2 * ((args.input as { TransactItems?: unknown[] }).TransactItems?.length ?? 0);
    }
    if (name !== 'ScanCommand' && name !== 'CreateTableCommand') calls++;
    return next(args);
  },
  { step: 'initialize', name: 'countUpdateItem' },
);

let tables = 0;
async function summaryTable(): Promise<string> {
  const name = `Summary${++tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'vote', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'vote', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

function votes(count: number, shardId: string, offset: bigint): ChangeRecord[] {
  return Array.from({ length: count }, (_, i) =>
    decodeDynamoDBRecord(
      makeDynamoDBRecord({
        keys: { voter: `voter-${i}` },
        newImage: { voter: `voter-${i}`, vote: i % 3 === 0 ? 'B' : 'A' },
        sequenceNumber: (offset + BigInt(i) * 10n).toString(),
      }) as never,
      { streamId: streamArnFor(), shardId },
    ),
  );
}

async function total(tableName: string): Promise<number> {
  const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return (page.Items ?? []).reduce((sum, item) => sum + Number(item.num?.N ?? 0), 0);
}

async function runSink(records: ChangeRecord[]): Promise<{ ms: number; calls: number }> {
  const tableName = await summaryTable();
  const sink = new DynamoDBSummarySink({
    client,
    tableName,
    deltas: countBy({ attribute: 'vote', counter: 'num' }),
  });
  const processor = new BatchProcessor({ sink, deduper: false });
  updates = 0;
  const started = performance.now();
  for (let i = 0; i < records.length; i += BATCH_SIZE) {
    const result = await processor.process(records.slice(i, i + BATCH_SIZE));
    if (result.succeeded !== Math.min(BATCH_SIZE, records.length - i))
      throw new Error('sink batch failed');
  }
  const ms = performance.now() - started;
  const calls = updates;
  if ((await total(tableName)) !== records.length) throw new Error('sink total is wrong');
  return { ms, calls };
}

async function ledgerTable(): Promise<string> {
  const name = `Ledger${++tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

/** The ledger sink: per record its calls (GetItem + a transaction) and its write units. */
async function runLedger(
  records: ChangeRecord[],
): Promise<{ ms: number; calls: number; wcu: number }> {
  const tableName = await summaryTable();
  const sink = new DynamoDBLedgerSummarySink({
    client,
    tableName,
    ledgerTableName: await ledgerTable(),
    contributions: countBy({ attribute: 'vote', counter: 'num' }),
  });
  const processor = new BatchProcessor({ sink, deduper: false });
  calls = 0;
  wcu = 0;
  const started = performance.now();
  for (let i = 0; i < records.length; i += BATCH_SIZE) {
    const result = await processor.process(records.slice(i, i + BATCH_SIZE));
    if (result.succeeded !== Math.min(BATCH_SIZE, records.length - i))
      throw new Error('ledger batch failed');
  }
  const ms = performance.now() - started;
  const out = { ms, calls, wcu };
  if ((await total(tableName)) !== records.length) throw new Error('ledger total is wrong');
  return out;
}

async function runNaive(records: ChangeRecord[]): Promise<{ ms: number; calls: number }> {
  const tableName = await summaryTable();
  updates = 0;
  const started = performance.now();
  for (const record of records) {
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { vote: { S: String(record.newImage!.vote) } },
        UpdateExpression: 'ADD #n :one',
        ExpressionAttributeNames: { '#n': 'num' },
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
  }
  const ms = performance.now() - started;
  const calls = updates;
  if ((await total(tableName)) !== records.length) throw new Error('naive total is wrong');
  return { ms, calls };
}

try {
  // Warm-up: JIT and the server's first-request costs are not measured.
  await runSink(votes(200, 'warm', 1_000_000_000_000_000_000n));
  await runNaive(votes(200, 'warm', 1_000_000_000_000_000_000n));
  const sink: number[] = [];
  const naive: number[] = [];
  const ledger: number[] = [];
  let sinkCalls = 0;
  let naiveCalls = 0;
  let ledgerRun = { ms: 0, calls: 0, wcu: 0 };
  await runLedger(votes(200, 'warm', 1_000_000_000_000_000_000n));
  for (let round = 0; round < ROUNDS; round++) {
    const records = votes(VOTES, `shard-${round}`, 2_000_000_000_000_000_000n);
    const s = await runSink(records);
    const n = await runNaive(records);
    ledgerRun = await runLedger(records);
    ledger.push((VOTES / ledgerRun.ms) * 1000);
    sink.push((VOTES / s.ms) * 1000);
    naive.push((VOTES / n.ms) * 1000);
    sinkCalls = s.calls;
    naiveCalls = n.calls;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const sinkRate = median(sink);
  const naiveRate = median(naive);
  console.log(
    `DynamoDB summary sink benchmark (DynamoDB Local, ${VOTES} votes over 2 candidates, batches of ${BATCH_SIZE}, one shard, median of ${ROUNDS})`,
  );
  console.log(
    `  UpdateItem calls per ${VOTES} votes: sink ${sinkCalls} (${sinkCalls / (VOTES / BATCH_SIZE)} per batch), naive ${naiveCalls}`,
  );
  console.log(
    `  records/s: sink ${sinkRate.toFixed(0)}, naive one-UpdateItem-per-record loop ${naiveRate.toFixed(0)}`,
  );
  console.log(`  ratio sink/naive: ${(sinkRate / naiveRate).toFixed(1)}x`);
  const ledgerRate = median(ledger);
  console.log(
    `  ledger sink (exactly once without shard ids): ${(ledgerRun.calls / VOTES).toFixed(2)} calls and ${(ledgerRun.wcu / VOTES).toFixed(2)} WCU per vote; watermark sink ${(sinkCalls / VOTES).toFixed(3)} WCU per vote; naive ${(naiveCalls / VOTES).toFixed(2)} WCU per vote`,
  );
  console.log(
    `  records/s: ledger ${ledgerRate.toFixed(0)}; ratio ledger/naive ${(ledgerRate / naiveRate).toFixed(2)}x, ledger/watermark ${(ledgerRate / sinkRate).toFixed(2)}x`,
  );
} finally {
  client.destroy();
  await server.stop();
}
