import {
  APPLICATION_NAME_VARIABLE,
  ConfigurationError,
  compileFilterCriteria,
  consoleWarningLogger,
  DEPRECATED_APPLICATION_NAME_VARIABLE,
  errorMessage,
  type FilterCriteriaInput,
  type Logger,
  readApplicationName,
} from '@shardline/core';
import { z } from 'zod';
import type { InitialPosition } from './Worker.js';

const ms = (what: string) =>
  z.string().regex(/^\d+$/, `must be a whole number of milliseconds (${what})`).transform(Number);
const count = (what: string) =>
  z
    .string()
    .regex(/^[1-9]\d*$/, `must be a whole number of at least 1 (${what})`)
    .transform(Number);

/** Lambda event filtering patterns as JSON: a FilterCriteria object or a list of patterns. */
const filterCriteria = z.string().transform((text, ctx): FilterCriteriaInput => {
  try {
    const parsed = JSON.parse(text) as FilterCriteriaInput;
    compileFilterCriteria(parsed);
    return parsed;
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a FilterCriteria object ({"Filters":[{"Pattern":"…"}]}) or a JSON list of patterns: ${errorMessage(error)}`,
    });
    return z.NEVER;
  }
});

/** Every `SHARDLINE_*` variable the worker reads, with what it sets. */
const schema = {
  SHARDLINE_APP: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3–255 letters, digits, _ . or - (a table name)'),
  SHARDLINE_LEASE_TABLE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name')
    .optional(),
  SHARDLINE_WORKER_ID: z.string().min(1).optional(),
  SHARDLINE_INITIAL_POSITION: z.enum(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']).optional(),
  SHARDLINE_INITIAL_TIMESTAMP: z
    .string()
    .refine(
      (t) => /^\d{4}-\d{2}-\d{2}T/.test(t) && !Number.isNaN(Date.parse(t)),
      'must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z (with SHARDLINE_INITIAL_POSITION=AT_TIMESTAMP)',
    )
    .transform((t) => new Date(t))
    .optional(),
  SHARDLINE_LEASE_DURATION_MS: ms('lease duration, e.g. 10000').optional(),
  SHARDLINE_RENEW_INTERVAL_MS: ms('renewal period, e.g. 3333').optional(),
  SHARDLINE_TAKE_INTERVAL_MS: ms('coordination period, e.g. 1000').optional(),
  SHARDLINE_DISCOVERY_INTERVAL_MS: ms('shard listing period, e.g. 60000').optional(),
  SHARDLINE_FULL_SCAN_INTERVAL_MS: ms('lease table listing period, e.g. 60000').optional(),
  SHARDLINE_MAX_LEASES_TO_STEAL_PER_ROUND: count('e.g. 10').optional(),
  SHARDLINE_MAX_LEASES_PER_WORKER: count('e.g. 100').optional(),
  SHARDLINE_SHUTDOWN_TIMEOUT_MS: ms('graceful shutdown deadline, e.g. 25000').optional(),
  SHARDLINE_HTTP_PORT: z
    .string()
    .regex(/^\d+$/, 'must be a TCP port number, e.g. 8080')
    .transform(Number)
    .refine((n) => n <= 65_535, 'must be a TCP port number (0–65535)')
    .optional(),
  SHARDLINE_HTTP_HOST: z
    .string()
    .regex(/^[0-9A-Za-z.:_-]+$/, 'must be an address to bind, e.g. 0.0.0.0 or 127.0.0.1')
    .optional(),
  SHARDLINE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).optional(),
  SHARDLINE_CONCURRENCY: count('keys processed at once per shard, e.g. 10').optional(),
  SHARDLINE_COMMIT_INTERVAL_MS: ms('checkpoint period, e.g. 5000').optional(),
  SHARDLINE_COMMIT_EVERY_RECORDS: count('records between checkpoints, e.g. 1000').optional(),
  SHARDLINE_FILTERS: filterCriteria.optional(),
  SHARDLINE_TTL_DELETES: z.enum(['apply', 'skip']).optional(),
  SHARDLINE_IDLE_POLL_INTERVAL_MS: ms('time between reads of an idle shard, e.g. 250').optional(),
};

/**
 * Names of the `SHARDLINE_*` variables the worker knows (the deprecated
 * `SHARDLINE_APPLICATION_NAME`, still accepted for `SHARDLINE_APP`, is not listed).
 */
export const WORKER_ENV_VARIABLES = Object.keys(schema);

/** Options of {@link loadWorkerSettings}. */
export interface LoadWorkerSettingsOptions {
  /**
   * Where a deprecation warning goes (`SHARDLINE_APPLICATION_NAME` for `SHARDLINE_APP`).
   * @default consoleWarningLogger() (a JSON line on stderr)
   */
  readonly logger?: Pick<Logger, 'warn'>;
  /**
   * The application name when the caller resolved it already (a recipe's config, which reads
   * `SHARDLINE_APP` with its own default): `SHARDLINE_APP` and its alias are then not read.
   */
  readonly applicationName?: string;
}

/** Worker settings read from `SHARDLINE_*` variables (ready to spread into `createWorker`). */
export interface WorkerSettings {
  readonly applicationName: string;
  readonly leaseTable?: string;
  readonly workerId?: string;
  /** `SHARDLINE_INITIAL_POSITION`, with `SHARDLINE_INITIAL_TIMESTAMP` for AT_TIMESTAMP. */
  readonly initialPosition?: InitialPosition;
  readonly leaseDurationMs?: number;
  readonly renewIntervalMs?: number;
  readonly takeIntervalMs?: number;
  readonly discoveryIntervalMs?: number;
  readonly fullScanIntervalMs?: number;
  readonly maxLeasesToStealPerRound?: number;
  readonly maxLeasesPerWorker?: number;
  readonly shutdownTimeoutMs?: number;
  readonly httpPort?: number;
  /** `SHARDLINE_HTTP_HOST`: where the HTTP server binds (`0.0.0.0` in an ECS task definition). */
  readonly httpHost?: string;
  readonly logLevel?: string;
  readonly concurrency?: number;
  readonly commitIntervalMs?: number;
  readonly commitEveryRecords?: number;
  /** `SHARDLINE_FILTERS`: Lambda filter patterns (a FilterCriteria object or a list), as JSON. */
  readonly filters?: FilterCriteriaInput;
  /** `SHARDLINE_TTL_DELETES`: `apply` or `skip` (routing to a sink is set in code). */
  readonly ttlDeletes?: 'apply' | 'skip';
  readonly idlePollIntervalMs?: number;
}

/**
 * Reads and validates the worker's `SHARDLINE_*` variables at start. An unknown `SHARDLINE_*`
 * variable (a typo such as `SHARDLINE_LEASE_DURATION`) or a malformed value is a
 * `ConfigurationError` naming the variable and the fix, rather than a silent default.
 *
 * The application is named by `SHARDLINE_APP` (required); its former name
 * `SHARDLINE_APPLICATION_NAME` is still read, with a warning to rename it.
 *
 * `extra` declares the service's own `SHARDLINE_*` variables (validated the same way); their
 * parsed values come back in `extra`.
 */
export function loadWorkerSettings<E extends Record<string, z.ZodType>>(
  env: Record<string, string | undefined> = process.env,
  extra?: E,
  options: LoadWorkerSettingsOptions = {},
): WorkerSettings & { extra: { [K in keyof E]: z.output<E[K]> } } {
  const shape = { ...schema, ...(extra ?? {}) } as Record<string, z.ZodType>;
  const problems: string[] = [];
  const applicationName =
    options.applicationName ?? readApplicationName(env, options.logger ?? consoleWarningLogger());
  if (applicationName !== undefined) env = { ...env, [APPLICATION_NAME_VARIABLE]: applicationName };
  for (const name of Object.keys(env)) {
    if (name === DEPRECATED_APPLICATION_NAME_VARIABLE) continue;
    if (name.startsWith('SHARDLINE_') && !(name in shape)) {
      const near = Object.keys(shape).find((k) => k.startsWith(name) || name.startsWith(k));
      problems.push(
        `${name} is not a Shardline setting${near ? ` (did you mean ${near}?)` : ''}; remove it or use one of: ${Object.keys(shape).join(', ')}.`,
      );
    }
  }
  const values: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(shape)) {
    const raw = env[name];
    const result = type.safeParse(raw === '' ? undefined : raw);
    if (result.success) values[name] = result.data;
    else {
      const reason = result.error.issues.map((i) => i.message).join('; ');
      problems.push(
        raw === undefined
          ? `${name} is required: ${reason}. Set it in the task definition or the environment.`
          : `${name}=${JSON.stringify(raw)} is invalid: ${reason}.`,
      );
    }
  }
  const atTimestamp = values.SHARDLINE_INITIAL_POSITION === 'AT_TIMESTAMP';
  if (atTimestamp !== (values.SHARDLINE_INITIAL_TIMESTAMP !== undefined) && problems.length === 0) {
    problems.push(
      atTimestamp
        ? 'SHARDLINE_INITIAL_POSITION=AT_TIMESTAMP needs SHARDLINE_INITIAL_TIMESTAMP (an ISO 8601 time, e.g. 2026-12-01T00:00:00Z).'
        : 'SHARDLINE_INITIAL_TIMESTAMP is set but SHARDLINE_INITIAL_POSITION is not AT_TIMESTAMP; set SHARDLINE_INITIAL_POSITION=AT_TIMESTAMP or remove the timestamp.',
    );
  }
  if (problems.length > 0) {
    throw new ConfigurationError(`Invalid worker configuration:\n- ${problems.join('\n- ')}`);
  }
  const v = values as Record<string, never>;
  const settings: Record<string, unknown> = {
    applicationName: v.SHARDLINE_APP,
    leaseTable: v.SHARDLINE_LEASE_TABLE,
    workerId: v.SHARDLINE_WORKER_ID,
    initialPosition: atTimestamp
      ? { type: 'AT_TIMESTAMP', timestamp: v.SHARDLINE_INITIAL_TIMESTAMP }
      : v.SHARDLINE_INITIAL_POSITION,
    leaseDurationMs: v.SHARDLINE_LEASE_DURATION_MS,
    renewIntervalMs: v.SHARDLINE_RENEW_INTERVAL_MS,
    takeIntervalMs: v.SHARDLINE_TAKE_INTERVAL_MS,
    discoveryIntervalMs: v.SHARDLINE_DISCOVERY_INTERVAL_MS,
    fullScanIntervalMs: v.SHARDLINE_FULL_SCAN_INTERVAL_MS,
    maxLeasesToStealPerRound: v.SHARDLINE_MAX_LEASES_TO_STEAL_PER_ROUND,
    maxLeasesPerWorker: v.SHARDLINE_MAX_LEASES_PER_WORKER,
    shutdownTimeoutMs: v.SHARDLINE_SHUTDOWN_TIMEOUT_MS,
    httpPort: v.SHARDLINE_HTTP_PORT,
    httpHost: v.SHARDLINE_HTTP_HOST,
    logLevel: v.SHARDLINE_LOG_LEVEL,
    concurrency: v.SHARDLINE_CONCURRENCY,
    commitIntervalMs: v.SHARDLINE_COMMIT_INTERVAL_MS,
    commitEveryRecords: v.SHARDLINE_COMMIT_EVERY_RECORDS,
    filters: v.SHARDLINE_FILTERS,
    ttlDeletes: v.SHARDLINE_TTL_DELETES,
    idlePollIntervalMs: v.SHARDLINE_IDLE_POLL_INTERVAL_MS,
  };
  for (const k of Object.keys(settings)) if (settings[k] === undefined) delete settings[k];
  const extraOut: Record<string, unknown> = {};
  for (const k of Object.keys(extra ?? {})) extraOut[k] = values[k];
  return { ...(settings as unknown as WorkerSettings), extra: extraOut as never };
}
