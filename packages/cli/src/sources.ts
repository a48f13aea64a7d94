import type { ShardSource } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { KinesisSource } from '@shardline/kinesis';
import type { AwsClients } from './CliContext.js';
import type { ResolvedStream } from './resolveStream.js';

/**
 * Builds the reader of a resolved stream, over the run's SDK clients. Kinesis payloads are read
 * as raw bytes (`tail` prints them as UTF-8).
 */
export function openSource(stream: ResolvedStream, clients: AwsClients): ShardSource {
  if (stream.kind === 'dynamodb-streams') {
    return new DynamoDBStreamsSource({ client: clients.streams, streamArn: stream.streamArn });
  }
  return new KinesisSource({
    client: clients.kinesis,
    streamArn: stream.streamArn,
    payload: 'raw',
  });
}
