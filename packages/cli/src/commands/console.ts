import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ShardSource } from '@shardline/core';
import { consoleRequestHandler } from '@shardline/worker';
import type { Command } from 'commander';
import type { CliContext } from '../CliContext.js';
import { usageError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { LeaseTableConsole } from '../LeaseTableConsole.js';
import { openLeases } from '../leaseAccess.js';
import type { GlobalOptions, Wrap } from '../program.js';
import { openSource } from '../sources.js';

interface ConsoleCommandOptions extends GlobalOptions {
  readonly app?: string;
  readonly leaseTable?: string;
  readonly stream?: string;
  readonly port: string;
  readonly host: string;
  readonly sampleInterval: string;
  readonly maxPages: string;
}

/** `shardline console --app <name>`: the worker's console page, served from any machine. */
export function registerConsole(program: Command, wrap: Wrap): void {
  program
    .command('console')
    .description(
      "serve the console page (workers, leases, lineage, lag, throughput) from the application's lease table",
    )
    .option('--app <name>', 'the application name; names the lease table (default: $SHARDLINE_APP)')
    .option('--lease-table <name>', 'the lease table, when not named after the application')
    .option('--stream <table|stream-arn>', 'the stream (needed for single-stream lease tables)')
    .option('--port <port>', 'the port to serve on (0: any free port)', '8420')
    .option(
      '--host <address>',
      'the address to bind (0.0.0.0 to let other machines in)',
      '127.0.0.1',
    )
    .option('--sample-interval <ms>', 'how often each shard is read for lag and throughput', '5000')
    .option('--max-pages <n>', 'GetRecords pages read per shard and sample, at most', '5')
    .addHelpText(
      'after',
      `
Read-only: nothing is written to the lease table or the stream. Each sample reads every
shard from its last checkpoint (GetRecords, at most --max-pages pages): keep the interval
well above a second on busy Kinesis streams, whose shards allow 5 reads a second in all.

Examples:
  $ shardline console --app vote-aggregation          # then open http://127.0.0.1:8420/console/
  $ shardline console --app orders --stream Orders --port 9000`,
    )
    .action(wrap(consoleAction));
}

async function consoleAction(
  context: CliContext,
  options: ConsoleCommandOptions,
): Promise<ExitCode> {
  const output = context.output(options.json);
  const port = Number(options.port);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw usageError(`--port "${options.port}" is not a TCP port.`, 'E.g. --port 8420.');
  }
  const sampleIntervalMs = Number(options.sampleInterval);
  if (!(Number.isInteger(sampleIntervalMs) && sampleIntervalMs >= 250)) {
    throw usageError(
      `--sample-interval "${options.sampleInterval}" is not a whole number of milliseconds of at least 250.`,
      'E.g. --sample-interval 5000.',
    );
  }
  const maxPages = Number(options.maxPages);
  if (!(Number.isInteger(maxPages) && maxPages > 0)) {
    throw usageError(
      `--max-pages "${options.maxPages}" is not a positive whole number.`,
      'E.g. --max-pages 5.',
    );
  }
  const opened = await openLeases(options, context.clients, context.io);
  const streamIds = new Set(opened.leases.map((l) => l.streamId));
  if (opened.stream) streamIds.add(opened.stream.streamArn);
  const sources: ShardSource[] = [...streamIds]
    .filter((id) => id !== 'unknown')
    .map((streamArn) =>
      openSource(
        {
          kind: streamArn.includes(':kinesis:') ? 'kinesis' : 'dynamodb-streams',
          streamArn,
          tableName: undefined,
          streamViewType: undefined,
        },
        context.clients,
      ),
    );
  const leaseConsole = new LeaseTableConsole({
    application: opened.app,
    store: opened.store,
    sources,
    sampleIntervalMs,
    maxPages,
    signal: context.signal,
  });
  const handler = consoleRequestHandler(() => leaseConsole.state());
  const server = createServer((request, response) => {
    if (handler(request, response)) return;
    if ((request.url ?? '/').split('?')[0] === '/') {
      response.writeHead(302, { location: '/console/' }).end();
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.listen(port, options.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw usageError(
        `Cannot serve the console on ${options.host}:${port}: ${(error as Error).message}.`,
        'Pick another --port (or --port 0 for any free one), or a --host this machine has.',
      );
    }),
  ]);
  const bound = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}/console/`;
  leaseConsole.start();
  if (output.json) output.jsonLine({ url, app: opened.app, leaseTable: opened.tableName });
  else {
    output.line(`Console of ${opened.app} (lease table ${opened.tableName}): ${url}`);
    output.note('Read-only; Ctrl-C to stop.');
  }
  if (!context.signal.aborted) await once(context.signal, 'abort');
  await leaseConsole.stop();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return ExitCode.Ok;
}
