import { ConfigurationError } from './errors.js';
import { consoleWarningLogger, type Logger } from './Logger.js';

/**
 * The variable that names a Shardline application: workers with the same name share a stream's
 * shards, and the name is the lease table's (as the KCL names it). Read by the worker's
 * settings, the recipes and the CLI's `--app`.
 */
export const APPLICATION_NAME_VARIABLE = 'SHARDLINE_APP';

/**
 * The application variable's former name, still accepted with a warning. Kept so a task
 * definition written before the rename keeps working; rename it to {@link
 * APPLICATION_NAME_VARIABLE}.
 * @deprecated Use `SHARDLINE_APP`.
 */
export const DEPRECATED_APPLICATION_NAME_VARIABLE = 'SHARDLINE_APPLICATION_NAME';

/**
 * The application name from `SHARDLINE_APP`, or from its deprecated alias
 * `SHARDLINE_APPLICATION_NAME` (with a warning that names the rename). `undefined` when neither
 * is set (an empty value counts as unset).
 *
 * @throws ConfigurationError when both are set to different names: which one is meant cannot be
 * guessed, and two workers reading different names would not share shards.
 * @example
 * const app = readApplicationName(process.env) ?? 'vote-aggregation';
 */
export function readApplicationName(
  env: Readonly<Record<string, string | undefined>>,
  logger: Pick<Logger, 'warn'> = consoleWarningLogger(),
): string | undefined {
  const current = env[APPLICATION_NAME_VARIABLE] || undefined;
  const deprecated = env[DEPRECATED_APPLICATION_NAME_VARIABLE] || undefined;
  if (deprecated === undefined) return current;
  if (current !== undefined && current !== deprecated) {
    throw new ConfigurationError(
      `${APPLICATION_NAME_VARIABLE}=${JSON.stringify(current)} and ${DEPRECATED_APPLICATION_NAME_VARIABLE}=${JSON.stringify(deprecated)} name different applications; remove ${DEPRECATED_APPLICATION_NAME_VARIABLE} (its old name) and keep ${APPLICATION_NAME_VARIABLE}.`,
    );
  }
  logger.warn(
    { variable: DEPRECATED_APPLICATION_NAME_VARIABLE, replacement: APPLICATION_NAME_VARIABLE },
    `${DEPRECATED_APPLICATION_NAME_VARIABLE} is deprecated: rename it to ${APPLICATION_NAME_VARIABLE} (same value) in the task definition or environment.`,
  );
  return deprecated;
}
