/**
 * The exit codes of `shardline`, so scripts can tell "the check failed" from "you typed it
 * wrong" from "AWS is not configured" without parsing text.
 */
export const ExitCode = {
  /** Everything worked (and the demo's check passed). */
  Ok: 0,
  /** An unexpected error: the message says what failed. */
  Failure: 1,
  /** Bad command line: unknown option, malformed ARN, bad number. */
  Usage: 2,
  /** AWS is not configured: no region or no credentials. */
  Configuration: 3,
  /** A table, stream, lease table or failure destination does not exist. */
  NotFound: 4,
  /** A check failed: the demo's summary differs from the scan, or lag is above `--max-lag`. */
  CheckFailed: 5,
  /** Refused to act: a checkpoint move on a shard owned by a live worker, without `--force`. */
  Refused: 6,
  /** Stopped by a second Ctrl-C before a clean shutdown finished. */
  Interrupted: 130,
} as const;
/** One of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
