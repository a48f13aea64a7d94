import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { createWorker, type Worker, type WorkerOptions } from '@shardline/worker';
import type { VoteAggregationConfig } from './config.js';
import { createVoteSummarySink } from './voteSummarySink.js';

/** Options of {@link createVoteAggregationWorker}. */
export interface VoteAggregationWorkerOptions {
  /** For DescribeTable, the summary table and the lease table. */
  readonly dynamodb: DynamoDBClient;
  /** For the Votes table's stream. */
  readonly streams: DynamoDBStreamsClient;
  readonly config: VoteAggregationConfig;
  /** Worker settings (from `SHARDLINE_*` variables, or tests' short lease durations). */
  readonly worker?: Partial<Omit<WorkerOptions, 'sources' | 'sink' | 'handler'>>;
}

/**
 * The long-running consumer of the recipe: a Shardline worker on the Votes table's stream that
 * writes the totals through the summary sink. Several copies (ECS tasks) share the shards
 * through the lease table; a restarted one resumes at its checkpoint, and what it replays is
 * not counted twice.
 */
export async function createVoteAggregationWorker(
  options: VoteAggregationWorkerOptions,
): Promise<Worker> {
  const { config } = options;
  const source = await DynamoDBStreamsSource.fromTable({
    client: options.streams,
    dynamodb: options.dynamodb,
    tableName: config.votesTable,
  });
  return createWorker({
    applicationName: config.applicationName,
    leaseTable: config.leaseTable,
    dynamoDBClient: options.dynamodb,
    ...options.worker,
    sources: source,
    sink: createVoteSummarySink({ client: options.dynamodb, summaryTable: config.summaryTable }),
  });
}
