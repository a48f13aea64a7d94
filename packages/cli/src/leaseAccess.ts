import { DescribeTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { APPLICATION_NAME_VARIABLE, type Lease, readApplicationName } from '@shardline/core';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import { assertAwsConfigured, explainAwsError } from './awsErrors.js';
import type { AwsClients, CliIo } from './CliContext.js';
import { notFoundError, usageError } from './CliError.js';
import { type ResolvedStream, resolveStream } from './resolveStream.js';

/** The options that name an application's leases. */
export interface LeaseTableOptions {
  /** `--app`; defaults to `SHARDLINE_APP`, as the workers read it. */
  readonly app?: string;
  readonly leaseTable?: string;
  readonly stream?: string;
}

/** An application's lease table, opened through the worker's own store. */
export interface OpenedLeases {
  /** The application: `--app`, else `SHARDLINE_APP`. */
  readonly app: string;
  readonly store: DynamoDBLeaseStore;
  readonly tableName: string;
  /** The stream, when named with --stream (single-stream tables). */
  readonly stream: ResolvedStream | undefined;
  readonly leases: Lease[];
}

const APP_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * The application a command acts on: `--app`, else the `SHARDLINE_APP` the workers run with
 * (its deprecated alias `SHARDLINE_APPLICATION_NAME` too, with a warning on the CLI's stderr).
 * @throws CliError (usage) when neither names one.
 */
export function applicationOf(app: string | undefined, io: Pick<CliIo, 'env' | 'stderr'>): string {
  const name =
    app ||
    readApplicationName(io.env, {
      warn: (_fields, message) => io.stderr.write(`warning: ${message}\n`),
    });
  if (!name) {
    throw usageError(
      'No application named.',
      `Give --app <name> (the ${APPLICATION_NAME_VARIABLE} the workers run with, e.g. --app vote-aggregation), or set ${APPLICATION_NAME_VARIABLE}.`,
    );
  }
  return name;
}

/**
 * Opens the lease table of `--app` (or `SHARDLINE_APP`) (named after the application, as the worker and the KCL name
 * it; `--lease-table` overrides) with the worker's {@link DynamoDBLeaseStore}, so the CLI reads
 * and writes leases exactly as workers do. A single-stream table's keys are bare shard ids, so
 * its stream must be named with `--stream`; a multi-stream table names its streams itself.
 */
export async function openLeases(
  options: LeaseTableOptions,
  clients: AwsClients,
  io: Pick<CliIo, 'env' | 'stderr'>,
): Promise<OpenedLeases> {
  const app = applicationOf(options.app, io);
  const tableName = options.leaseTable ?? app;
  if (!APP_NAME.test(tableName)) {
    throw usageError(
      `"${tableName}" is not a valid application or lease table name.`,
      'Give the application name the workers run with (SHARDLINE_APP), e.g. --app vote-aggregation.',
    );
  }
  await assertAwsConfigured(clients.dynamodb);
  try {
    await clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw notFoundError(
        `No lease table "${tableName}" for application "${app}".`,
        'Check --app (the SHARDLINE_APP the workers run with) or give --lease-table; workers create the table when they first start.',
        error,
      );
    }
    throw explainAwsError(error, `lease table ${tableName}`);
  }
  let stream = options.stream ? await resolveStream(options.stream, clients) : undefined;
  let multiStream = false;
  if (!stream) {
    const sample = await clients.dynamodb.send(
      new ScanCommand({ TableName: tableName, Limit: 25, ProjectionExpression: 'streamName' }),
    );
    multiStream = (sample.Items ?? []).some((item) => item.streamName?.S !== undefined);
    if (!multiStream && (sample.Items ?? []).length > 0) {
      // The keys are bare shard ids; the workers' heartbeats name the stream they read.
      const streams = await new DynamoDBLeaseStore({
        client: clients.dynamodb,
        tableName,
        multiStream: true,
      }).fleetStreams();
      if (streams.length !== 1) {
        throw usageError(
          `The lease table "${tableName}" holds the leases of one stream, and ${streams.length === 0 ? 'no worker has recorded which' : `its workers recorded ${streams.length} streams`}.`,
          `Name the stream with --stream <table|stream-arn>, e.g. --stream ${streams[0] ?? 'Votes'}.`,
        );
      }
      stream = await resolveStream(streams[0]!, clients);
    }
  }
  const store = new DynamoDBLeaseStore({
    client: clients.dynamodb,
    tableName,
    multiStream,
    ...(stream ? { streamId: stream.streamArn } : {}),
    ...(!stream && !multiStream ? { streamId: 'unknown' } : {}),
  });
  return { app, store, tableName, stream, leases: await store.listLeases() };
}

/** A checkpoint as text: a sequence number or a sentinel (core's, re-exported for the commands). */
export { describeCheckpoint } from '@shardline/core';
