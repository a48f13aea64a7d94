/**
 * Freshness: write → handler latency of the worker, next to a bare SDK polling loop that reads
 * every shard 4 times a second (what Lambda's event source mapping does on DynamoDB Streams),
 * on DynamoDB Streams (DynamoDB Local) and on Kinesis (kinesalite in its own process).
 *
 * Rows per source, all run at once on tables/streams of their own and fed the same writes at
 * the same moments (machine noise hits every row alike):
 * - worker, default pacing (`idlePollIntervalMs` 250);
 * - worker, the former pacing (250 ms doubling to 2000 ms, i.e. `maxIdleDelayMs: 2000`);
 * - bare loop: GetRecords every 250 ms per shard from the SDK, nothing else.
 *
 * Phases: a quiet window (no writes) counts GetRecords calls per idle shard per second; then
 * idle writes (one every 1.0–2.0 s, 1.5 s on average); then a load phase (`--rate` writes/s).
 * Latency is taken from the write's own timestamp, carried in the item/record: DynamoDB Local
 * rounds ApproximateCreationDateTime to the minute, so the record time cannot be used.
 *
 * Run: npx tsx --conditions=source test/bench/freshness.ts [--idle=40] [--rate=10] [--load=10]
 *   [--quiet=15]   (idle writes, load writes/s, load seconds, quiet-window seconds)
 */
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  GetRecordsCommand as KinesisGetRecords,
  GetShardIteratorCommand as KinesisGetShardIterator,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { type ChangeRecord, type ShardSource, silentLogger, sleep } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import {
  type DynamoDBLocalServer,
  type KinesaliteServer,
  startDynamoDBLocal,
  startKinesaliteProcess,
} from '@shardline/testing';
import { createWorker, InMemoryLeaseStore } from '@shardline/worker';
import { flag, table } from './harness.js';

const IDLE_WRITES = flag('idle', 40);
const LOAD_RATE = flag('rate', 10);
const LOAD_SECONDS = flag('load', 10);
const QUIET_SECONDS = flag('quiet', 15);
const BARE_INTERVAL_MS = 250; // Lambda's DynamoDB Streams mapping: 4 polls/s per shard
const KINESIS_SHARDS = 2;

/** Counts the GetRecords calls an SDK client sends (middleware on the real client, no mock). */
function countGetRecords(client: DynamoDBStreamsClient | KinesisClient): () => number {
  let calls = 0;
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
    (args: unknown) => {
      if (context.commandName === 'GetRecordsCommand') calls++;
      return next(args);
    };
  // Both clients take the same initialize-step middleware; their stacks differ only in types.
  (client as KinesisClient).middlewareStack.add(middleware as never, {
    step: 'initialize',
    name: 'countGetRecords',
  });
  return () => calls;
}

/** One row: a reader over its own table or stream, and a writer into it. */
interface Setup {
  readonly name: string;
  readonly shards: number;
  /** Writes one change carrying `writtenAt` and `id`. */
  write(id: number): Promise<void>;
  readonly calls: () => number;
  /** write → handler latency by write id. */
  readonly seen: Map<number, number>;
  /** How long each write took to be acknowledged, by write id (part of every row's latency). */
  readonly acks: Map<number, number>;
  stop(): Promise<void>;
}

/** What a change carries: its write id and the writer's clock at the write. */
interface Stamp {
  readonly id: number;
  readonly writtenAt: number;
}

/** One table or stream of a backend, with a reader client of its own. */
interface Target {
  /** Writes one change carrying `id` and the current time. */
  write(id: number): Promise<void>;
  /** A Shardline source over it, read through the counted client. */
  readonly source: ShardSource;
  /** GetRecords calls of the counted client. */
  readonly calls: () => number;
  /** The change's stamp, from a Shardline record. */
  stampOf(record: ChangeRecord): Stamp;
  /** The bare loop's calls through the same client: an iterator, and one page. */
  openBare(shardId: string): Promise<string | undefined>;
  readBare(iterator: string): Promise<{ next: string | undefined; stamps: Stamp[] }>;
  destroy(): void;
}

/** A server kind: creates targets on it. */
interface Backend {
  create(name: string): Promise<Target>;
  destroy(): void;
}

function dynamoDBBackend(server: DynamoDBLocalServer): Backend {
  const dynamodb = new DynamoDBClient(server.clientConfig);
  return {
    destroy: () => dynamodb.destroy(),
    async create(tableName) {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: tableName,
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'N' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
        }),
      );
      const client = new DynamoDBStreamsClient(server.clientConfig);
      const calls = countGetRecords(client);
      const source = await DynamoDBStreamsSource.fromTable({ dynamodb, tableName, client });
      type Image = Record<string, { N?: string }> | undefined;
      return {
        source,
        calls,
        destroy: () => client.destroy(),
        write: async (id) => {
          await dynamodb.send(
            new PutItemCommand({
              TableName: tableName,
              Item: { id: { N: String(id) }, writtenAt: { N: String(Date.now()) } },
            }),
          );
        },
        stampOf: (r) => ({ id: Number(r.newImage?.id), writtenAt: Number(r.newImage?.writtenAt) }),
        openBare: async (ShardId) =>
          (
            await client.send(
              new GetShardIteratorCommand({
                StreamArn: source.streamId,
                ShardId,
                ShardIteratorType: 'TRIM_HORIZON',
              }),
            )
          ).ShardIterator,
        readBare: async (ShardIterator) => {
          const page = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
          const stamps = (page.Records ?? []).map((r) => {
            const image = r.dynamodb?.NewImage as Image;
            return { id: Number(image?.id?.N), writtenAt: Number(image?.writtenAt?.N) };
          });
          return { next: page.NextShardIterator, stamps };
        },
      };
    },
  };
}

function kinesisBackend(server: KinesaliteServer): Backend {
  const admin = new KinesisClient(server.clientConfig);
  const parse = (data: Uint8Array) => JSON.parse(Buffer.from(data).toString('utf8')) as Stamp;
  return {
    destroy: () => admin.destroy(),
    async create(StreamName) {
      await admin.send(new CreateStreamCommand({ StreamName, ShardCount: KINESIS_SHARDS }));
      for (;;) {
        const s = await admin.send(new DescribeStreamSummaryCommand({ StreamName }));
        if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
        await sleep(20);
      }
      const client = new KinesisClient(server.clientConfig);
      const calls = countGetRecords(client);
      const source = await KinesisSource.create({ client, streamName: StreamName });
      return {
        source,
        calls,
        destroy: () => client.destroy(),
        write: async (id) => {
          await admin.send(
            new PutRecordCommand({
              StreamName,
              PartitionKey: `key-${id}`,
              Data: Buffer.from(JSON.stringify({ id, writtenAt: Date.now() })),
            }),
          );
        },
        stampOf: (r) => parse(r.data!),
        openBare: async (ShardId) =>
          (
            await client.send(
              new KinesisGetShardIterator({
                StreamName,
                ShardId,
                ShardIteratorType: 'TRIM_HORIZON',
              }),
            )
          ).ShardIterator,
        readBare: async (ShardIterator) => {
          const page = await client.send(new KinesisGetRecords({ ShardIterator, Limit: 10_000 }));
          const stamps = (page.Records ?? []).map((r) => parse(r.Data!));
          return { next: page.NextShardIterator, stamps };
        },
      };
    },
  };
}

/** Latency of a change a reader saw, from the stamp it carries (the first sighting counts). */
function observe(seen: Map<number, number>, stamp: Stamp): void {
  if (!seen.has(stamp.id)) seen.set(stamp.id, Date.now() - stamp.writtenAt);
}

/** A row reading `target` with a worker at the given pacing. */
async function workerSetup(
  name: string,
  target: Target,
  pacing: { idlePollIntervalMs?: number; maxIdleDelayMs?: number },
): Promise<Setup> {
  const seen = new Map<number, number>();
  const shards = (await target.source.listShards()).filter((s) => !s.endingSequenceNumber);
  const worker = createWorker({
    applicationName: 'freshness',
    sources: target.source,
    leaseStore: new InMemoryLeaseStore(),
    handler: (r) => observe(seen, target.stampOf(r)),
    logger: silentLogger,
    ...pacing,
  });
  await worker.start();
  return {
    name,
    shards: shards.length,
    write: (id) => target.write(id),
    calls: target.calls,
    seen,
    acks: new Map(),
    stop: async () => {
      await worker.stop();
      target.destroy();
    },
  };
}

/** The bare loop: each shard read every 250 ms (from the start of one read to the next). */
async function bareSetup(target: Target): Promise<Setup> {
  const seen = new Map<number, number>();
  const shards = (await target.source.listShards()).filter((s) => !s.endingSequenceNumber);
  const controller = new AbortController();
  const loops = shards.map(async ({ shardId }) => {
    let iterator = await target.openBare(shardId);
    while (iterator && !controller.signal.aborted) {
      const started = Date.now();
      let page: Awaited<ReturnType<Target['readBare']>>;
      try {
        page = await target.readBare(iterator);
      } catch (error) {
        // DynamoDB Local now and then refuses its own iterator of a new table as trimmed or
        // expired; open a new one (a re-read change counts once: the first sighting).
        const name = (error as { name?: string }).name;
        if (name !== 'TrimmedDataAccessException' && name !== 'ExpiredIteratorException') {
          throw error;
        }
        iterator = await target.openBare(shardId);
        continue;
      }
      for (const stamp of page.stamps) observe(seen, stamp);
      iterator = page.next;
      await sleep(started + BARE_INTERVAL_MS - Date.now(), controller.signal).catch(
        () => undefined,
      );
    }
  });
  return {
    name: 'bare SDK loop, 4 reads/s',
    shards: shards.length,
    write: (id) => target.write(id),
    calls: target.calls,
    seen,
    acks: new Map(),
    stop: async () => {
      controller.abort();
      await Promise.all(loops);
      target.destroy();
    },
  };
}

/** The three rows of one backend, each on a table or stream of its own. */
async function setupsOn(backend: Backend): Promise<Setup[]> {
  return [
    await workerSetup(
      'worker, idlePollIntervalMs 250 (default)',
      await backend.create('fresh'),
      {},
    ),
    await workerSetup('worker, former pacing (250 → 2000 ms)', await backend.create('former'), {
      idlePollIntervalMs: 250,
      maxIdleDelayMs: 2000,
    }),
    await bareSetup(await backend.create('bare')),
  ];
}

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

/** Waits until every setup saw every id in `ids` (or `timeoutMs` passed). */
async function delivered(setups: readonly Setup[], ids: readonly number[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (setups.every((s) => ids.every((id) => s.seen.has(id)))) return;
    await sleep(50);
  }
  for (const s of setups) {
    const missing = ids.filter((id) => !s.seen.has(id)).length;
    if (missing > 0)
      throw new Error(
        `${s.name}: ${missing} of ${ids.length} changes not handled in ${timeoutMs} ms`,
      );
  }
}

/** Writes change `id` to `s` and notes how long the server took to acknowledge it. */
async function acknowledged(s: Setup, id: number): Promise<void> {
  const started = Date.now();
  await s.write(id);
  s.acks.set(id, Date.now() - started);
}

let nextId = 1;
/** Writes one change to every setup at the same moment; returns its id. */
async function writeAll(setups: readonly Setup[]): Promise<number> {
  const id = nextId++;
  await Promise.all(setups.map((s) => acknowledged(s, id)));
  return id;
}

interface Figures {
  idle: number[];
  load: number[];
  loadAcks: number[];
  callsPerShardPerSecond: number;
}

async function run(setups: readonly Setup[]): Promise<Map<Setup, Figures>> {
  // Warm-up: every reader handles a change, then the quiet window counts idle reads.
  await delivered(setups, [await writeAll(setups)], 60_000);
  await sleep(3000);
  const before = setups.map((s) => s.calls());
  const quietStarted = performance.now();
  await sleep(QUIET_SECONDS * 1000);
  const quietSeconds = (performance.now() - quietStarted) / 1000;
  const calls = setups.map((s, i) => (s.calls() - before[i]!) / s.shards / quietSeconds);

  // Idle: one write every 1.0–2.0 s, so writes fall at every phase of the poll.
  const idleIds: number[] = [];
  for (let i = 0; i < IDLE_WRITES; i++) {
    await sleep(1000 + Math.random() * 1000);
    idleIds.push(await writeAll(setups));
  }
  await delivered(setups, idleIds, 30_000);

  // Load: LOAD_RATE writes/s per table or stream, each write not waiting for the one before.
  const loadIds: number[] = [];
  const writes: Promise<void>[] = [];
  const started = Date.now();
  for (let i = 0; i < LOAD_RATE * LOAD_SECONDS; i++) {
    await sleep(started + (i * 1000) / LOAD_RATE - Date.now());
    const id = nextId++;
    loadIds.push(id);
    writes.push(...setups.map((s) => acknowledged(s, id)));
  }
  await Promise.all(writes);
  await delivered(setups, loadIds, 60_000);

  return new Map(
    setups.map((s, i) => [
      s,
      {
        idle: idleIds.map((id) => s.seen.get(id)!),
        load: loadIds.map((id) => s.seen.get(id)!),
        loadAcks: loadIds.map((id) => s.acks.get(id)!),
        callsPerShardPerSecond: calls[i]!,
      },
    ]),
  );
}

function report(title: string, results: Map<Setup, Figures>): void {
  const ms = (v: number) => `${Math.round(v)} ms`;
  const rows: string[][] = [
    [
      'reader',
      'idle p50',
      'p90',
      'p99',
      'load p50',
      'p90',
      'p99',
      'of it, write ack p50/p99',
      'GetRecords/idle shard/s',
      'per hour',
      'vs Lambda 14,400/h',
    ],
  ];
  for (const [s, f] of results) {
    const perHour = f.callsPerShardPerSecond * 3600;
    rows.push([
      s.name,
      ms(percentile(f.idle, 50)),
      ms(percentile(f.idle, 90)),
      ms(percentile(f.idle, 99)),
      ms(percentile(f.load, 50)),
      ms(percentile(f.load, 90)),
      ms(percentile(f.load, 99)),
      `${ms(percentile(f.loadAcks, 50))} / ${ms(percentile(f.loadAcks, 99))}`,
      f.callsPerShardPerSecond.toFixed(2),
      Math.round(perHour).toLocaleString('en-US'),
      `${(perHour / 14_400).toFixed(2)}×`,
    ]);
  }
  console.log(
    `\n${title}: ${IDLE_WRITES} idle writes (one per 1.0–2.0 s), ${LOAD_RATE * LOAD_SECONDS} under load (${LOAD_RATE}/s for ${LOAD_SECONDS} s); GetRecords counted over ${QUIET_SECONDS} s with no writes`,
  );
  table(rows);
  const [fresh, former, bare] = [...results.values()];
  console.log(
    `  idle p99 ratio worker / bare loop: ${(percentile(fresh!.idle, 99) / percentile(bare!.idle, 99)).toFixed(2)} (former pacing ${(percentile(former!.idle, 99) / percentile(bare!.idle, 99)).toFixed(2)}); reads per idle shard worker / bare loop: ${(fresh!.callsPerShardPerSecond / bare!.callsPerShardPerSecond).toFixed(2)}`,
  );
}

const dynamo = await startDynamoDBLocal();
const kinesalite = await startKinesaliteProcess();
const backends = [dynamoDBBackend(dynamo), kinesisBackend(kinesalite)];
let setups: Setup[] = [];
try {
  const ddb = await setupsOn(backends[0]!);
  const kin = await setupsOn(backends[1]!);
  setups = [...ddb, ...kin];
  // Both sources at once: the same writes, the same moments, one process.
  const results = await run(setups);
  report(
    `DynamoDB Streams (DynamoDB Local, ${ddb[0]!.shards} open shard(s) per table)`,
    new Map(ddb.map((s) => [s, results.get(s)!])),
  );
  report(
    `Kinesis (kinesalite in its own process, ${KINESIS_SHARDS} shards per stream)`,
    new Map(kin.map((s) => [s, results.get(s)!])),
  );
  console.log(
    '\nLambda polls DynamoDB Streams 4×/s per shard (14,400 GetRecords/h) and Kinesis 1×/s; Kinesis allows 5 GetRecords/s per shard shared by every polling consumer.',
  );
} finally {
  for (const s of setups) await s.stop().catch((e: unknown) => console.error(e));
  for (const b of backends) b.destroy();
  await kinesalite.stop();
  await dynamo.stop();
}
