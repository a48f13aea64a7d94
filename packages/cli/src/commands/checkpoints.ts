import {
  CHECKPOINT_RESET_OWNER,
  type Checkpoint,
  type Lease,
  type ShardInfo,
  sleep,
} from '@shardline/core';
import type { Command } from 'commander';
import { explainAwsError } from '../awsErrors.js';
import type { CliContext } from '../CliContext.js';
import { CliError, usageError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { describeCheckpoint, type LeaseTableOptions, openLeases } from '../leaseAccess.js';
import type { GlobalOptions, Wrap } from '../program.js';
import { openSource } from '../sources.js';

interface ListOptions extends GlobalOptions, LeaseTableOptions {}

interface ResetOptions extends GlobalOptions, LeaseTableOptions {
  readonly to: string;
  readonly shard: string[];
  readonly force?: boolean;
  readonly watchMs: string;
}

/** The owner the CLI writes while it moves a checkpoint (fences the previous owner). */
export const CLI_LEASE_OWNER = CHECKPOINT_RESET_OWNER;

/** How long `reset` watches lease counters to tell a live worker from a dead one, in ms. */
export const DEFAULT_WATCH_MS = 5000;

/** `shardline checkpoints list|reset --app <name>`. */
export function registerCheckpoints(program: Command, wrap: Wrap): void {
  const checkpoints = program
    .command('checkpoints')
    .description(
      "inspect and move an application's checkpoints (like a Kafka consumer group's offsets)",
    );
  const common = (command: Command) =>
    command
      .option(
        '--app <name>',
        'the application name; names the lease table (default: $SHARDLINE_APP)',
      )
      .option('--lease-table <name>', 'the lease table, when not named after the application')
      .option('--stream <table|stream-arn>', 'the stream (needed for single-stream lease tables)');
  common(checkpoints.command('list'))
    .description('list every lease: shard, owner, lease counter, checkpoint')
    .addHelpText(
      'after',
      `
Examples:
  $ shardline checkpoints list --app vote-aggregation --stream Votes
  $ shardline checkpoints list --app orders --json`,
    )
    .action(wrap(listAction));
  common(checkpoints.command('reset'))
    .description(
      'move checkpoints: to trim-horizon (reprocess all kept), latest (skip the backlog) or a sequence number',
    )
    .requiredOption(
      '--to <position>',
      'trim-horizon | latest | <sequence number> (resume after it)',
    )
    .option(
      '--shard <id>',
      'only this shard (repeatable); default: every shard not finished',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--force', 'move shards owned by a live worker too (the worker loses the lease)')
    .option(
      '--watch-ms <ms>',
      'how long to watch lease counters for live workers',
      String(DEFAULT_WATCH_MS),
    )
    .addHelpText(
      'after',
      `
A shard whose lease counter moves while we watch is owned by a live worker: it is refused (exit 6)
unless --force. Stop the workers first (or scale the ECS service to 0) for a clean reset. Each
move takes the lease (so a worker still holding it can no longer commit), writes the checkpoint,
and releases the lease for the workers to take.

Examples:
  $ shardline checkpoints reset --app vote-aggregation --stream Votes --to trim-horizon
  $ shardline checkpoints reset --app vote-aggregation --stream Votes --to latest --shard shardId-0001
  $ shardline checkpoints reset --app orders --to 4960000000000000000001 --shard shardId-0002 --force`,
    )
    .action(wrap(resetAction));
}

async function listAction(context: CliContext, options: ListOptions): Promise<ExitCode> {
  const output = context.output(options.json);
  const { app, leases, tableName } = await openLeases(options, context.clients, context.io);
  leases.sort((a, b) => a.streamId.localeCompare(b.streamId) || a.shardId.localeCompare(b.shardId));
  output.result(
    {
      app,
      leaseTable: tableName,
      leases: leases.map((l) => ({
        leaseKey: l.leaseKey,
        streamId: l.streamId,
        shardId: l.shardId,
        owner: l.leaseOwner ?? null,
        leaseCounter: l.leaseCounter,
        checkpoint: describeCheckpoint(l.checkpoint),
        parentShardIds: l.parentShardIds,
      })),
    },
    () => {
      output.table(leases, [
        { header: 'SHARD', value: (l) => l.shardId },
        {
          header: 'OWNER',
          value: (l) => l.leaseOwner ?? '-',
          color: (l) => (l.leaseOwner ? undefined : 'gray'),
        },
        { header: 'COUNTER', align: 'right', value: (l) => String(l.leaseCounter) },
        { header: 'CHECKPOINT', value: (l) => describeCheckpoint(l.checkpoint) },
        { header: 'PARENTS', value: (l) => l.parentShardIds.join(', ') || '-' },
      ]);
      if (leases.length === 0)
        output.line('No leases: no worker of this application has started yet.');
    },
  );
  return ExitCode.Ok;
}

function parseTarget(text: string): Checkpoint {
  const value = text.trim().toLowerCase().replace('_', '-');
  if (value === 'trim-horizon') return 'TRIM_HORIZON';
  if (value === 'latest') return 'LATEST';
  if (/^\d+$/.test(value)) return { sequenceNumber: value };
  throw usageError(
    `--to "${text}" is not a position.`,
    'Use --to trim-horizon, --to latest, or --to <sequence number> (decimal digits).',
  );
}

/** How often `reset --force` re-reads and retries a lease that a live owner keeps renewing. */
const FORCED_TAKE_ATTEMPTS = 5;

async function resetAction(context: CliContext, options: ResetOptions): Promise<ExitCode> {
  const output = context.output(options.json);
  const target = parseTarget(options.to);
  const watchMs = Number(options.watchMs);
  if (!(Number.isInteger(watchMs) && watchMs >= 0)) {
    throw usageError(
      `--watch-ms "${options.watchMs}" is not a whole number of ms.`,
      'E.g. --watch-ms 5000.',
    );
  }
  const { app, store, leases } = await openLeases(options, context.clients, context.io);
  const unknown = options.shard.filter((id) => !leases.some((l) => l.shardId === id));
  if (unknown.length > 0) {
    throw new CliError(
      `No lease for shard(s) ${unknown.join(', ')} in this application.`,
      ExitCode.NotFound,
      `List the shards with: shardline checkpoints list --app ${app}`,
    );
  }
  const selected = leases.filter((l) =>
    options.shard.length > 0 ? options.shard.includes(l.shardId) : l.checkpoint !== 'SHARD_END',
  );
  if (typeof target === 'object') {
    await checkSequenceNumber(context, target.sequenceNumber, selected, { ...options, app });
  }
  // A live worker renews its leases (the counter moves); a dead one's counter stands still.
  output.progress(`watching ${selected.length} lease(s) for ${watchMs} ms to find live workers…`);
  if (watchMs > 0) await sleep(watchMs, context.signal);
  const now = new Map((await store.listLeases()).map((l) => [l.leaseKey, l]));
  const live = selected.filter((l) => {
    const later = now.get(l.leaseKey);
    return (
      later !== undefined && later.leaseOwner !== undefined && later.leaseCounter !== l.leaseCounter
    );
  });
  if (live.length > 0 && !options.force) {
    throw new CliError(
      `Refusing to move ${live.length} shard(s) owned by a live worker: ${live
        .map((l) => `${l.shardId} (${now.get(l.leaseKey)?.leaseOwner})`)
        .join(', ')}.`,
      ExitCode.Refused,
      'Stop the workers first (e.g. scale the ECS service to 0), or pass --force to take the leases from them.',
    );
  }
  const moved: { shardId: string; from: string; to: string }[] = [];
  const resets = new Map<string, Checkpoint>();
  // The workers are told once the moves are written, also when one fails midway.
  try {
    for (const lease of selected) {
      let current: Lease = now.get(lease.leaseKey) ?? lease;
      // Taking the lease bumps its counter, so the previous owner's next commit is fenced off.
      let taken = await store.takeLease(current.leaseKey, CLI_LEASE_OWNER, current.leaseCounter);
      // With --force a live owner may renew between our read and our take: read again and retry.
      for (let attempt = 1; !taken && options.force && attempt < FORCED_TAKE_ATTEMPTS; attempt++) {
        current = (await store.getLease(current.leaseKey)) ?? current;
        taken = await store.takeLease(current.leaseKey, CLI_LEASE_OWNER, current.leaseCounter);
      }
      if (!taken) {
        throw new CliError(
          `The lease of shard ${current.shardId} changed while moving it; nothing was written for it.`,
          ExitCode.Refused,
          'A worker is active on it: stop the workers, or run again with --force.',
        );
      }
      const token = {
        leaseKey: taken.leaseKey,
        owner: CLI_LEASE_OWNER,
        leaseCounter: taken.leaseCounter,
      };
      await store.commitCheckpoint(current.streamId, current.shardId, target, token);
      await store.releaseLease(token);
      resets.set(current.leaseKey, target);
      moved.push({
        shardId: current.shardId,
        from: describeCheckpoint(current.checkpoint),
        to: describeCheckpoint(target),
      });
    }
  } finally {
    if (resets.size > 0) await store.noteCheckpointReset(resets);
  }
  output.result({ app, moved }, () => {
    output.table(moved, [
      { header: 'SHARD', value: (m) => m.shardId },
      { header: 'FROM', value: (m) => m.from },
      { header: 'TO', value: (m) => m.to, color: () => 'green' },
    ]);
    output.line(
      `${moved.length} checkpoint(s) moved. Running workers restart these shards from the new checkpoints at their next take round (SHARDLINE_TAKE_INTERVAL_MS, 1 s by default).`,
    );
  });
  return ExitCode.Ok;
}

/**
 * Rejects a `--to <sequence number>` that cannot be a position of the selected shards, before
 * anything is written: the wrong length for the stream's service (DynamoDB Streams: 21–40
 * digits; Kinesis: no leading zero, up to 129 digits, as their APIs require), or outside a
 * shard's range of sequence numbers (below its first, or above its last once it is closed).
 */
async function checkSequenceNumber(
  context: CliContext,
  sequenceNumber: string,
  selected: readonly Lease[],
  options: ResetOptions & { readonly app: string },
): Promise<void> {
  const command = (shardId: string, to: string) =>
    [
      'shardline checkpoints reset',
      `--app ${options.app}`,
      ...(options.leaseTable ? [`--lease-table ${options.leaseTable}`] : []),
      ...(options.stream ? [`--stream ${options.stream}`] : []),
      `--shard ${shardId}`,
      `--to ${to}`,
      ...(options.force ? ['--force'] : []),
      ...(options.watchMs !== String(DEFAULT_WATCH_MS) ? [`--watch-ms ${options.watchMs}`] : []),
    ].join(' ');
  const shardsByStream = new Map<string, Map<string, ShardInfo>>();
  for (const lease of selected) {
    const kinesis = lease.streamId.includes(':kinesis:');
    const describe = `shardline describe ${options.stream ?? lease.streamId}`;
    const form = kinesis
      ? /^(0|[1-9]\d{0,128})$/.test(sequenceNumber)
      : /^\d{21,40}$/.test(sequenceNumber);
    if (!form) {
      throw usageError(
        `--to ${sequenceNumber} is not a ${kinesis ? 'Kinesis' : 'DynamoDB Streams'} sequence number (${
          kinesis ? 'decimal digits without a leading zero, at most 129' : '21 to 40 decimal digits'
        }, ${sequenceNumber.length} given); nothing was written. See the shards' sequence numbers with:`,
        describe,
      );
    }
    if (lease.streamId === 'unknown') continue;
    let shards = shardsByStream.get(lease.streamId);
    if (!shards) {
      const source = openSource(
        {
          kind: kinesis ? 'kinesis' : 'dynamodb-streams',
          streamArn: lease.streamId,
          tableName: undefined,
          streamViewType: undefined,
        },
        context.clients,
      );
      try {
        shards = new Map((await source.listShards(context.signal)).map((s) => [s.shardId, s]));
      } catch (error) {
        throw explainAwsError(error, `stream ${lease.streamId}`);
      }
      shardsByStream.set(lease.streamId, shards);
    }
    const shard = shards.get(lease.shardId);
    if (!shard) continue; // trimmed away: its range is no longer known
    const value = BigInt(sequenceNumber);
    const first = shard.startingSequenceNumber;
    const last = shard.endingSequenceNumber;
    const range = `${first ?? '?'} … ${last ?? '(open)'}`;
    if (first !== undefined && value < BigInt(first)) {
      throw usageError(
        `--to ${sequenceNumber} is before the first sequence number of shard ${lease.shardId} (${range}); nothing was written. To read the shard from its oldest record, run:`,
        command(lease.shardId, 'trim-horizon'),
      );
    }
    if (last !== undefined && value > BigInt(last)) {
      throw usageError(
        `--to ${sequenceNumber} is after the last sequence number of shard ${lease.shardId} (${range}, closed); nothing was written. To skip the rest of the shard, run:`,
        command(lease.shardId, last),
      );
    }
  }
}
