import { errorMessage } from '@shardline/core';
import { Command, CommanderError, Option } from 'commander';
import { type CliContext, type CliIo, createCliContext } from './CliContext.js';
import { CliError } from './CliError.js';
import { registerCommands } from './commands/index.js';
import { ExitCode } from './ExitCode.js';

/** The version printed by `shardline --version`. */
export const CLI_VERSION = '0.1.0';

/** Options every command accepts. */
export interface GlobalOptions {
  readonly json: boolean;
}

/** A command's action: returns the exit code. */
export type CommandAction<Options extends GlobalOptions, Args extends unknown[]> = (
  context: CliContext,
  options: Options,
  ...args: Args
) => Promise<ExitCode>;

/**
 * Builds the `shardline` program. Exposed so tests drive the real parser in process, without
 * a child process per case.
 */
export function buildProgram(context: CliContext, onExit: (code: ExitCode) => void): Command {
  const program = new Command('shardline')
    .description(
      'Shardline: change data capture from DynamoDB Streams and Kinesis. Inspect streams, consumers and checkpoints; run consumers; replay parked records.',
    )
    .version(CLI_VERSION)
    .addOption(new Option('--json', 'print JSON on stdout instead of tables (for scripts)'))
    .showHelpAfterError('(run with --help for usage and examples)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.io.stdout.write(text),
      writeErr: (text) => context.io.stderr.write(text),
    })
    .addHelpText(
      'after',
      `
Configuration: region, credentials and endpoints come from the standard AWS variables
(AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_DYNAMODB_STREAMS, AWS_ENDPOINT_URL_KINESIS, ...).

Exit codes: 0 ok, 1 failure, 2 bad usage, 3 AWS not configured, 4 not found,
5 check failed, 6 refused (live lease), 130 interrupted.

Examples:
  $ shardline demo --duration 30
  $ shardline describe Votes
  $ shardline tail Votes --filter vote=A
  $ shardline lag --app vote-aggregation
  $ shardline checkpoints reset --app vote-aggregation --to trim-horizon`,
    );
  program.enablePositionalOptions(false);
  registerCommands(program, (action) => {
    return async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
      const positional = args.slice(0, -1);
      onExit(
        await (action as CommandAction<GlobalOptions, unknown[]>)(context, options, ...positional),
      );
    };
  });
  return program;
}

/** Wraps a command action so its exit code reaches {@link runCli}. */
export type Wrap = <Options extends GlobalOptions, Args extends unknown[]>(
  action: CommandAction<Options, Args>,
) => (...args: unknown[]) => Promise<void>;

/**
 * Runs the CLI on `argv` (without `node` and the script) and returns the exit code. Errors are
 * reported on stderr as one message and a fix, never as a stack trace, unless SHARDLINE_DEBUG.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  const context = createCliContext(io, signal);
  let exitCode: ExitCode = ExitCode.Ok;
  const program = buildProgram(context, (code) => {
    exitCode = code;
  });
  const json = argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return ExitCode.Ok;
      return ExitCode.Usage;
    }
    const output = context.output(json);
    if (error instanceof CliError) {
      output.error(error.message, error.hint);
      return error.exitCode;
    }
    const name = (error as { name?: string } | null)?.name;
    if (name === 'ConfigurationError') {
      output.error(errorMessage(error));
      return ExitCode.Configuration;
    }
    output.error(errorMessage(error));
    if (io.env.SHARDLINE_DEBUG) io.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    return ExitCode.Failure;
  } finally {
    context.clients.destroy();
  }
}
