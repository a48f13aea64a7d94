import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '@shardline/core';
import { countBy, DynamoDBSummarySink } from '@shardline/sink-dynamodb';

/** Options of {@link createVoteSummarySink}. */
export interface VoteSummarySinkOptions {
  readonly client: Pick<DynamoDBClient, 'send'>;
  /** The VoteSummary table. */
  readonly summaryTable: string;
  readonly logger?: Logger;
}

/**
 * The one piece of logic of this recipe, shared by the worker and the Lambda handler: count the
 * Votes items by their `vote` attribute into `VoteSummary.num`. A new vote adds one, a changed
 * vote moves one from the old choice to the new one, a deleted vote takes one away.
 *
 * Exactly once under redelivery comes from the summary sink's per-shard watermarks: a replayed
 * change is recognised on the summary item itself and not counted twice (see
 * `@shardline/sink-dynamodb`'s README for the argument).
 */
export function createVoteSummarySink(options: VoteSummarySinkOptions): DynamoDBSummarySink {
  return new DynamoDBSummarySink({
    client: options.client,
    tableName: options.summaryTable,
    deltas: countBy({ attribute: 'vote', counter: 'num' }),
    streamViewType: 'NEW_AND_OLD_IMAGES',
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
