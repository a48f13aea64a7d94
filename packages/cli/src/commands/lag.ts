import type { Lease, ShardInfo, ShardSource, StartPosition } from '@shardline/core';
import type { Command } from 'commander';
import { explainAwsError } from '../awsErrors.js';
import type { CliContext } from '../CliContext.js';
import { usageError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { describeCheckpoint, openLeases } from '../leaseAccess.js';
import { isLocalStreamsEndpoint, LOCAL_TIME_ROUNDING_NOTE } from '../localEndpoint.js';
import type { GlobalOptions, Wrap } from '../program.js';
import { openSource } from '../sources.js';

interface LagOptions extends GlobalOptions {
  readonly app?: string;
  readonly leaseTable?: string;
  readonly stream?: string;
  readonly maxLag?: string;
  readonly maxPages: string;
}

/** One shard's lag. */
export interface ShardLag {
  readonly streamId: string;
  readonly shardId: string;
  readonly owner: string | null;
  readonly checkpoint: string;
  /** The newest record of the shard, when any was seen. */
  readonly newestSequenceNumber: string | null;
  /** Records after the checkpoint (a lower bound when `capped`). */
  readonly recordsBehind: number;
  readonly capped: boolean;
  /** Age of the oldest record not yet checkpointed, in ms (0 when caught up). */
  readonly oldestUnprocessedAgeMs: number;
  readonly status: 'caught-up' | 'behind' | 'ended' | 'not-started';
}

/** `shardline lag --app <name>`: per shard, the checkpoint against the stream's newest record. */
export function registerLag(program: Command, wrap: Wrap): void {
  program
    .command('lag')
    .description("per shard: the application's checkpoint against the stream's newest record")
    .option('--app <name>', 'the application name; names the lease table (default: $SHARDLINE_APP)')
    .option('--lease-table <name>', 'the lease table, when not named after the application')
    .option('--stream <table|stream-arn>', 'the stream (needed for single-stream lease tables)')
    .option('--max-lag <records>', 'exit 5 when any shard is more records behind than this')
    .option('--max-pages <n>', 'read at most this many pages per shard to count', '20')
    .addHelpText(
      'after',
      `
Counting reads the records after each checkpoint (GetRecords; nothing is consumed or moved).

Examples:
  $ shardline lag --app vote-aggregation --stream Votes
  $ shardline lag --app vote-aggregation --stream Votes --max-lag 1000   # for alerts: exit 5
  $ shardline lag --app orders --json | jq '.shards[] | select(.recordsBehind > 0)'`,
    )
    .action(wrap(lagAction));
}

async function lagAction(context: CliContext, options: LagOptions): Promise<ExitCode> {
  const output = context.output(options.json);
  const maxLag = options.maxLag === undefined ? undefined : Number(options.maxLag);
  if (maxLag !== undefined && !(Number.isInteger(maxLag) && maxLag >= 0)) {
    throw usageError(
      `--max-lag "${options.maxLag}" is not a whole number of records.`,
      'E.g. --max-lag 1000.',
    );
  }
  const maxPages = Number(options.maxPages);
  if (!(Number.isInteger(maxPages) && maxPages > 0)) {
    throw usageError(
      `--max-pages "${options.maxPages}" is not a positive whole number.`,
      'E.g. --max-pages 20.',
    );
  }
  const opened = await openLeases(options, context.clients, context.io);
  const sources = new Map<string, ShardSource>();
  const shardsByStream = new Map<string, Map<string, ShardInfo>>();
  const rows: ShardLag[] = [];
  let done = 0;
  for (const lease of opened.leases) {
    output.progress(`reading shard ${++done}/${opened.leases.length}: ${lease.shardId}`);
    let source = sources.get(lease.streamId);
    if (!source) {
      const kind = lease.streamId.includes(':kinesis:') ? 'kinesis' : 'dynamodb-streams';
      source = openSource(
        { kind, streamArn: lease.streamId, tableName: undefined, streamViewType: undefined },
        context.clients,
      );
      sources.set(lease.streamId, source);
      try {
        shardsByStream.set(
          lease.streamId,
          new Map((await source.listShards(context.signal)).map((s) => [s.shardId, s])),
        );
      } catch (error) {
        throw explainAwsError(error, `stream ${lease.streamId}`);
      }
    }
    const shard = shardsByStream.get(lease.streamId)?.get(lease.shardId);
    rows.push(await shardLag(source, lease, shard, maxPages, context.signal));
  }
  rows.sort((a, b) => a.streamId.localeCompare(b.streamId) || a.shardId.localeCompare(b.shardId));
  const total = rows.reduce((n, r) => n + r.recordsBehind, 0);
  const exceeded = maxLag !== undefined && rows.some((r) => r.recordsBehind > maxLag);
  const roundedTimes =
    isLocalStreamsEndpoint(context.io.env) && rows.some((r) => !r.streamId.includes(':kinesis:'));
  output.result(
    {
      app: opened.app,
      leaseTable: opened.tableName,
      totalRecordsBehind: total,
      shards: rows,
      ...(roundedTimes ? { note: LOCAL_TIME_ROUNDING_NOTE } : {}),
    },
    () => {
      output.table(rows, [
        { header: 'SHARD', value: (r) => r.shardId },
        { header: 'OWNER', value: (r) => r.owner ?? '-' },
        { header: 'CHECKPOINT', value: (r) => r.checkpoint },
        { header: 'NEWEST', value: (r) => r.newestSequenceNumber ?? '-' },
        {
          header: 'BEHIND',
          align: 'right',
          value: (r) => `${r.capped ? '≥' : ''}${r.recordsBehind}`,
          color: (r) => (r.recordsBehind > 0 ? 'yellow' : 'green'),
        },
        {
          header: 'OLDEST UNREAD',
          align: 'right',
          value: (r) =>
            r.recordsBehind ? `${(r.oldestUnprocessedAgeMs / 1000).toFixed(1)} s` : '-',
        },
        { header: 'STATUS', value: (r) => r.status },
      ]);
      output.line();
      output.line(`${rows.length} shard(s), ${total} record(s) behind.`);
      if (rows.length === 0)
        output.line('No leases yet: no worker of this application has started.');
      if (roundedTimes) output.line(LOCAL_TIME_ROUNDING_NOTE);
    },
  );
  return exceeded ? ExitCode.CheckFailed : ExitCode.Ok;
}

/**
 * Counts the records after a lease's checkpoint by reading them (up to `maxPages` pages):
 * DynamoDB Streams has no "newest sequence number" call, and reading is the only exact answer.
 */
async function shardLag(
  source: ShardSource,
  lease: Lease,
  shard: ShardInfo | undefined,
  maxPages: number,
  signal: AbortSignal,
): Promise<ShardLag> {
  const base = {
    streamId: lease.streamId,
    shardId: lease.shardId,
    owner: lease.leaseOwner ?? null,
    checkpoint: describeCheckpoint(lease.checkpoint),
  };
  const checkpoint = lease.checkpoint;
  if (checkpoint === 'SHARD_END' || !shard) {
    return {
      ...base,
      newestSequenceNumber: shard?.endingSequenceNumber ?? null,
      recordsBehind: 0,
      capped: false,
      oldestUnprocessedAgeMs: 0,
      status: 'ended',
    };
  }
  if (checkpoint === 'LATEST' || checkpoint === 'AT_TIMESTAMP') {
    return {
      ...base,
      newestSequenceNumber: null,
      recordsBehind: 0,
      capped: false,
      oldestUnprocessedAgeMs: 0,
      status: 'not-started',
    };
  }
  const from: StartPosition =
    checkpoint === undefined || checkpoint === 'TRIM_HORIZON'
      ? { type: 'TRIM_HORIZON' }
      : { type: 'AFTER_SEQUENCE_NUMBER', ...checkpoint };
  const iterator = await source.openShard(lease.shardId, from, signal);
  let behind = 0;
  let newest: string | undefined;
  let oldestMs: number | undefined;
  let pages = 0;
  let capped = false;
  for (;;) {
    const page = await iterator.next(signal);
    pages++;
    for (const record of page.records) {
      behind++;
      newest = record.sequenceNumber;
      oldestMs ??= record.approximateCreationTimeMs;
    }
    if (page.shardEnded || page.records.length === 0) break;
    if (pages >= maxPages) {
      capped = true;
      break;
    }
  }
  const status = behind > 0 ? 'behind' : checkpoint === undefined ? 'not-started' : 'caught-up';
  return {
    ...base,
    newestSequenceNumber:
      newest ?? (typeof checkpoint === 'object' ? checkpoint.sequenceNumber : null),
    recordsBehind: behind,
    capped,
    oldestUnprocessedAgeMs: oldestMs === undefined ? 0 : Math.max(0, Date.now() - oldestMs),
    status,
  };
}
