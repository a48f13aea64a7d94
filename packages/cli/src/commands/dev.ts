import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Command } from 'commander';
import { assertAwsConfigured, explainAwsError } from '../awsErrors.js';
import type { CliContext } from '../CliContext.js';
import { CliError, notFoundError, usageError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { importOptional, OPTIONAL_PACKAGES } from '../importOptional.js';
import type { GlobalOptions, Wrap } from '../program.js';

interface DevOptions extends GlobalOptions {
  readonly export: string;
  readonly streamArn?: string;
  readonly table?: string;
  readonly kinesisStream?: string;
  readonly endpoint?: string;
  readonly batchSize: string;
  readonly batchingWindow: string;
  readonly parallelizationFactor: string;
  readonly reportBatchItemFailures?: boolean;
  readonly bisect?: boolean;
  readonly maxRetries: string;
  readonly maxRecordAge: string;
  readonly timeout: string;
  readonly startingPosition: string;
}

/** `shardline dev <handler module>`: a Lambda handler against a local stream, with the mapping's semantics. */
export function registerDev(program: Command, wrap: Wrap): void {
  program
    .command('dev')
    .description(
      'run a Lambda handler locally against a stream, as an event source mapping would invoke it',
    )
    .argument('<module>', 'path of the module that exports the handler (.js, .mjs, or .ts)')
    .option('--export <name>', 'the handler export', 'handler')
    .option('--stream-arn <arn>', 'a DynamoDB stream ARN (or a Kinesis stream ARN)')
    .option('--table <name>', "a DynamoDB table: read the table's latest stream")
    .option('--kinesis-stream <name|arn>', 'a Kinesis data stream')
    .option('--endpoint <url>', 'endpoint of the stream service (e.g. DynamoDB Local, kinesalite)')
    .option('--batch-size <n>', 'BatchSize: records per invocation at most (1-10000)', '100')
    .option('--batching-window <s>', 'MaximumBatchingWindowInSeconds (0-300)', '0')
    .option(
      '--parallelization-factor <n>',
      'ParallelizationFactor: concurrent batches per shard (1-10)',
      '1',
    )
    .option(
      '--report-batch-item-failures',
      'FunctionResponseTypes ReportBatchItemFailures: honour { batchItemFailures }',
    )
    .option('--bisect', 'BisectBatchOnFunctionError: split a failed batch in two')
    .option('--max-retries <n>', 'MaximumRetryAttempts (-1 = until the records expire)', '-1')
    .option('--max-record-age <s>', 'MaximumRecordAgeInSeconds (-1 = no limit)', '-1')
    .option('--timeout <s>', 'the function timeout, in seconds: longer invocations are killed', '3')
    .option('--starting-position <position>', 'trim-horizon or latest', 'latest')
    .addHelpText(
      'after',
      `
Each invocation runs in its own execution environment (a child process, reused while warm, so
module state survives as on Lambda); a shard's lanes (ParallelizationFactor) run concurrently,
order kept per key; children of a shard start after it is read. One line per invocation:
shard, lane, records, outcome, duration. Ctrl-C or SIGTERM waits for invocations in flight.
Region, credentials and endpoints come from the AWS_* variables; the handler sees them too.

Examples:
  $ shardline dev ./dist/lambda.js --table Votes --report-batch-item-failures
  $ AWS_ENDPOINT_URL=http://127.0.0.1:8000 shardline dev src/lambda.ts --table Votes \\
      --parallelization-factor 10 --batch-size 10 --starting-position trim-horizon
  $ shardline dev ./handler.mjs --kinesis-stream orders --endpoint http://127.0.0.1:4567`,
    )
    .action(wrap(devAction));
}

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usageError(
      `${name} "${text}" is not an integer from ${min} to ${max}.`,
      `Give ${name} a whole number from ${min} to ${max}.`,
    );
  }
  return value;
}

async function devAction(
  context: CliContext,
  options: DevOptions,
  specifier: string,
): Promise<ExitCode> {
  const output = context.output(options.json);
  const modulePath = resolve(process.cwd(), specifier);
  if (!existsSync(modulePath)) {
    throw new CliError(
      `Module "${specifier}" does not exist (looked for ${modulePath}).`,
      ExitCode.NotFound,
      'Give the path of the module that exports the Lambda handler, e.g. ./dist/lambda.js.',
    );
  }
  const targets = [options.streamArn, options.table, options.kinesisStream].filter(Boolean);
  if (targets.length !== 1) {
    throw usageError(
      targets.length === 0 ? 'No stream given.' : 'More than one stream given.',
      'Give exactly one of --table <name>, --stream-arn <arn> or --kinesis-stream <name|arn>.',
    );
  }
  const position = options.startingPosition.toLowerCase().replace('_', '-');
  if (position !== 'latest' && position !== 'trim-horizon') {
    throw usageError(
      `--starting-position "${options.startingPosition}" is not a position.`,
      'Use --starting-position latest or --starting-position trim-horizon.',
    );
  }
  const window = Number(options.batchingWindow);
  if (!(Number.isFinite(window) && window >= 0 && window <= 300)) {
    throw usageError(
      `--batching-window "${options.batchingWindow}" is not a number of seconds from 0 to 300.`,
    );
  }
  const timeoutSeconds = Number(options.timeout);
  if (!(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 && timeoutSeconds <= 900)) {
    throw usageError(
      `--timeout "${options.timeout}" is not a number of seconds from 1 to 900 (Lambda's limit).`,
    );
  }
  const maxRecordAge = integer('--max-record-age', options.maxRecordAge, -1, 604_800);
  const settings = {
    batchSize: integer('--batch-size', options.batchSize, 1, 10_000),
    maximumBatchingWindowInSeconds: window,
    parallelizationFactor: integer(
      '--parallelization-factor',
      options.parallelizationFactor,
      1,
      10,
    ),
    maximumRetryAttempts: integer('--max-retries', options.maxRetries, -1, 10_000),
    maximumRecordAgeInSeconds: maxRecordAge === 0 ? -1 : maxRecordAge,
    timeoutMs: Math.round(timeoutSeconds * 1000),
  };
  const endpoint = options.endpoint ? { endpoint: options.endpoint } : {};
  const source = options.kinesisStream
    ? options.kinesisStream.startsWith('arn:')
      ? { type: 'kinesis' as const, streamArn: options.kinesisStream, clientConfig: endpoint }
      : { type: 'kinesis' as const, streamName: options.kinesisStream, clientConfig: endpoint }
    : options.streamArn?.includes(':kinesis:')
      ? { type: 'kinesis' as const, streamArn: options.streamArn, clientConfig: endpoint }
      : {
          type: 'dynamodb-streams' as const,
          streamArn: options.streamArn ?? (await tableStream(context, options.table!, endpoint)),
          clientConfig: endpoint,
        };

  // Loaded here only: the emulator and its servers are no concern of the other commands.
  const { startEventSourceMapping } = await importOptional(
    OPTIONAL_PACKAGES.local,
    'shardline dev',
    () => import('@shardline/local'),
  );
  const mapping = await startEventSourceMapping({
    source,
    handlerModule: modulePath,
    handlerExport: options.export,
    ...settings,
    startingPosition: position === 'latest' ? 'LATEST' : 'TRIM_HORIZON',
    functionResponseTypes: options.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [],
    bisectBatchOnFunctionError: options.bisect ?? false,
    // The environments run with this process's Node flags (e.g. tsx and conditions when the CLI
    // itself runs from source); tsx is added for a .ts handler.
    execArgv: process.execArgv,
    functionLogs: (text) => context.io.stderr.write(text),
    onFailure: (record) =>
      output.note(`on-failure destination: ${JSON.stringify(record, undefined, 0)}`),
    onInvocation: (report) =>
      output.result(report, () =>
        output.line(
          [
            report.shardId,
            `lane ${report.lane}`,
            `${report.records} records`,
            output.paint(report.outcome === 'success' ? 'green' : 'red', report.outcome),
            `${report.durationMs} ms`,
            ...(report.redelivery ? ['(redelivery)'] : []),
            ...(report.error ? [report.error] : []),
          ].join('  '),
        ),
      ),
  });
  output.note(
    `Invoking ${options.export} of ${specifier} for ${mapping.eventSourceArn}${output.json ? '' : ' (Ctrl-C or SIGTERM to stop)'}.`,
  );
  if (!context.signal.aborted) {
    await new Promise<void>((done) =>
      context.signal.addEventListener('abort', () => done(), { once: true }),
    );
  }
  output.note('Stopping: waiting for invocations in flight…');
  await mapping.stop();
  const stats = mapping.stats();
  output.note(
    `Stopped: ${stats.invocations} invocations, ${stats.recordsDelivered} records delivered, ${stats.retries} retries, ${stats.recordsDiscarded} records to the on-failure destination.`,
  );
  return ExitCode.Ok;
}

async function tableStream(
  context: CliContext,
  table: string,
  endpoint: { endpoint?: string },
): Promise<string> {
  const client = endpoint.endpoint ? new DynamoDBClient(endpoint) : context.clients.dynamodb;
  try {
    await assertAwsConfigured(client);
    const out = await client.send(new DescribeTableCommand({ TableName: table }));
    const arn = out.Table?.LatestStreamArn;
    if (!arn || out.Table?.StreamSpecification?.StreamEnabled === false) {
      throw new CliError(
        `Table "${table}" has no stream enabled.`,
        ExitCode.NotFound,
        `Enable one: aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
      );
    }
    return arn;
  } catch (error) {
    if (error instanceof CliError) throw error;
    if ((error as { name?: string }).name === 'ResourceNotFoundException')
      throw notFoundError(
        `Table "${table}" does not exist.`,
        'Check the table name (case matters) and the endpoint (--endpoint or AWS_ENDPOINT_URL_DYNAMODB).',
        error,
      );
    throw explainAwsError(error, `table ${table}`);
  } finally {
    if (endpoint.endpoint) client.destroy();
  }
}
