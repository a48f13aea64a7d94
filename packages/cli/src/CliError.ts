import { ShardlineError } from '@shardline/core';
import { ExitCode } from './ExitCode.js';

/**
 * An error the CLI reports as one clear message (what is wrong, then how to fix it) and an exit
 * code, without a stack trace: the user made no programming error, so a trace would only hide
 * the fix.
 */
export class CliError extends ShardlineError {
  /** The process exit code this error maps to. */
  readonly exitCode: ExitCode;
  /** How to fix it, printed on its own line. */
  readonly hint: string | undefined;

  constructor(
    message: string,
    exitCode: ExitCode,
    hint?: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** A bad argument: names it and the fix. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, ExitCode.Usage, hint);
}

/** Something named on the command line does not exist. */
export function notFoundError(message: string, hint?: string, cause?: unknown): CliError {
  return new CliError(message, ExitCode.NotFound, hint, { cause });
}
