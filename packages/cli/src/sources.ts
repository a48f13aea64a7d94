import type { ShardSource } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import type { AwsClients } from './CliContext.js';
import { usageError } from './CliError.js';
import type { ResolvedStream } from './resolveStream.js';

/** Builds the reader of a resolved stream, over the run's SDK clients. */
export function openSource(stream: ResolvedStream, clients: AwsClients): ShardSource {
  if (stream.kind === 'dynamodb-streams') {
    return new DynamoDBStreamsSource({ client: clients.streams, streamArn: stream.streamArn });
  }
  throw usageError(
    `Kinesis streams are not supported by this build of shardline (${stream.streamArn}).`,
    'Give a DynamoDB table name or a DynamoDB stream ARN.',
  );
}
