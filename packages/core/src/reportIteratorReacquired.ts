import type { EventBus } from './events.js';
import type { Logger } from './Logger.js';
import type { Metrics } from './metrics.js';

/**
 * How many times one read may re-acquire an expired shard iterator before the error is passed
 * on (iterators expire after 15 minutes; more than a few in a row means something else is wrong).
 */
export const MAX_REACQUIRES_PER_READ = 3;

/** Where a shard iterator reports that it was re-acquired. */
export interface IteratorReacquiredReport {
  readonly metrics: Metrics;
  readonly events: EventBus | undefined;
  readonly log: Logger;
  readonly streamId: string;
  readonly shardId: string;
}

/**
 * Reports an expired iterator taken again after the last sequence number returned: the
 * `iterator_reacquired_total` metric, the `shard.iteratorReacquired` event and an info line.
 * Shared by the DynamoDB Streams and Kinesis readers so both say it the same way.
 */
export function reportIteratorReacquired(
  report: IteratorReacquiredReport,
  afterSequenceNumber: string | undefined,
  reason: string,
): void {
  report.metrics.increment('iterator_reacquired_total', 1, {
    stream: report.streamId,
    shard: report.shardId,
  });
  report.events?.emit('shard.iteratorReacquired', {
    streamId: report.streamId,
    shardId: report.shardId,
    afterSequenceNumber,
    reason,
  });
  report.log.info(
    { afterSequenceNumber },
    'shard iterator expired; re-acquired after the last sequence number returned',
  );
}
