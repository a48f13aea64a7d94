import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { consoleWarningLogger, errorMessage, sleep } from '@shardline/core';
import type { Tally } from '@shardline/example-vote-aggregation';
import type { DynamoDBLocalServer } from '@shardline/local';
import type { Command } from 'commander';
import type { CliContext } from '../CliContext.js';
import { CliError, usageError } from '../CliError.js';
import { DEMO_CHOICES, VoteWriter } from '../demo/VoteWriter.js';
import { ExitCode } from '../ExitCode.js';
import { importOptional, OPTIONAL_PACKAGES } from '../importOptional.js';
import { LOCAL_TIME_ROUNDING_NOTE } from '../localEndpoint.js';
import type { Output } from '../Output.js';
import type { GlobalOptions, Wrap } from '../program.js';

interface DemoOptions extends GlobalOptions {
  readonly duration?: string;
  readonly rate: string;
}

/** Defaults of the demo. */
export const DEFAULT_DEMO = {
  rate: 10,
  /** Longest wait for the summary to catch up after the writes stop, in ms. */
  drainTimeoutMs: 30_000,
  /** How often the tally is redrawn, in ms. */
  refreshMs: 500,
} as const;

const DEMO_CONFIG = {
  votesTable: 'Votes',
  summaryTable: 'VoteSummary',
  leaseTable: 'shardline-demo-leases',
  applicationName: 'shardline-demo',
} as const;

/** `shardline demo`: the vote-aggregation recipe, live, on an embedded DynamoDB Local. */
export function registerDemo(program: Command, wrap: Wrap): void {
  program
    .command('demo')
    .description(
      'run the vote-aggregation recipe on an embedded DynamoDB Local: votes are written, changed and withdrawn while a worker keeps the totals; at the end the totals are checked against a full scan',
    )
    .option('--duration <seconds>', 'stop by itself after this many seconds (else Ctrl-C)')
    .option('--rate <votes-per-second>', 'changes written per second', String(DEFAULT_DEMO.rate))
    .addHelpText(
      'after',
      `
Needs Java 17+ for DynamoDB Local (apt-get install openjdk-17-jre-headless); no AWS account or
credentials: everything runs on this machine.

Exit code: 0 when the summary equals the scan at the end, 5 when it does not.

Examples:
  $ shardline demo                      # until Ctrl-C
  $ shardline demo --duration 20 --rate 50
  $ shardline demo --duration 10 --json | tail -1`,
    )
    .action(wrap(demoAction));
}

async function demoAction(context: CliContext, options: DemoOptions): Promise<ExitCode> {
  const output = context.output(options.json);
  const rate = Number(options.rate);
  if (!(Number.isFinite(rate) && rate > 0 && rate <= 1000)) {
    throw usageError(
      `--rate "${options.rate}" is not a rate from 0 to 1000 votes per second.`,
      'E.g. --rate 20.',
    );
  }
  const duration = options.duration === undefined ? undefined : Number(options.duration);
  if (duration !== undefined && !(Number.isFinite(duration) && duration > 0)) {
    throw usageError(
      `--duration "${options.duration}" is not a number of seconds.`,
      'E.g. --duration 30.',
    );
  }

  // Loaded here only: an install without optional dependencies has neither, and needs neither
  // for the other commands.
  const needs = [OPTIONAL_PACKAGES.local, OPTIONAL_PACKAGES.voteRecipe];
  const { startDynamoDBLocal } = await importOptional(
    OPTIONAL_PACKAGES.local,
    'shardline demo',
    () => import('@shardline/local'),
    needs,
  );
  const recipe = await importOptional(
    OPTIONAL_PACKAGES.voteRecipe,
    'shardline demo',
    () => import('@shardline/example-vote-aggregation'),
    needs,
  );
  const {
    countVotesByScan,
    createVoteAggregationWorker,
    createVoteTables,
    readSummary,
    sameTally,
  } = recipe;
  output.note('Starting DynamoDB Local (embedded, in memory)…');
  let server: DynamoDBLocalServer;
  try {
    // Its own process group: Ctrl-C reaches the demo (which stops writing and checks), not the
    // JVM the check still reads from.
    server = await startDynamoDBLocal({ ownProcessGroup: true });
  } catch (error) {
    throw new CliError(
      `Could not start DynamoDB Local: ${errorMessage(error)}`,
      ExitCode.Configuration,
      'Install Java 17 or later (apt-get install openjdk-17-jre-headless) and make sure `java -version` works.',
      { cause: error },
    );
  }
  // Local endpoint and local credentials: the demo needs no AWS account and reads no AWS_* variable.
  const dynamodb = new DynamoDBClient(server.clientConfig);
  const streams = new DynamoDBStreamsClient(server.clientConfig);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  context.signal.addEventListener('abort', onAbort, { once: true });
  const timer =
    duration === undefined ? undefined : setTimeout(() => stop.abort(), duration * 1000);
  try {
    await createVoteTables(dynamodb, DEMO_CONFIG);
    const worker = await createVoteAggregationWorker({
      dynamodb,
      streams,
      config: DEMO_CONFIG,
      worker: {
        leaseDurationMs: 6000,
        minReadIntervalMs: 100,
        maxIdleDelayMs: 250,
        commitIntervalMs: 1000,
        discoveryIntervalMs: 5000,
        shutdownTimeoutMs: 10_000,
        logger: consoleWarningLogger({ component: 'demo-worker' }),
      },
    });
    let applied = 0;
    worker.events.on('batch.processed', (e) => {
      applied += e.succeeded + e.parked;
    });
    await worker.start();
    const writer = new VoteWriter({
      client: dynamodb,
      votesTable: DEMO_CONFIG.votesTable,
      rate,
      voters: Math.max(50, Math.round(rate * 10)),
    });
    const started = Date.now();
    for (const line of howToReach(server.endpoint, output.json)) output.note(line);
    output.note(
      `Demo running: ${rate} votes/s over ${DEMO_CHOICES.join(', ')}${duration ? ` for ${duration} s` : ''}. ${output.json ? '' : 'Ctrl-C to stop.'}`,
    );
    const writing = writer.run(stop.signal);
    const view = new TallyView(output);
    while (!stop.signal.aborted) {
      const summary = await readSummary(dynamodb, DEMO_CONFIG.summaryTable);
      view.show({ elapsedMs: Date.now() - started, summary, writer, applied });
      try {
        await sleep(DEFAULT_DEMO.refreshMs, stop.signal);
      } catch {
        break;
      }
    }
    await writing;
    output.note('Writes stopped; waiting for the worker to apply the last changes…');
    const deadline = Date.now() + DEFAULT_DEMO.drainTimeoutMs;
    let summary: Tally = {};
    let scan: Tally = {};
    for (;;) {
      summary = await readSummary(dynamodb, DEMO_CONFIG.summaryTable);
      scan = await countVotesByScan(dynamodb, DEMO_CONFIG.votesTable);
      if (sameTally(summary, scan) || Date.now() > deadline) break;
      await sleep(250);
    }
    await worker.stop();
    const matches = sameTally(summary, scan);
    const stats = writer.stats;
    output.result(
      {
        type: 'result',
        matches,
        summary,
        scan,
        written: stats,
        durationMs: Date.now() - started,
      },
      () => {
        output.line();
        output.line(
          `Wrote ${stats.written} changes: ${stats.inserted} new votes, ${stats.changed} changed, ${stats.deleted} withdrawn.`,
        );
        output.line(`Summary (VoteSummary): ${formatTally(summary)}`);
        output.line(`Full scan (Votes):     ${formatTally(scan)}`);
        output.line(
          matches
            ? output.paint('green', '✔ The summary equals a full scan of the votes.')
            : output.paint('red', '✘ The summary differs from a full scan of the votes.'),
        );
      },
    );
    return matches ? ExitCode.Ok : ExitCode.CheckFailed;
  } finally {
    if (timer) clearTimeout(timer);
    context.signal.removeEventListener('abort', onAbort);
    dynamodb.destroy();
    streams.destroy();
    await server.stop();
  }
}

function formatTally(tally: Tally): string {
  const entries = DEMO_CHOICES.map((c) => `${c}=${tally[c] ?? 0}`);
  return entries.join('  ');
}

interface Frame {
  readonly elapsedMs: number;
  readonly summary: Tally;
  readonly writer: VoteWriter;
  readonly applied: number;
}

/** Draws the live tally: redrawn in place on a TTY, a line every few seconds otherwise. */
class TallyView {
  readonly #output: Output;
  #lines = 0;
  #lastLineAt = 0;

  constructor(output: Output) {
    this.#output = output;
  }

  show(frame: Frame): void {
    const stats = frame.writer.stats;
    const applied = Math.min(frame.applied, stats.written);
    const behind = stats.written - applied;
    const oldest = frame.writer.writtenAt[applied];
    const lagMs = behind > 0 && oldest !== undefined ? Date.now() - oldest : 0;
    const o = this.#output;
    if (o.json) {
      o.jsonLine({
        type: 'tick',
        elapsedMs: frame.elapsedMs,
        summary: frame.summary,
        written: stats.written,
        applied,
        lagRecords: behind,
        lagMs,
      });
      return;
    }
    const lag = `stream lag ${behind} change${behind === 1 ? '' : 's'} (${(lagMs / 1000).toFixed(1)} s)`;
    if (!o.color) {
      if (frame.elapsedMs - this.#lastLineAt < 2000) return;
      this.#lastLineAt = frame.elapsedMs;
      o.line(
        `${(frame.elapsedMs / 1000).toFixed(0).padStart(4)} s  ${formatTally(frame.summary)}  | written ${stats.written}, applied ${applied}, ${lag}`,
      );
      return;
    }
    const total = Math.max(1, ...DEMO_CHOICES.map((c) => frame.summary[c] ?? 0));
    const lines = [
      o.paint('bold', `Shardline demo · ${(frame.elapsedMs / 1000).toFixed(1)} s`),
      ...DEMO_CHOICES.map((c) => {
        const n = frame.summary[c] ?? 0;
        const bar = '█'.repeat(Math.round((n / total) * 30));
        return `  ${c.padEnd(8)} ${String(n).padStart(5)}  ${o.paint('cyan', bar)}`;
      }),
      `  written ${stats.written} (new ${stats.inserted}, changed ${stats.changed}, withdrawn ${stats.deleted}) · applied ${applied} · ${behind > 20 ? o.paint('yellow', lag) : lag}`,
    ];
    let text = '';
    if (this.#lines > 0) text += `\u001b[${this.#lines}A`;
    text += lines.map((l) => `\u001b[2K${l}`).join('\n');
    o.line(text);
    this.#lines = lines.length;
  }
}

/**
 * What to paste in another terminal to look at the running demo: the endpoint and names, the
 * AWS variables the CLI reads (local credentials: DynamoDB Local checks none), and commands that
 * run as printed.
 */
export function howToReach(endpoint: string, json: boolean): string[] {
  if (json) return [];
  const env = `export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local`;
  return [
    `DynamoDB Local: ${endpoint} · tables ${DEMO_CONFIG.votesTable}, ${DEMO_CONFIG.summaryTable} · application SHARDLINE_APP=${DEMO_CONFIG.applicationName} (lease table ${DEMO_CONFIG.leaseTable})`,
    'Look at it from another terminal while it runs:',
    `  ${env}`,
    ...DEMO_COMMANDS.map((c) => `  npx shardline ${c}`),
    `Note: ${LOCAL_TIME_ROUNDING_NOTE} The lag above counts from when each vote was written.`,
  ];
}

/** The commands {@link howToReach} prints, without `npx shardline`. */
export const DEMO_COMMANDS = [
  `describe ${DEMO_CONFIG.votesTable}`,
  `tail ${DEMO_CONFIG.votesTable} --from trim-horizon --limit 5`,
  `lag --app ${DEMO_CONFIG.applicationName} --lease-table ${DEMO_CONFIG.leaseTable}`,
  `checkpoints list --app ${DEMO_CONFIG.applicationName} --lease-table ${DEMO_CONFIG.leaseTable}`,
] as const;
