export { AwsClients, type CliContext, type CliIo, createCliContext } from './CliContext.js';
export { CliError, notFoundError, usageError } from './CliError.js';
export { ExitCode } from './ExitCode.js';
export { type Column, Output, type OutputOptions, type OutputStream } from './Output.js';
export { buildProgram, CLI_VERSION, type GlobalOptions, runCli } from './program.js';
export { parseStreamTarget, type StreamTarget } from './streamTarget.js';
