import {
  BatchProcessor,
  type ChangeRecord,
  errorMessage,
  ShardConsumer,
  ShardGraph,
  type ShardInfo,
  type ShardSource,
  type Sink,
  type StartPosition,
  sharedAbortController,
  sleep,
} from '@shardline/core';
import type { Command } from 'commander';
import { explainAwsError } from '../awsErrors.js';
import type { CliContext } from '../CliContext.js';
import { usageError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { changeToJson, formatChange } from '../formatChange.js';
import type { GlobalOptions, Wrap } from '../program.js';
import { matchesFilter, parseRecordFilter, type RecordFilter } from '../recordFilter.js';
import { resolveStream } from '../resolveStream.js';
import { openSource } from '../sources.js';

interface TailOptions extends GlobalOptions {
  readonly filter: string[];
  readonly events?: string;
  readonly from: string;
  readonly limit?: string;
}

/** How often `tail` looks for new shards (splits, rollovers), in ms. */
export const DEFAULT_TAIL_DISCOVERY_INTERVAL_MS = 1000;

/** `shardline tail <table|stream-arn>`: print changes as they happen. */
export function registerTail(program: Command, wrap: Wrap): void {
  program
    .command('tail')
    .description('print changes as they happen, with decoded images (follows new shards)')
    .argument('<table|stream-arn>', 'a DynamoDB table name, or a DynamoDB or Kinesis stream ARN')
    .option(
      '--filter <condition>',
      'only changes whose image satisfies it: attr=value, attr!=value, attr (repeatable; all must hold)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--events <names>', 'only these events: comma-separated insert, modify, remove')
    .option(
      '--from <position>',
      'latest (new changes only) or trim-horizon (all kept, 24 h)',
      'latest',
    )
    .option('--limit <n>', 'stop after printing n changes')
    .addHelpText(
      'after',
      `
Examples:
  $ shardline tail Votes
  $ shardline tail Votes --filter vote=A --events insert,modify
  $ shardline tail Votes --from trim-horizon --limit 10 --json | jq .newImage`,
    )
    .action(wrap(tailAction));
}

async function tailAction(
  context: CliContext,
  options: TailOptions,
  target: string,
): Promise<ExitCode> {
  const output = context.output(options.json);
  const filter = parseRecordFilter(options.filter, options.events);
  const from = options.from.toLowerCase().replace('_', '-');
  if (from !== 'latest' && from !== 'trim-horizon') {
    throw usageError(
      `--from "${options.from}" is not a position.`,
      'Use --from latest or --from trim-horizon.',
    );
  }
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw usageError(
      `--limit "${options.limit}" is not a positive whole number.`,
      'E.g. --limit 10.',
    );
  }
  const stream = await resolveStream(target, context.clients);
  const source = openSource(stream, context.clients);
  // Handed to every shard's reads at once (each GetRecords call listens to it).
  const stop = sharedAbortController();
  const onAbort = () => stop.abort();
  context.signal.addEventListener('abort', onAbort, { once: true });
  let printed = 0;
  const print = (record: ChangeRecord) => {
    if (stop.signal.aborted || !matchesFilter(record, filter)) return;
    if (output.json) output.jsonLine(changeToJson(record));
    else output.line(formatChange(record, output));
    printed++;
    if (limit !== undefined && printed >= limit) stop.abort();
  };
  output.note(`Tailing ${stream.streamArn} from ${from}${output.json ? '' : ' (Ctrl-C to stop)'}…`);
  try {
    await followShards(source, from === 'latest' ? 'LATEST' : 'TRIM_HORIZON', print, stop.signal);
  } catch (error) {
    throw explainAwsError(error, `stream ${stream.streamArn}`);
  } finally {
    context.signal.removeEventListener('abort', onAbort);
  }
  return ExitCode.Ok;
}

/**
 * Reads every shard of `source` through core's {@link ShardConsumer}, parents before children,
 * handing each change to `onRecord` in shard order, until `signal` aborts. With `LATEST`, the
 * shards open at the start are read from their newest record and closed ones are skipped; shards
 * that appear later are read from their start, once their parents are done.
 */
export async function followShards(
  source: ShardSource,
  start: 'LATEST' | 'TRIM_HORIZON',
  onRecord: (record: ChangeRecord) => void,
  signal: AbortSignal,
  discoveryIntervalMs = DEFAULT_TAIL_DISCOVERY_INTERVAL_MS,
): Promise<void> {
  // A sink, not a handler: a sink gets each page in shard order, so changes print in stream order.
  const printer: Sink = {
    name: 'tail',
    async write(records) {
      for (const record of records) onRecord(record);
      return records.map(() => ({ status: 'ok' as const }));
    },
  };
  const processor = new BatchProcessor({ sink: printer, deduper: false });
  const started = new Map<string, Promise<void>>();
  const finished = new Set<string>();
  let failure: unknown;
  let first = true;
  const launch = (shard: ShardInfo, position: StartPosition) => {
    const consumer = new ShardConsumer({
      source,
      shardId: shard.shardId,
      from: position,
      processor,
      prefetch: false,
      idleDelayMs: 100,
      maxIdleDelayMs: 500,
    });
    started.set(
      shard.shardId,
      consumer.run(signal).then(
        (result) => {
          if (result.ended) finished.add(shard.shardId);
        },
        (error: unknown) => {
          if (!signal.aborted) failure ??= error;
        },
      ),
    );
  };
  while (!signal.aborted && failure === undefined) {
    const graph = new ShardGraph(await source.listShards(signal));
    if (first && start === 'LATEST') {
      // Reading from LATEST: only the open leaves matter; their ancestors hold history only.
      const leaves = new Set(graph.leaves().map((s) => s.shardId));
      for (const shard of graph.shards()) {
        if (!leaves.has(shard.shardId) || graph.isClosed(shard.shardId))
          finished.add(shard.shardId);
        else launch(shard, { type: 'LATEST' });
      }
    } else {
      for (const shard of graph.readyShards((id) => finished.has(id))) {
        if (!started.has(shard.shardId)) launch(shard, { type: 'TRIM_HORIZON' });
      }
    }
    first = false;
    try {
      await sleep(discoveryIntervalMs, signal);
    } catch {
      break;
    }
  }
  await Promise.all(started.values());
  if (failure !== undefined) {
    throw failure instanceof Error ? failure : new Error(errorMessage(failure));
  }
}

export type { RecordFilter };
