import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { type BootstrapProgress, type BootstrapResult, bootstrapTable } from '@shardline/bootstrap';
import type { Sink } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { createWorker, type Worker, type WorkerOptions } from '@shardline/worker';
import type { TableReplicaConfig } from './config.js';
import { createReplicaSinks } from './sinks.js';

/** Options of {@link createReplicaWorker}. */
export interface ReplicaWorkerOptions {
  /** For DescribeTable, the target tables and the lease table. */
  readonly dynamodb: DynamoDBClient;
  /** For the source table's stream. */
  readonly streams: DynamoDBStreamsClient;
  readonly config: TableReplicaConfig;
  /** Worker settings (from `SHARDLINE_*` variables, or tests' short lease durations). */
  readonly worker?: Partial<Omit<WorkerOptions, 'sources' | 'sink' | 'handler'>>;
  /** The sink. @default createReplicaSinks(...).sink, the copy and the derived table */
  readonly sink?: Sink;
}

/**
 * The long-running consumer of the recipe: a Shardline worker on the source table's stream
 * (from TRIM_HORIZON on first start, then from its checkpoints) writing the copy and the
 * derived table. Several copies (ECS tasks) share the shards through the lease table.
 */
export async function createReplicaWorker(options: ReplicaWorkerOptions): Promise<Worker> {
  const { config } = options;
  const source = await DynamoDBStreamsSource.fromTable({
    client: options.streams,
    dynamodb: options.dynamodb,
    tableName: config.sourceTable,
  });
  return createWorker({
    applicationName: config.applicationName,
    leaseTable: config.leaseTable,
    dynamoDBClient: options.dynamodb,
    initialPosition: 'TRIM_HORIZON',
    ...options.worker,
    sources: source,
    sink: options.sink ?? createReplicaSinks({ client: options.dynamodb, config }).sink,
  });
}

/** Options of {@link bootstrapReplica}. */
export interface ReplicaBootstrapOptions {
  readonly dynamodb: DynamoDBClient;
  readonly config: TableReplicaConfig;
  /** Share of the source table's read capacity, 0 < p <= 1.5. @default 0.5 (the bootstrap's) */
  readonly readPercent?: number;
  /** The read capacity the percent applies to. @default provisioned RCU, or 4,000 on demand */
  readonly readCapacityUnits?: number;
  /** Parallel Scan segments (kept when resuming). @default 4 */
  readonly segments?: number;
  /** Items per Scan page, at most. @default 1000 */
  readonly pageSize?: number;
  /** The sink. @default createReplicaSinks(...).sink */
  readonly sink?: Sink;
  /** Forget the recorded progress and scan again from the start. @default false */
  readonly restart?: boolean;
  readonly onProgress?: (progress: BootstrapProgress) => void;
  readonly signal?: AbortSignal;
}

/** The bootstrap's id in the lease table: a rerun with it resumes, or does nothing once done. */
export function replicaBootstrapId(config: Pick<TableReplicaConfig, 'sourceTable'>): string {
  return `table-replica-${config.sourceTable}`;
}

/**
 * Copies the source table's existing items into the copy and the derived table with a parallel
 * Scan held to a read budget (`@shardline/bootstrap`'s `bootstrapTable`), through the same sinks
 * as the stream. Run it once the stream consumer reads from TRIM_HORIZON (the worker, or the
 * Lambda mapping): the scanned items are bootstrap records (version `'0'`), which the
 * projection sinks write only where the stream has written nothing of the item, so the overlap
 * never brings back an older state or a deleted item. Progress is saved per Scan segment in the
 * lease table: a crashed or stopped bootstrap resumes where it was, and once finished a rerun
 * does nothing.
 */
export async function bootstrapReplica(options: ReplicaBootstrapOptions): Promise<BootstrapResult> {
  const { config } = options;
  return bootstrapTable({
    client: options.dynamodb,
    table: config.sourceTable,
    sink: options.sink ?? createReplicaSinks({ client: options.dynamodb, config }).sink,
    progressTable: config.leaseTable,
    bootstrapId: replicaBootstrapId(config),
    ...(options.readPercent !== undefined ? { readPercent: options.readPercent } : {}),
    ...(options.readCapacityUnits !== undefined
      ? { readCapacityUnits: options.readCapacityUnits }
      : {}),
    ...(options.segments !== undefined ? { segments: options.segments } : {}),
    ...(options.pageSize !== undefined ? { maxPageItems: options.pageSize } : {}),
    ...(options.restart ? { restart: true } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
