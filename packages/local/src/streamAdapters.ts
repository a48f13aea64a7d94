import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  type DynamoDBStreamsClientConfig,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import {
  DescribeStreamSummaryCommand,
  KinesisClient,
  type KinesisClientConfig,
  GetRecordsCommand as KinesisGetRecordsCommand,
  GetShardIteratorCommand as KinesisGetShardIteratorCommand,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { ShardInfo } from '@shardline/core';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  type MappedStreamRecord,
  toLambdaDynamoDBRecord,
  toLambdaKinesisRecord,
} from './lambdaStreamEvents.js';

/** The stream an event source mapping reads. */
export type EventSourceMappingSource =
  | {
      /** A DynamoDB stream (DynamoDB Local, the multi-shard server, or AWS). */
      readonly type: 'dynamodb-streams';
      readonly streamArn: string;
      /** Settings of the SDK v3 streams client the mapping builds (ignored with `client`). */
      readonly clientConfig?: DynamoDBStreamsClientConfig;
      /** A client to use instead (not destroyed by `stop()`). */
      readonly client?: DynamoDBStreamsClient;
    }
  | {
      /** A Kinesis data stream (kinesalite or AWS), named by ARN or name. */
      readonly type: 'kinesis';
      readonly streamArn?: string;
      readonly streamName?: string;
      /** Settings of the SDK v3 Kinesis client (an HTTP/1.1 handler is added when absent). */
      readonly clientConfig?: KinesisClientConfig;
      readonly client?: KinesisClient;
    };

/** Where a shard reader starts or resumes. */
export type ReaderPosition =
  | { readonly type: 'TRIM_HORIZON' | 'LATEST' }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string };

/** One GetRecords page, as Lambda records. */
export interface StreamPage {
  readonly records: readonly MappedStreamRecord[];
  /** Absent once a closed shard is read to its end. */
  readonly nextIterator: string | undefined;
}

/** The calls the mapping makes on a stream, for both services. */
export interface StreamAdapter {
  readonly kind: 'dynamodb-streams' | 'kinesis';
  readonly streamArn: string;
  listShards(): Promise<ShardInfo[]>;
  iterator(shardId: string, position: ReaderPosition): Promise<string | undefined>;
  getRecords(shardId: string, iterator: string): Promise<StreamPage>;
  destroy(): void;
}

const KINESIS_IDENTITY = 'arn:aws:iam::123456789012:role/lambda-role';

/** Builds the adapter of a source (resolving a Kinesis stream name to its ARN). */
export async function openStreamAdapter(
  source: EventSourceMappingSource,
  region: string,
): Promise<StreamAdapter> {
  return source.type === 'dynamodb-streams'
    ? dynamoDBStreamsAdapter(source, region)
    : await kinesisAdapter(source, region);
}

function dynamoDBStreamsAdapter(
  source: Extract<EventSourceMappingSource, { type: 'dynamodb-streams' }>,
  region: string,
): StreamAdapter {
  const client = source.client ?? new DynamoDBStreamsClient(source.clientConfig ?? {});
  const streamArn = source.streamArn;
  return {
    kind: 'dynamodb-streams',
    streamArn,
    async listShards() {
      const shards: ShardInfo[] = [];
      let start: string | undefined;
      do {
        const out = await client.send(
          new DescribeStreamCommand({
            StreamArn: streamArn,
            ...(start ? { ExclusiveStartShardId: start } : {}),
          }),
        );
        for (const s of out.StreamDescription?.Shards ?? []) {
          shards.push({
            shardId: s.ShardId ?? '',
            parentShardIds: s.ParentShardId ? [s.ParentShardId] : [],
            startingSequenceNumber: s.SequenceNumberRange?.StartingSequenceNumber,
            endingSequenceNumber: s.SequenceNumberRange?.EndingSequenceNumber,
          });
        }
        start = out.StreamDescription?.LastEvaluatedShardId;
      } while (start);
      return shards;
    },
    async iterator(shardId, position) {
      const out = await client.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: position.type as ShardIteratorType,
          ...(position.type === 'AFTER_SEQUENCE_NUMBER'
            ? { SequenceNumber: position.sequenceNumber }
            : {}),
        }),
      );
      return out.ShardIterator;
    },
    async getRecords(_shardId, iterator) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      return {
        records: (out.Records ?? []).map((r) =>
          toLambdaDynamoDBRecord(r as Record<string, unknown>, streamArn, region),
        ),
        nextIterator: out.NextShardIterator,
      };
    },
    destroy() {
      if (!source.client) client.destroy();
    },
  };
}

async function kinesisAdapter(
  source: Extract<EventSourceMappingSource, { type: 'kinesis' }>,
  region: string,
): Promise<StreamAdapter> {
  const client =
    source.client ??
    new KinesisClient({ requestHandler: new NodeHttpHandler(), ...(source.clientConfig ?? {}) });
  const streamName = source.streamName ?? source.streamArn?.split(':stream/')[1];
  if (!streamName) {
    throw new Error(
      'A Kinesis source needs streamName or streamArn (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).',
    );
  }
  const streamArn =
    source.streamArn ??
    (await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
      .StreamDescriptionSummary?.StreamARN ??
    `arn:aws:kinesis:${region}:000000000000:stream/${streamName}`;
  return {
    kind: 'kinesis',
    streamArn,
    async listShards() {
      const shards: ShardInfo[] = [];
      let token: string | undefined;
      do {
        const out = await client.send(
          new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }),
        );
        for (const s of out.Shards ?? []) {
          shards.push({
            shardId: s.ShardId ?? '',
            parentShardIds: [s.ParentShardId, s.AdjacentParentShardId].filter(
              (id): id is string => typeof id === 'string',
            ),
            startingSequenceNumber: s.SequenceNumberRange?.StartingSequenceNumber,
            endingSequenceNumber: s.SequenceNumberRange?.EndingSequenceNumber,
            ...(s.HashKeyRange
              ? {
                  hashKeyRange: {
                    startingHashKey: s.HashKeyRange.StartingHashKey ?? '',
                    endingHashKey: s.HashKeyRange.EndingHashKey ?? '',
                  },
                }
              : {}),
          });
        }
        token = out.NextToken;
      } while (token);
      return shards;
    },
    async iterator(shardId, position) {
      const out = await client.send(
        new KinesisGetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: position.type,
          ...(position.type === 'AFTER_SEQUENCE_NUMBER'
            ? { StartingSequenceNumber: position.sequenceNumber }
            : {}),
        }),
      );
      return out.ShardIterator;
    },
    async getRecords(shardId, iterator) {
      const out = await client.send(new KinesisGetRecordsCommand({ ShardIterator: iterator }));
      return {
        records: (out.Records ?? []).map((r) =>
          toLambdaKinesisRecord(r, shardId, streamArn, region, KINESIS_IDENTITY),
        ),
        nextIterator: out.NextShardIterator ?? undefined,
      };
    },
    destroy() {
      if (!source.client) client.destroy();
    },
  };
}
