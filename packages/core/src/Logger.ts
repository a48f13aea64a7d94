/**
 * The minimal logger Shardline's libraries log through. pino loggers satisfy it as they are;
 * library code never imports pino. Structured object first, message second, as in pino.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** A logger that adds `bindings` (e.g. `{ component, shardId }`) to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything: the default inside libraries. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/**
 * A logger that writes warnings and errors to the console and drops the rest: the fallback when
 * the user gives none, so that problems are never invisible.
 */
export function consoleWarningLogger(bindings: Record<string, unknown> = {}): Logger {
  return {
    debug() {},
    info() {},
    warn(obj, msg) {
      console.warn(JSON.stringify({ level: 'warn', ...bindings, ...obj, msg }));
    },
    error(obj, msg) {
      console.error(JSON.stringify({ level: 'error', ...bindings, ...serializeErrors(obj), msg }));
    },
    child(more) {
      return consoleWarningLogger({ ...bindings, ...more });
    },
  };
}

function serializeErrors(obj: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message } : v;
  }
  return out;
}
