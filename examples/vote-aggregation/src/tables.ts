import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';

/** The names of the recipe's two tables. */
export interface VoteTableNames {
  /** The source table: one item per user, `{ UserID, vote, Date }`. */
  readonly votesTable: string;
  /** The summary table: one item per choice, `{ vote, num }`. */
  readonly summaryTable: string;
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
 * Creates both tables if they do not exist and waits until they are active. For local runs and
 * tests; in AWS the tables come from the Terraform in the README.
 */
export async function createVoteTables(
  client: DynamoDBClient,
  names: VoteTableNames = DEFAULT_VOTE_TABLE_NAMES,
): Promise<void> {
  for (const definition of [
    votesTableDefinition(names.votesTable),
    voteSummaryTableDefinition(names.summaryTable),
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
