import { errorMessage } from '@shardline/core';
import type { Command } from 'commander';
import type { CliContext } from '../CliContext.js';
import { CliError } from '../CliError.js';
import { ExitCode } from '../ExitCode.js';
import { loadModule } from '../loadModule.js';
import type { GlobalOptions, Wrap } from '../program.js';

/** What `run` needs of a consumer: the worker's lifecycle. */
export interface RunnableConsumer {
  start(): Promise<void>;
  /** Resolves `true` when everything finished and was checkpointed in time. */
  stop(): Promise<boolean>;
}

/** What a consumer module's default export may be. */
export type ConsumerFactory =
  | RunnableConsumer
  | ((context: {
      signal: AbortSignal;
      env: NodeJS.ProcessEnv;
    }) => RunnableConsumer | Promise<RunnableConsumer>);

function isRunnable(value: unknown): value is RunnableConsumer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RunnableConsumer).start === 'function' &&
    typeof (value as RunnableConsumer).stop === 'function'
  );
}

/** `shardline run <module>`: the ECS service's entry point. */
export function registerRun(program: Command, wrap: Wrap): void {
  program
    .command('run')
    .description('run the consumer a module defines, until SIGTERM or Ctrl-C, then stop it cleanly')
    .argument(
      '<module>',
      'path of an ES module whose default export is a worker or a function returning one',
    )
    .addHelpText(
      'after',
      `
The module's default export is a worker (createWorker(...) from @shardline/worker), or a function
({ signal, env }) => worker. On SIGTERM (ECS stops tasks with it) or Ctrl-C the worker finishes
the records in hand, commits its checkpoints and releases its leases; the exit code is 0 when that
finished in time, 1 otherwise.

Example module (consumer.js):
  import { createWorker } from '@shardline/worker';
  export default async () => createWorker({ applicationName: 'orders', sources, sink, dynamoDBClient });

Examples:
  $ shardline run ./dist/consumer.js
  $ docker run ... node_modules/.bin/shardline run ./dist/consumer.js`,
    )
    .action(wrap(runAction));
}

async function runAction(
  context: CliContext,
  options: GlobalOptions,
  specifier: string,
): Promise<ExitCode> {
  const output = context.output(options.json);
  const module = await loadModule(specifier);
  const exported = (module.default ?? module.consumer) as ConsumerFactory | undefined;
  let consumer: unknown = exported;
  if (typeof exported === 'function') {
    try {
      consumer = await exported({ signal: context.signal, env: context.io.env });
    } catch (error) {
      throw new CliError(
        `The consumer module's factory failed: ${errorMessage(error)}`,
        error instanceof Error && error.name === 'ConfigurationError'
          ? ExitCode.Configuration
          : ExitCode.Failure,
        undefined,
        { cause: error },
      );
    }
  }
  if (!isRunnable(consumer)) {
    throw new CliError(
      `Module "${specifier}" does not export a consumer.`,
      ExitCode.Usage,
      'Make its default export a worker (createWorker(...)) or a function returning one.',
    );
  }
  const started = Date.now();
  await consumer.start();
  output.note(
    `Consumer from ${specifier} running${output.json ? '' : ' (Ctrl-C or SIGTERM to stop)'}.`,
  );
  if (!context.signal.aborted) {
    await new Promise<void>((resolve) =>
      context.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  output.note('Stopping: finishing records in hand, committing checkpoints, releasing leases…');
  const inTime = await consumer.stop();
  output.result({ stopped: true, inTime, ranMs: Date.now() - started }, () =>
    output.line(
      inTime ? 'Stopped cleanly.' : 'Stopped, but not everything finished before the deadline.',
    ),
  );
  return inTime ? ExitCode.Ok : ExitCode.Failure;
}
