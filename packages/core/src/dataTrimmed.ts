import { ConfigurationError } from './errors.js';
import type { EventBus } from './events.js';
import type { Logger } from './Logger.js';
import type { Metrics } from './metrics.js';

/**
 * What a reader does when the records after its position were trimmed from the stream (older
 * than the retention period: 24 h on DynamoDB Streams, 24 h to 365 days on Kinesis). The same
 * policy for every source.
 */
export const TrimmedDataPolicy = {
  /** Throw `DataTrimmedError` (not retriable): the shard stops until someone decides. */
  Stop: 'stop',
  /** Report the gap (event, metric, warning), then read on from the oldest record kept. */
  SkipToTrimHorizon: 'skip-to-trim-horizon',
} as const;
/** One of {@link TrimmedDataPolicy}. */
export type TrimmedDataPolicy = (typeof TrimmedDataPolicy)[keyof typeof TrimmedDataPolicy];

/** The default {@link TrimmedDataPolicy}: stop, so that nothing is skipped without a decision. */
export const DEFAULT_TRIMMED_DATA_POLICY: TrimmedDataPolicy = TrimmedDataPolicy.Stop;

/**
 * Checks a `trimmedDataPolicy` option and applies the default.
 * @throws ConfigurationError naming the allowed values.
 */
export function trimmedDataPolicyOf(value: string | undefined): TrimmedDataPolicy {
  const policy = value ?? DEFAULT_TRIMMED_DATA_POLICY;
  if (policy !== TrimmedDataPolicy.Stop && policy !== TrimmedDataPolicy.SkipToTrimHorizon) {
    throw new ConfigurationError(
      `trimmedDataPolicy must be 'stop' or 'skip-to-trim-horizon', got ${JSON.stringify(value)}.`,
    );
  }
  return policy;
}

/** Where a shard iterator reports trimmed data. */
export interface DataTrimmedReport {
  readonly metrics: Metrics;
  readonly events: EventBus | undefined;
  readonly log: Logger;
  readonly streamId: string;
  readonly shardId: string;
  readonly policy: TrimmedDataPolicy;
}

/**
 * Reports records trimmed before they were read: the `shard_data_trimmed_total{stream, shard, policy}`
 * metric (no sequence number in a label), the `shard.dataTrimmed` event and a warning that names
 * the shard and both ends of the gap. Shared by the DynamoDB Streams and Kinesis readers.
 *
 * @param afterSequenceNumber the last position processed before the gap (the checkpoint)
 * @param resumedAtSequenceNumber the first position read after it, when the reader goes on
 */
export function reportDataTrimmed(
  report: DataTrimmedReport,
  afterSequenceNumber: string | undefined,
  resumedAtSequenceNumber: string | undefined,
): void {
  report.metrics.increment('shard_data_trimmed_total', 1, {
    stream: report.streamId,
    shard: report.shardId,
    policy: report.policy,
  });
  report.events?.emit('shard.dataTrimmed', {
    streamId: report.streamId,
    shardId: report.shardId,
    afterSequenceNumber,
    resumedAtSequenceNumber,
    policy: report.policy,
  });
  report.log.warn(
    { afterSequenceNumber, resumedAtSequenceNumber, policy: report.policy },
    report.policy === TrimmedDataPolicy.Stop
      ? 'records after the checkpoint were trimmed from the stream before they were read; the shard stops (trimmedDataPolicy stop: set skip-to-trim-horizon to read on from the oldest record kept)'
      : 'records after the checkpoint were trimmed from the stream before they were read; reading on from the oldest record kept (trimmedDataPolicy skip-to-trim-horizon)',
  );
}
