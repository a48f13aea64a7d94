import {
  CreateTableCommand,
  type DynamoDBClient,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import {
  BatchProcessor,
  type ChangeRecord,
  type Checkpoint,
  type EventBus,
  ShardConsumer,
  type ShardConsumerOptions,
  type ShardConsumerResult,
  type ShardSource,
  type StartPosition,
} from '@shardline/core';

/** Creates a stream-enabled table keyed by `id` (S). */
export async function createStreamTable(
  ddb: DynamoDBClient,
  tableName: string,
  view: StreamViewType = 'NEW_AND_OLD_IMAGES',
): Promise<void> {
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: view },
    }),
  );
}

/** What one consumer run saw. */
export interface Drained {
  readonly records: ChangeRecord[];
  readonly checkpoints: Checkpoint[];
  readonly result: ShardConsumerResult | undefined;
  readonly error: unknown;
}

/** Options of {@link drain}. */
export interface DrainOptions {
  readonly source: ShardSource;
  readonly shardId: string;
  readonly from: StartPosition;
  /** Stop once the handler has seen this many records. */
  readonly until: number;
  /** Stop (abort) once the handler has seen this many, before `until`: a crash-like stop. */
  readonly stopAfter?: number;
  readonly events?: EventBus;
  readonly consumer?: Partial<ShardConsumerOptions>;
  /** Give up after this long, in ms (a test failure, not a timing assertion). @default 20_000 */
  readonly timeoutMs?: number;
}

/**
 * Runs core's ShardConsumer + BatchProcessor over one shard until the handler saw `until`
 * records, with an in-memory checkpoint store, and returns what it saw.
 */
export async function drain(options: DrainOptions): Promise<Drained> {
  const records: ChangeRecord[] = [];
  const checkpoints: Checkpoint[] = [];
  const controller = new AbortController();
  const limit = options.stopAfter ?? options.until;
  const timer = setTimeout(
    () => controller.abort(new Error('drain timed out')),
    options.timeoutMs ?? 20_000,
  );
  const processor = new BatchProcessor({
    handler: (record) => {
      records.push(record);
      if (records.length >= limit) controller.abort();
    },
    concurrency: 1,
    ...(options.events ? { events: options.events } : {}),
  });
  const consumer = new ShardConsumer({
    source: options.source,
    shardId: options.shardId,
    from: options.from,
    processor,
    commit: async (checkpoint) => {
      checkpoints.push(checkpoint);
    },
    commitEveryRecords: 5,
    minReadIntervalMs: 0,
    idleDelayMs: 20,
    maxIdleDelayMs: 100,
    throttleBaseDelayMs: 10,
    maxBackoffMs: 50,
    ...(options.events ? { events: options.events } : {}),
    ...options.consumer,
  });
  let result: ShardConsumerResult | undefined;
  let error: unknown;
  try {
    result = await consumer.run(controller.signal);
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(timer);
  }
  return { records, checkpoints, result, error };
}

/** The sequence number of a checkpoint that is a position. */
export function positionOf(checkpoint: Checkpoint | undefined): string | undefined {
  return typeof checkpoint === 'object' ? checkpoint.sequenceNumber : undefined;
}
