import { CliError } from './CliError.js';
import { ExitCode } from './ExitCode.js';

/**
 * The packages `@shardline/cli` lists as optional dependencies, loaded only by the commands that
 * need them, so an install for operations (`npm i @shardline/cli --omit=optional`) pulls neither
 * DynamoDB Local's 57 MB jar nor the demo's recipe.
 */
export const OPTIONAL_PACKAGES = {
  /** DynamoDB Local and the Lambda event source mapping emulator: `demo` and `dev`. */
  local: '@shardline/local',
  /** The vote-aggregation recipe the demo runs: `demo`. */
  voteRecipe: '@shardline/example-vote-aggregation',
} as const;

const MISSING_PACKAGE = /Cannot find (?:package|module) '([^']+)'/;

/**
 * Runs `load` (a dynamic `import()` of `packageName`) and, when a package it needs is not
 * installed, throws a {@link CliError} (exit 4) that names that package and the `npm i` line
 * that installs it, instead of Node's resolution error. Any other failure is rethrown as is.
 *
 * @param packageName the package `load` imports, e.g. `'@shardline/local'`.
 * @param command what needs it, for the message, e.g. `'shardline demo'`.
 * @param load `() => import('@shardline/local')`: a literal import keeps its types.
 * @param install what the fix line installs, when the command needs more than the missing
 *   package (the demo needs both optional packages). @default the missing package
 *
 * @example
 * const { startDynamoDBLocal } = await importOptional('@shardline/local', 'shardline demo', () =>
 *   import('@shardline/local'),
 * );
 */
export async function importOptional<T>(
  packageName: string,
  command: string,
  load: () => Promise<T>,
  install?: readonly string[],
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const missing = missingPackageOf(error);
    if (missing === undefined) throw error;
    throw new CliError(
      `${command} needs the package ${missing}${missing === packageName ? '' : ` (for ${packageName})`}, which is not installed.`,
      ExitCode.NotFound,
      `Install it next to @shardline/cli: npm i -D ${(install ?? [missing]).join(' ')} (an install with --omit=optional leaves it out).`,
      { cause: error },
    );
  }
}

/** The bare package name in Node's "Cannot find package 'x'" error, when that is what it is. */
function missingPackageOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const specifier = MISSING_PACKAGE.exec(error.message)?.[1];
  if (specifier === undefined || specifier.startsWith('.') || specifier.startsWith('/')) {
    return undefined;
  }
  // '@scope/name/sub/path' → '@scope/name'; 'name/sub' → 'name'.
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
