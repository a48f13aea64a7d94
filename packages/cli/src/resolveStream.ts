import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { assertAwsConfigured, explainAwsError } from './awsErrors.js';
import type { AwsClients } from './CliContext.js';
import { CliError, notFoundError } from './CliError.js';
import { ExitCode } from './ExitCode.js';
import { parseStreamTarget } from './streamTarget.js';

/** A stream the CLI can read, resolved from a table name or an ARN. */
export interface ResolvedStream {
  readonly kind: 'dynamodb-streams' | 'kinesis';
  readonly streamArn: string;
  /** The table, for DynamoDB streams. */
  readonly tableName: string | undefined;
  /** The stream view type, when DescribeTable said. */
  readonly streamViewType: string | undefined;
}

/**
 * Turns a `<table|stream-arn>` argument into a stream: a table name resolves to the table's
 * latest stream (DescribeTable); an ARN is checked for shape. Region and credentials are checked
 * first, so their absence is reported as such.
 *
 * @throws CliError: malformed ARN (usage), no region or credentials (configuration), unknown
 *   table or table without a stream (not found).
 */
export async function resolveStream(text: string, clients: AwsClients): Promise<ResolvedStream> {
  const target = parseStreamTarget(text);
  if (target.kind === 'kinesis-stream') {
    await assertAwsConfigured(clients.kinesis);
    return {
      kind: 'kinesis',
      streamArn: target.streamArn,
      tableName: undefined,
      streamViewType: undefined,
    };
  }
  await assertAwsConfigured(clients.dynamodb);
  if (target.kind === 'dynamodb-stream') {
    return {
      kind: 'dynamodb-streams',
      streamArn: target.streamArn,
      tableName: target.tableName,
      streamViewType: undefined,
    };
  }
  let table: Awaited<ReturnType<typeof describe>>;
  try {
    table = await describe(clients, target.tableName);
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'ResourceNotFoundException') {
      throw notFoundError(
        `Table "${target.tableName}" does not exist (region ${process.env.AWS_REGION ?? 'from your profile'}${endpointNote()}).`,
        'Check the table name (case matters) and AWS_REGION / AWS_ENDPOINT_URL_DYNAMODB; list tables with: aws dynamodb list-tables.',
        error,
      );
    }
    throw explainAwsError(error, `table ${target.tableName}`);
  }
  const streamArn = table?.LatestStreamArn;
  if (!streamArn || table?.StreamSpecification?.StreamEnabled === false) {
    throw new CliError(
      `Table "${target.tableName}" has no stream enabled.`,
      ExitCode.NotFound,
      `Enable one: aws dynamodb update-table --table-name ${target.tableName} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
    );
  }
  return {
    kind: 'dynamodb-streams',
    streamArn,
    tableName: target.tableName,
    streamViewType: table?.StreamSpecification?.StreamViewType,
  };
}

async function describe(clients: AwsClients, tableName: string) {
  const out = await clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  return out.Table;
}

function endpointNote(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
  return endpoint ? `, endpoint ${endpoint}` : '';
}
