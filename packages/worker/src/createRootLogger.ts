import type { Logger } from '@shardline/core';
import { pino } from 'pino';

/** Options of {@link createRootLogger}. */
export interface RootLoggerOptions {
  /** pino level. @default 'info' */
  readonly level?: string;
  /** Bindings on every line (`applicationName`, `workerId`). */
  readonly bindings?: Record<string, unknown>;
  /** Log record images as they are; redacted by default. @default false */
  readonly logRecordImages?: boolean;
}

/**
 * The worker's pino root logger: JSON lines, record images and credentials redacted unless
 * asked for. Library components get children of it (`{ component, shardId }`) through core's
 * minimal `Logger` interface, which pino satisfies as it is.
 */
export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const paths = ['*.accessKeyId', '*.secretAccessKey', '*.sessionToken', 'credentials'];
  if (!options.logRecordImages) {
    paths.push('*.newImage', '*.oldImage', '*.NewImage', '*.OldImage', '*.data', 'record.raw');
  }
  return pino({
    level: options.level ?? 'info',
    base: { ...options.bindings },
    redact: { paths, censor: '[redacted]' },
  }) as unknown as Logger;
}
