import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  type ChangeRecord,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
} from '@shardline/core';
import type { LocalClientConfig } from '@shardline/local';
import { orderingKeyHash } from '@shardline/local';
import { seededRandom } from './seededRandom.js';

/** The shard id Lambda's DynamoDB records decode to: they carry none. */
export const LAMBDA_UNKNOWN_SHARD_ID = 'unknown';

/** One shard of a stream and its changes in stream order, as a Lambda function receives them. */
export interface LambdaShard {
  readonly shardId: string;
  readonly parentShardId?: string;
  /** Decoded as Lambda's DynamoDB event decoder does: shard id `unknown`, times in whole seconds. */
  readonly records: readonly ChangeRecord[];
}

/**
 * Reads every shard of a DynamoDB stream (a {@link startMultiShardStreamsServer} or DynamoDB
 * Local) from its trim horizon with the real SDK client, and decodes the records as a Lambda
 * function sees them: no shard id, `ApproximateCreationDateTime` in whole epoch seconds.
 *
 * @example
 * const shards = await readLambdaShards(streams.clientConfig, streams.streamArn);
 */
export async function readLambdaShards(
  clientConfig: LocalClientConfig,
  streamArn: string,
): Promise<LambdaShard[]> {
  const client = new DynamoDBStreamsClient(clientConfig);
  try {
    const shards: { ShardId?: string; ParentShardId?: string }[] = [];
    let start: string | undefined;
    do {
      const page = await client.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      start = page.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    const out: LambdaShard[] = [];
    for (const shard of shards) {
      const records: ChangeRecord[] = [];
      let iterator = (
        await client.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      while (iterator) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
        for (const raw of page.Records ?? []) records.push(asLambdaRecord(raw, streamArn));
        // An open shard answers empty pages forever: what it holds so far has been read.
        if ((page.Records ?? []).length === 0) break;
        iterator = page.NextShardIterator;
      }
      out.push({
        shardId: shard.ShardId ?? '',
        ...(shard.ParentShardId ? { parentShardId: shard.ParentShardId } : {}),
        records,
      });
    }
    return out;
  } finally {
    client.destroy();
  }
}

function asLambdaRecord(raw: unknown, streamArn: string): ChangeRecord {
  const record = raw as DynamoDBStreamRecordLike & {
    dynamodb?: { ApproximateCreationDateTime?: Date | number };
  };
  const created = record.dynamodb?.ApproximateCreationDateTime;
  const lambdaShape = {
    ...record,
    eventSourceARN: streamArn,
    dynamodb: {
      ...record.dynamodb,
      ...(created instanceof Date
        ? { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) }
        : {}),
    },
  };
  return decodeDynamoDBRecord(lambdaShape as DynamoDBStreamRecordLike, {
    streamId: streamArn,
    shardId: LAMBDA_UNKNOWN_SHARD_ID,
    creationTimeUnit: 's',
  });
}

/** What one invocation did: how many records of its batch, from the start, are done. */
export type LambdaInvoke = (batch: readonly ChangeRecord[]) => Promise<number>;

/** Options of {@link deliverLikeLambda}. */
export interface LambdaDeliveryOptions {
  /** Seed of every random choice, so a failing run repeats. */
  readonly seed: number;
  /** Concurrent batches per shard (Lambda's ParallelizationFactor, 1 to 10). @default 1 */
  readonly parallelizationFactor?: number;
  /** Most records per batch; each batch takes a random size from 1 to this. @default 10 */
  readonly maxBatchSize?: number;
  /**
   * Chance that an invocation which did its work is redelivered anyway from a random record of
   * the batch (a timeout or a crash after the sink wrote, a partial batchItemFailures). @default 0.3
   */
  readonly redeliveryChance?: number;
  /**
   * Chance that a delivered record is also parked, for a replay at the end from a failure
   * destination (SQS standard: any order, in batches of up to 10). @default 0
   */
  readonly replayChance?: number;
  /** Chance redeliveries in a row of one lane, at most (failures of `invoke` are not bounded). @default 3 */
  readonly maxRedeliveriesInARow?: number;
}

/** What a {@link deliverLikeLambda} run did, to check that the conditions were exercised. */
export interface LambdaDeliveryReport {
  readonly invocations: number;
  readonly redeliveries: number;
  readonly replayed: number;
  /** Most invocations that ran at the same time. */
  readonly maxConcurrent: number;
}

/**
 * Delivers a stream's shards to `invoke` the way Lambda's event source mapping does: shards
 * after their parent is done, all ready shards at once; each shard split into
 * `parallelizationFactor` lanes by the hash of the ordering key the mapping emulator uses
 * ({@link orderingKeyHash}), lanes running concurrently, each
 * lane's batches one after the other from its checkpoint; batches of random size; an invocation
 * that did not finish its batch, or that is "redelivered" by chance, runs again from its first
 * record not done with a new batch size; at the end, parked records replayed in random order.
 */
export async function deliverLikeLambda(
  shards: readonly LambdaShard[],
  invoke: LambdaInvoke,
  options: LambdaDeliveryOptions,
): Promise<LambdaDeliveryReport> {
  const factor = options.parallelizationFactor ?? 1;
  const maxBatch = options.maxBatchSize ?? 10;
  const redeliveryChance = options.redeliveryChance ?? 0.3;
  const replayChance = options.replayChance ?? 0;
  const maxInARow = options.maxRedeliveriesInARow ?? 3;
  const random = seededRandom(options.seed);
  let invocations = 0;
  let redeliveries = 0;
  let running = 0;
  let maxConcurrent = 0;
  const parked: ChangeRecord[] = [];
  const call = async (batch: readonly ChangeRecord[]): Promise<number> => {
    invocations++;
    maxConcurrent = Math.max(maxConcurrent, ++running);
    try {
      return await invoke(batch);
    } finally {
      running--;
    }
  };
  const runLane = async (lane: readonly ChangeRecord[]): Promise<void> => {
    let position = 0;
    let inARow = 0;
    while (position < lane.length) {
      const batch = lane.slice(position, position + 1 + Math.floor(random() * maxBatch));
      let done = await call(batch);
      if (done === batch.length && inARow < maxInARow && random() < redeliveryChance) {
        done = Math.floor(random() * batch.length);
      }
      if (done < batch.length) {
        redeliveries++;
        if (++inARow > 100) {
          throw new Error(
            `A batch of ${batch.length} records failed 100 times in a row at record ${done}; the sink never succeeds on it.`,
          );
        }
      } else inARow = 0;
      for (const record of batch.slice(0, done)) if (random() < replayChance) parked.push(record);
      position += done;
    }
  };
  const finished = new Set<string>();
  const started = new Set<string>();
  const known = new Set(shards.map((s) => s.shardId));
  for (;;) {
    const ready = shards.filter(
      (s) =>
        !started.has(s.shardId) &&
        (s.parentShardId === undefined ||
          !known.has(s.parentShardId) ||
          finished.has(s.parentShardId)),
    );
    if (ready.length === 0) break;
    for (const shard of ready) started.add(shard.shardId);
    await Promise.all(
      ready.map(async (shard) => {
        const lanes = Array.from({ length: factor }, () => [] as ChangeRecord[]);
        for (const record of shard.records)
          lanes[orderingKeyHash(record.orderingKey) % factor]!.push(record);
        await Promise.all(lanes.map(runLane));
        finished.add(shard.shardId);
      }),
    );
  }
  const shuffled = parked
    .map((record) => ({ record, order: random() }))
    .sort((a, b) => a.order - b.order)
    .map((x) => x.record);
  for (let i = 0; i < shuffled.length; i += 10) await call(shuffled.slice(i, i + 10));
  return { invocations, redeliveries, replayed: shuffled.length, maxConcurrent };
}
