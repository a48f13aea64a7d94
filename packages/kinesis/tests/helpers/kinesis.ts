import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import {
  BatchProcessor,
  type ChangeRecord,
  type EventBus,
  readyShards,
  ShardConsumer,
  type ShardSource,
  sleep,
} from '@shardline/core';
import { aggregate } from 'aws-kinesis-agg';

/** Creates a stream and waits until it is ACTIVE. */
export async function createStream(
  client: KinesisClient,
  name: string,
  shards: number,
): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitActive(client, name);
}

/** Waits until a stream is ACTIVE (after create, split or merge). */
export async function waitActive(client: KinesisClient, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(20);
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

/** Builds KPL aggregates of `records` with aws-kinesis-agg's `aggregate`. */
export function kplAggregate(
  records: { partitionKey: string; data: string; explicitHashKey?: string }[],
): Promise<{ partitionKey: string; explicitHashKey?: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const out: { partitionKey: string; explicitHashKey?: string; data: Buffer }[] = [];
    aggregate(
      records.map((r) => ({ ...r, data: Buffer.from(r.data) })),
      (encoded, callback) => {
        out.push(encoded);
        callback();
      },
      () => resolve(out),
      reject,
    );
  });
}

/** Options of {@link readStream}. */
export interface ReadStreamOptions {
  readonly source: ShardSource;
  /** Stop once this many records were handled. */
  readonly expected: number;
  readonly events?: EventBus;
  /** Called with every record, in the order the handler ran. */
  readonly onRecord?: (record: ChangeRecord) => void;
  /** Wait between shard listings, in ms. @default 50 */
  readonly listIntervalMs?: number;
  /** Give up after this long (a failure, not a timing assertion). @default 30_000 */
  readonly timeoutMs?: number;
}

/** What {@link readStream} saw. */
export interface StreamRead {
  /** Records in the order the handler ran them. */
  readonly records: ChangeRecord[];
  /** Shard ids in the order their consumers started. */
  readonly started: string[];
  /** Children each ended shard announced. */
  readonly childrenAtEnd: Map<string, readonly string[]>;
}

/**
 * A minimal worker for tests: lists shards on an interval, starts a ShardConsumer on every shard
 * that `readyShards` allows (parents finished first), and stops after `expected` records.
 * De-duplication is off, so a record read twice is seen twice.
 */
export async function readStream(options: ReadStreamOptions): Promise<StreamRead> {
  const records: ChangeRecord[] = [];
  const started: string[] = [];
  const childrenAtEnd = new Map<string, readonly string[]>();
  const finished = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const controller = new AbortController();
  const failures: unknown[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const processor = new BatchProcessor({
    handler: (record) => {
      records.push(record);
      options.onRecord?.(record);
    },
    deduper: false,
    concurrency: 8,
    ...(options.events ? { events: options.events } : {}),
  });
  while (records.length < options.expected && Date.now() < deadline && failures.length === 0) {
    const shards = await options.source.listShards(controller.signal);
    for (const shard of readyShards(shards, (id) => finished.has(id))) {
      if (running.has(shard.shardId)) continue;
      started.push(shard.shardId);
      const consumer = new ShardConsumer({
        source: options.source,
        shardId: shard.shardId,
        from: { type: 'TRIM_HORIZON' },
        processor,
        minReadIntervalMs: 0,
        idleDelayMs: 10,
        maxIdleDelayMs: 50,
        throttleBaseDelayMs: 10,
        maxBackoffMs: 50,
        ...(options.events ? { events: options.events } : {}),
      });
      running.set(
        shard.shardId,
        consumer.run(controller.signal).then(
          (result) => {
            if (!result.ended) return;
            childrenAtEnd.set(shard.shardId, result.childShardIds);
            finished.add(shard.shardId);
          },
          (error) => {
            failures.push(error);
          },
        ),
      );
    }
    await sleep(options.listIntervalMs ?? 50);
  }
  controller.abort();
  await Promise.all(running.values());
  if (failures.length > 0) throw failures[0];
  return { records, started, childrenAtEnd };
}
