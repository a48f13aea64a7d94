import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { BatchProcessorOptions, ReplayableFailureDestination } from '@shardline/core';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { replayFailures } from '@shardline/lambda';
import { S3FailureDestination } from '@shardline/sink-s3';
import type { Command } from 'commander';
import { assertAwsConfigured } from '../awsErrors.js';
import type { CliContext } from '../CliContext.js';
import { CliError, usageError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { loadModule } from '../loadModule.js';
import type { GlobalOptions, Wrap } from '../program.js';

interface ReplayOptions extends GlobalOptions {
  readonly from: string;
  readonly to: string;
  readonly maxRecords: string;
}

type ReplayTarget = Pick<BatchProcessorOptions, 'sink' | 'handler' | 'keyBatchHandler'>;

/** `shardline replay --from <failure destination> --to <module>`. */
export function registerReplay(program: Command, wrap: Wrap): void {
  program
    .command('replay')
    .description('feed records parked in a failure destination back through a consumer')
    .requiredOption(
      '--from <destination>',
      'sqs:<queue-url> (or the queue URL itself), or s3://bucket/prefix',
    )
    .requiredOption(
      '--to <module>',
      'a module exporting `replay`: { sink } | { handler } | { keyBatchHandler }, or a function returning one',
    )
    .option('--max-records <n>', 'records read per round', '100')
    .addHelpText(
      'after',
      `
Records are applied in shard order per key, through the same pipeline as the consumer, and
removed from the destination once done; records that fail again stay parked (exit 1).

Examples:
  $ shardline replay --from sqs:https://sqs.us-east-1.amazonaws.com/123456789012/vote-failures --to ./dist/replay.js
  $ shardline replay --from s3://my-bucket/failures/vote-aggregation --to ./dist/replay.js --json`,
    )
    .action(wrap(replayAction));
}

/** Builds the failure destination named by `--from`. */
export function parseDestination(
  text: string,
  env: NodeJS.ProcessEnv,
): {
  destination: ReplayableFailureDestination;
  client: SQSClient | S3Client;
} {
  const value = text.trim();
  const sqsUrl = value.startsWith('sqs:') ? value.slice(4) : value;
  if (/^https?:\/\//.test(sqsUrl)) {
    const client = new SQSClient({});
    return {
      client,
      destination: new SqsFailureDestination({ client, queueUrl: sqsUrl, receiveWaitSeconds: 1 }),
    };
  }
  const s3 = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(value);
  if (s3) {
    const client = new S3Client({ forcePathStyle: env.AWS_S3_FORCE_PATH_STYLE === 'true' });
    return {
      client,
      destination: new S3FailureDestination({
        client,
        bucket: s3[1]!,
        // A folder, as people type it: s3://bucket/failures/app and …/app/ name the same one.
        ...(s3[2] ? { prefix: s3[2].endsWith('/') ? s3[2] : `${s3[2]}/` } : {}),
      }),
    };
  }
  throw usageError(
    `--from "${text}" is not a failure destination.`,
    'Use sqs:<queue-url> (e.g. sqs:https://sqs.us-east-1.amazonaws.com/123456789012/failures) or s3://bucket/prefix.',
  );
}

async function replayAction(context: CliContext, options: ReplayOptions): Promise<ExitCode> {
  const output = context.output(options.json);
  const maxRecords = Number(options.maxRecords);
  if (!(Number.isInteger(maxRecords) && maxRecords > 0)) {
    throw usageError(
      `--max-records "${options.maxRecords}" is not a positive whole number.`,
      'E.g. --max-records 100.',
    );
  }
  const { destination, client } = parseDestination(options.from, context.io.env);
  try {
    await assertAwsConfigured(client);
    const module = await loadModule(options.to);
    const exported = module.replay ?? module.default;
    const target = (typeof exported === 'function' ? await exported() : exported) as
      | ReplayTarget
      | undefined;
    if (!target || (!target.sink && !target.handler && !target.keyBatchHandler)) {
      throw new CliError(
        `Module "${options.to}" does not export a replay target.`,
        ExitCode.Usage,
        'Export `replay` as { sink }, { handler } or { keyBatchHandler } (or a function returning one).',
      );
    }
    output.progress(`replaying from ${destination.name}…`);
    const result = await replayFailures({
      ...target,
      destination,
      maxRecords,
      signal: context.signal,
    });
    await target.sink?.close?.();
    output.result(result, () => {
      output.line(
        `Read ${result.received} parked record(s): ${result.acknowledged} applied and removed, ${result.failed} failed again and stay parked.`,
      );
    });
    return result.failed > 0 ? ExitCode.Failure : ExitCode.Ok;
  } finally {
    client.destroy();
  }
}
