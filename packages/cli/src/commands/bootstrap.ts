import { S3Client } from '@aws-sdk/client-s3';
import {
  type BootstrapDeliveryOptions,
  type BootstrapProgress,
  type BootstrapResult,
  bootstrapTable,
} from '@shardline/bootstrap';
import { readTableExport } from '@shardline/bootstrap/export';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { assertAwsConfigured } from '../awsErrors.js';
import type { CliContext } from '../CliContext.js';
import { CliError, usageError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { loadModule } from '../loadModule.js';
import type { GlobalOptions, Wrap } from '../program.js';

interface BootstrapOptions extends GlobalOptions {
  readonly table: string;
  readonly to: string;
  readonly app?: string;
  readonly leaseTable?: string;
  readonly readPercent?: string;
  readonly readCapacityUnits?: string;
  readonly segments?: string;
  readonly fromExport?: string;
  readonly bootstrapId?: string;
  readonly restart?: boolean;
}

type Target = Pick<BootstrapDeliveryOptions, 'sink' | 'handler' | 'keyBatchHandler'> &
  Partial<BootstrapDeliveryOptions>;

/** `shardline bootstrap --table T --to <module>`: backfill a table's items into a consumer. */
export function registerBootstrap(program: Command, wrap: Wrap): void {
  program
    .command('bootstrap')
    .description(
      "backfill a table's existing items into a consumer's sink: a parallel Scan within a read-capacity budget, or an export in S3",
    )
    .requiredOption('--table <name>', 'the table to read')
    .requiredOption(
      '--to <module>',
      'a module exporting `bootstrap` (or `replay`): { sink } | { handler } | { keyBatchHandler }, or a function returning one',
    )
    .option('--app <name>', 'the application (SHARDLINE_APP): progress is kept in its lease table')
    .option('--lease-table <name>', 'the table to keep progress in, when not named after --app')
    .option(
      '--read-percent <p>',
      "share of the table's read capacity to use, 0 < p <= 1.5 (default 0.5)",
    )
    .option(
      '--read-capacity-units <n>',
      'the read capacity the percent applies to (default: provisioned RCU; 4000 for on-demand tables)',
    )
    .option('--segments <n>', 'parallel Scan segments, kept when resuming (default 4)')
    .option(
      '--from-export <s3-url>',
      'read an ExportTableToPointInTime export (DYNAMODB_JSON) instead: s3://bucket/prefix/',
    )
    .option('--bootstrap-id <id>', 'names the bootstrap; the same id resumes it')
    .option('--restart', 'forget the recorded progress of this bootstrap and start over')
    .addHelpText(
      'after',
      `
Start the stream consumer first (DynamoDB Streams: TRIM_HORIZON, within 24 hours; Kinesis: at or
before the export time), then bootstrap: changes made during the bootstrap come from the stream,
and a sink that honours record.bootstrap keeps the newer version. Progress is saved after every
page in the lease table; run the same command again to resume after a crash. Several processes
may run it at once: they share the segments. The budget is per process.

Examples:
  $ shardline bootstrap --table Users --to ./dist/consumer.js --app users-sync
  $ shardline bootstrap --table Users --to ./dist/consumer.js --app users-sync --read-percent 0.25 --segments 16
  $ shardline bootstrap --table Users --to ./dist/consumer.js --app users-sync --from-export s3://exports/users/`,
    )
    .action(wrap(bootstrapAction));
}

async function bootstrapAction(context: CliContext, options: BootstrapOptions): Promise<ExitCode> {
  // Not a terminal: a log collector or a script reads it, so progress and result are JSON lines.
  const json = options.json || !context.io.stdout.isTTY;
  const output = context.output(json);
  const progressTable = options.leaseTable ?? options.app;
  if (!progressTable) {
    throw usageError(
      'bootstrap needs --app (or --lease-table): the table its progress is kept in.',
      "Give the consumer's application name, e.g. --app users-sync; its workers skip these items.",
    );
  }
  const readPercent = positiveNumber('--read-percent', options.readPercent);
  const readCapacityUnits = positiveNumber('--read-capacity-units', options.readCapacityUnits);
  const segments = positiveNumber('--segments', options.segments);
  const dynamodb = context.clients.dynamodb;
  await assertAwsConfigured(dynamodb);
  const target = await loadTarget(options.to);
  const progress = progressReporter(context, json);
  const common = {
    ...target,
    progressTable,
    onProgress: progress.update,
    signal: context.signal,
    ...(options.bootstrapId ? { bootstrapId: options.bootstrapId } : {}),
    ...(options.restart ? { restart: true } : {}),
  };
  let result: BootstrapResult & { exportTimeMs?: number };
  try {
    if (options.fromExport) {
      const { bucket, prefix } = parseS3Url(options.fromExport);
      const s3 = new S3Client({
        forcePathStyle: context.io.env.AWS_S3_FORCE_PATH_STYLE === 'true',
      });
      try {
        result = await readTableExport({
          ...common,
          s3,
          dynamodb,
          bucket,
          prefix,
          table: options.table,
        });
      } finally {
        s3.destroy();
      }
    } else {
      result = await bootstrapTable({
        ...common,
        client: dynamodb,
        table: options.table,
        ...(readPercent !== undefined ? { readPercent } : {}),
        ...(readCapacityUnits !== undefined ? { readCapacityUnits } : {}),
        ...(segments !== undefined ? { segments } : {}),
      });
    }
  } finally {
    progress.stop();
    await target.sink?.close?.();
  }
  output.result({ event: 'done', ...result }, () => {
    output.line(
      `Bootstrap ${result.bootstrapId}: ${result.items} item(s) delivered in this run (${result.itemsTotal} in all), ${round(result.consumedRcu)} RCU in ${round(result.durationMs / 1000)} s${result.resumed ? ', resumed' : ''}.`,
    );
    if (result.budget) {
      output.line(
        `Budget: ${round(result.budget.unitsPerSecond)} RCU/s (${result.budget.readPercent} of ${result.budget.baseUnits}, ${result.budget.basis}).`,
      );
    }
    if (result.exportTimeMs !== undefined) {
      output.line(
        `Export time: ${new Date(result.exportTimeMs).toISOString()}; the stream consumer must read from at or before it.`,
      );
    }
  });
  return ExitCode.Ok;
}

/** The module's bootstrap target: `bootstrap`, else `replay`, else the default export. */
async function loadTarget(specifier: string): Promise<Target> {
  const module = await loadModule(specifier);
  const exported = module.bootstrap ?? module.replay ?? module.default;
  const target = (typeof exported === 'function' ? await exported() : exported) as
    | Target
    | undefined;
  if (!target || (!target.sink && !target.handler && !target.keyBatchHandler)) {
    throw new CliError(
      `Module "${specifier}" does not export a bootstrap target.`,
      ExitCode.Usage,
      'Export `bootstrap` as { sink }, { handler } or { keyBatchHandler } (or a function returning one): the same target as the stream consumer.',
    );
  }
  return target;
}

/**
 * Progress: a bar with an ETA when stdout is a terminal (and not --json), else one JSON line
 * per second at most, so a log collector sees it move.
 */
function progressReporter(
  context: CliContext,
  json: boolean,
): { update: (p: BootstrapProgress) => void; stop: () => void } {
  const stdout = context.io.stdout;
  if (json || !stdout.isTTY) {
    let lastAt = 0;
    return {
      update: (p) => {
        const now = Date.now();
        if (now - lastAt < 1000 && p.partsDone < p.parts) return;
        lastAt = now;
        stdout.write(`${JSON.stringify({ event: 'progress', ...p })}\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({
    stream: stdout as NodeJS.WriteStream,
    format:
      'bootstrap |{bar}| {percentage}% | {value}/{total} items | {parts} parts | {rcu} RCU/s | ETA {eta_formatted}',
    hideCursor: true,
    etaBuffer: 50,
  });
  let started = false;
  return {
    update: (p) => {
      const total = Math.max(p.estimatedItems ?? 0, p.itemsTotal, 1);
      const payload = {
        parts: `${p.partsDone}/${p.parts}`,
        rcu: round(p.consumedRcu / Math.max(p.elapsedMs / 1000, 0.001)),
      };
      if (!started) {
        bar.start(total, p.itemsTotal, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(p.itemsTotal, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function positiveNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0)) {
    throw usageError(`${flag} "${text}" is not a number above 0.`, `E.g. ${flag} 0.25.`);
  }
  return value;
}

function parseS3Url(text: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(text.trim());
  if (!match) {
    throw usageError(
      `--from-export "${text}" is not an S3 URL.`,
      'Give the bucket and the prefix the export was requested with, e.g. s3://exports/users/.',
    );
  }
  const prefix = match[2] ?? '';
  return {
    bucket: match[1]!,
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
