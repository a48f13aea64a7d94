import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';

/** The names of the recipe's tables (the summary's ledger is named after the summary table). */
export interface VoteTableNames {
  /** The source table: one item per user, `{ UserID, vote, Date }`. */
  readonly votesTable: string;
  /** The summary table: one item per choice, `{ vote, num }`. */
  readonly summaryTable: string;
}

/**
 * The ledger table the summary sink keeps beside a summary table: `<summaryTable>-ledger`.
 * Deriving it keeps the recipe's settings as they are (no extra variable).
 */
export function ledgerTableFor(summaryTable: string): string {
  return `${summaryTable}-ledger`;
}

/**
 * The summary's ledger: partition key `pk` (the voter's key), what that voter's item counts and
 * the version of the change that set it; TTL on `expiresAt` expires tombstones of deleted votes.
 */
export function voteLedgerTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/** The default table names, as in the Terraform of the README. */
export const DEFAULT_VOTE_TABLE_NAMES: VoteTableNames = {
  votesTable: 'Votes',
  summaryTable: 'VoteSummary',
};

/**
 * The Votes table: partition key `UserID`, so a user holds one vote that they may change or
 * withdraw. The stream carries both images: counting a changed vote needs the old value (to
 * take one away) and the new one (to add one).
 */
export function votesTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'UserID', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'UserID', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}

/** The VoteSummary table: partition key `vote`, counter `num`. Needs no stream. */
export function voteSummaryTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'vote', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'vote', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/**
 * Creates the three tables (votes, summary, and the summary's ledger) if they do not exist and waits until they are active. For local runs and
 * tests; in AWS the tables come from the Terraform in the README.
 */
export async function createVoteTables(
  client: DynamoDBClient,
  names: VoteTableNames = DEFAULT_VOTE_TABLE_NAMES,
): Promise<void> {
  for (const definition of [
    votesTableDefinition(names.votesTable),
    voteSummaryTableDefinition(names.summaryTable),
    voteLedgerTableDefinition(ledgerTableFor(names.summaryTable)),
  ]) {
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await waitUntilTableExists(
      { client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
      { TableName: definition.TableName! },
    );
  }
}
