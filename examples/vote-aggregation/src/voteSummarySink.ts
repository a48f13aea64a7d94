import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '@shardline/core';
import { countBy, DynamoDBLedgerSummarySink } from '@shardline/sink-dynamodb';
import { ledgerTableFor } from './tables.js';

/** Options of {@link createVoteSummarySink}. */
export interface VoteSummarySinkOptions {
  readonly client: Pick<DynamoDBClient, 'send'>;
  /** The VoteSummary table. */
  readonly summaryTable: string;
  /** The ledger table. @default ledgerTableFor(summaryTable), `<summaryTable>-ledger` */
  readonly ledgerTable?: string;
  readonly logger?: Logger;
}

/**
 * The one piece of logic of this recipe, shared by the worker and the Lambda handler: count the
 * Votes items by their `vote` attribute into `VoteSummary.num`. A new vote adds one, a changed
 * vote moves one from the old choice to the new one, a deleted vote takes one away.
 *
 * Exactly once comes from the ledger (`<summaryTable>-ledger`): per voter it records the vote
 * currently counted and the version of the change that set it, so redeliveries, concurrent
 * invocations, reordering and replays in any order end in the same totals, with no need to know
 * the shard (see `@shardline/sink-dynamodb`'s README for the argument).
 */
export function createVoteSummarySink(options: VoteSummarySinkOptions): DynamoDBLedgerSummarySink {
  return new DynamoDBLedgerSummarySink({
    client: options.client,
    tableName: options.summaryTable,
    ledgerTableName: options.ledgerTable ?? ledgerTableFor(options.summaryTable),
    contributions: countBy({ attribute: 'vote', counter: 'num' }),
    streamViewType: 'NEW_AND_OLD_IMAGES',
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
