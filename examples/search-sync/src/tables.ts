import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';

/**
 * The Users table: partition key `UserID`, attributes `UserName` and `Email`. The stream needs
 * only the new image (the index takes the whole item; a REMOVE carries the keys), but
 * NEW_AND_OLD_IMAGES works too and is what the Terraform sets, so other consumers can share it.
 */
export function usersTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'UserID', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'UserID', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  };
}

/** Creates the Users table if needed and waits until it is active (local runs and tests). */
export async function createUsersTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(usersTableDefinition(tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists(
    { client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { TableName: tableName },
  );
}
