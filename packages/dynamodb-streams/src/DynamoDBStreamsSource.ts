import {
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  type DescribeStreamCommandOutput,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import {
  awsErrorCode,
  ConfigurationError,
  DEFAULT_TRIMMED_DATA_POLICY,
  type EventBus,
  explainAwsSetupError,
  isRetriable,
  type Logger,
  type Metrics,
  noopMetrics,
  type ShardInfo,
  type ShardIterator,
  ShardListing,
  type ShardSource,
  SourceKind,
  type SourceTelemetry,
  type StartPosition,
  type StreamViewType,
  silentLogger,
  type TrimmedDataPolicy,
  trimmedDataPolicyOf,
  wholeNumberIn as wholeIn,
} from '@shardline/core';
import { DynamoDBStreamsShardIterator } from './DynamoDBStreamsShardIterator.js';
import { DYNAMODB_STREAMS_RETRIABLE_CODES } from './retriableCodes.js';

/** Options of a {@link DynamoDBStreamsSource}. */
export interface DynamoDBStreamsSourceOptions {
  /** The Streams client, built once by the caller (endpoint, region, credentials from `AWS_*`). */
  readonly client: DynamoDBStreamsClient;
  /** The stream ARN (`arn:aws:dynamodb:…:table/NAME/stream/LABEL`). */
  readonly streamArn: string;
  /** Records per GetRecords call, 1…1000. @default 1000 */
  readonly maxRecordsPerRead?: number;
  /** Shards per DescribeStream page, 1…100. @default 100 */
  readonly describeLimit?: number;
  /**
   * DescribeStream calls per second, across every listing and child lookup of this source
   * (the service allows 10/s per account). @default 5
   */
  readonly maxDescribeCallsPerSecond?: number;
  /** Attempts of one DescribeStream page when throttled. @default 10 */
  readonly describeAttempts?: number;
  /**
   * When the records after the start position were trimmed: stop with `DataTrimmedError`, or
   * skip to TRIM_HORIZON. Either way `shard.dataTrimmed` is emitted: never silently (the Java
   * Streams adapter skips with only a WARN). @default 'stop'
   */
  readonly trimmedDataPolicy?: TrimmedDataPolicy;
  /**
   * Ask DescribeStream for a closed shard's children with `ShardFilter` (CHILD_SHARDS). Turned
   * off by itself when the endpoint ignores or rejects the filter (DynamoDB Local). @default true
   */
  readonly useShardFilter?: boolean;
  readonly events?: EventBus;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  /** The clock for `millisBehindLatest`, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** Options of {@link DynamoDBStreamsSource.fromTable}. */
export type DynamoDBStreamsSourceFromTableOptions = Omit<
  DynamoDBStreamsSourceOptions,
  'streamArn'
> & {
  /** A DynamoDB client, used once for DescribeTable. */
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
};

/** Defaults of {@link DynamoDBStreamsSource}. */
export const DEFAULT_DYNAMODB_STREAMS_SOURCE = {
  maxRecordsPerRead: 1000,
  describeLimit: 100,
  maxDescribeCallsPerSecond: 5,
  describeAttempts: 10,
  trimmedDataPolicy: DEFAULT_TRIMMED_DATA_POLICY,
  useShardFilter: true,
} as const;

/** Resolved settings shared with the shard iterators. */
export interface DynamoDBStreamsSettings {
  readonly client: DynamoDBStreamsClient;
  readonly streamArn: string;
  readonly maxRecordsPerRead: number;
  readonly trimmedDataPolicy: TrimmedDataPolicy;
  readonly events: EventBus | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * A DynamoDB Streams {@link ShardSource}: lists shards with their lineage, and opens shard
 * iterators that page GetRecords, re-acquire expired iterators, and handle trimmed data per
 * policy. Plug it into core's `ShardConsumer` (one per shard) or the worker.
 *
 * Why a source of our own rather than the Java Streams adapter: the adapter paginates and finds
 * children the same way, but skips trimmed records with only a WARN and cannot be used from
 * Node. Here every such state change is a typed event.
 *
 * @example
 * const source = await DynamoDBStreamsSource.fromTable({ dynamodb, client, tableName: 'Votes' });
 * const shards = await source.listShards();
 */
export class DynamoDBStreamsSource implements ShardSource {
  readonly kind = SourceKind.DynamoDBStreams;
  readonly streamId: string;
  readonly #settings: DynamoDBStreamsSettings;
  readonly #describeLimit: number;
  readonly #listing: ShardListing;
  readonly #log: Logger;
  readonly #options: DynamoDBStreamsSourceOptions;
  #useShardFilter: boolean;

  constructor(options: DynamoDBStreamsSourceOptions) {
    this.#options = options;
    if (
      !/^arn:[\w-]+:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\/.+$/.test(options.streamArn ?? '')
    ) {
      throw new ConfigurationError(
        `streamArn must be a DynamoDB stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL), got ${JSON.stringify(options.streamArn)}. Use DynamoDBStreamsSource.fromTable() to start from a table name.`,
      );
    }
    const maxRecordsPerRead = wholeIn(
      'maxRecordsPerRead',
      options.maxRecordsPerRead,
      DEFAULT_DYNAMODB_STREAMS_SOURCE.maxRecordsPerRead,
      1,
      1000,
    );
    this.#describeLimit = wholeIn(
      'describeLimit',
      options.describeLimit,
      DEFAULT_DYNAMODB_STREAMS_SOURCE.describeLimit,
      1,
      100,
    );
    const describeAttempts = wholeIn(
      'describeAttempts',
      options.describeAttempts,
      DEFAULT_DYNAMODB_STREAMS_SOURCE.describeAttempts,
      1,
      100,
    );
    const perSecond =
      options.maxDescribeCallsPerSecond ??
      DEFAULT_DYNAMODB_STREAMS_SOURCE.maxDescribeCallsPerSecond;
    if (!(perSecond > 0 && perSecond < 10)) {
      throw new ConfigurationError(
        `maxDescribeCallsPerSecond must be above 0 and under 10 (DescribeStream allows 10 calls/s per account), got ${String(perSecond)}.`,
      );
    }
    const policy = trimmedDataPolicyOf(options.trimmedDataPolicy);
    this.#useShardFilter = options.useShardFilter ?? DEFAULT_DYNAMODB_STREAMS_SOURCE.useShardFilter;
    this.streamId = options.streamArn;
    this.#log = (options.logger ?? silentLogger).child({
      component: 'dynamodb-streams-source',
      streamId: options.streamArn,
    });
    this.#settings = {
      client: options.client,
      streamArn: options.streamArn,
      maxRecordsPerRead,
      trimmedDataPolicy: policy,
      events: options.events,
      metrics: options.metrics ?? noopMetrics,
      logger: this.#log,
      now: options.now ?? Date.now,
    };
    this.#listing = new ShardListing({
      streamId: this.streamId,
      operation: 'DescribeStream',
      callsPerSecond: perSecond,
      attempts: describeAttempts,
      retriableCodes: DYNAMODB_STREAMS_RETRIABLE_CODES,
      throttledMetric: 'describe_throttled_total',
      events: options.events,
      metrics: this.#settings.metrics,
      logger: this.#log,
    });
  }

  /**
   * A source for a table's current stream: DescribeTable → LatestStreamArn.
   * @throws ConfigurationError when the table does not exist (naming the region and endpoint the
   * client looked in), when no region is configured, or when the table has no stream enabled.
   */
  static async fromTable(
    options: DynamoDBStreamsSourceFromTableOptions,
  ): Promise<DynamoDBStreamsSource> {
    const { dynamodb, tableName, ...rest } = options;
    let table: DescribeTableCommandOutput;
    try {
      table = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    } catch (error) {
      throw await explainAwsSetupError(
        error,
        {
          what: `DynamoDB table ${tableName}`,
          clientName: 'DynamoDBClient',
          fix: `create it with a stream (aws dynamodb create-table --table-name ${tableName} … --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES), or set tableName to an existing table`,
        },
        dynamodb,
      );
    }
    const streamArn = table.Table?.LatestStreamArn;
    const enabled = table.Table?.StreamSpecification?.StreamEnabled;
    if (!streamArn || enabled === false) {
      throw new ConfigurationError(
        `Table ${tableName} has no DynamoDB stream${streamArn ? ' enabled (its last stream was disabled)' : ''}. Enable one: aws dynamodb update-table --table-name ${tableName} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
      );
    }
    return new DynamoDBStreamsSource({ ...rest, streamArn });
  }

  /**
   * The stream's view type (which images its records carry), from one DescribeStream call:
   * the worker checks it against its sink's needs at start.
   */
  async streamViewType(signal?: AbortSignal): Promise<StreamViewType | undefined> {
    const page = await this.#listing.call((s) => this.#describe({ Limit: 1 }, s), signal);
    return page.StreamDescription?.StreamViewType as StreamViewType | undefined;
  }

  /** Whether child lookups still try `ShardFilter` (false once the endpoint proved not to support it). */
  get usesShardFilter(): boolean {
    return this.#useShardFilter;
  }

  /**
   * This source reporting to `telemetry` where its own options gave no `events`, `metrics` or
   * `logger` (the worker hands its own, so trimmed data, re-acquired iterators and throttling
   * reach its `/metrics` and logs). A new source with the same client and settings; this one is
   * left as it is.
   */
  withTelemetry(telemetry: SourceTelemetry): DynamoDBStreamsSource {
    const o = this.#options;
    return new DynamoDBStreamsSource({
      ...o,
      events: o.events ?? telemetry.events,
      metrics: o.metrics ?? telemetry.metrics,
      logger: o.logger ?? telemetry.logger,
    });
  }

  /**
   * Every shard the stream lists, with parent links: DescribeStream paged through
   * `ExclusiveStartShardId`, paced under the per-account limit, throttling retried.
   */
  async listShards(signal?: AbortSignal): Promise<ShardInfo[]> {
    try {
      return await this.#listShards(signal);
    } catch (error) {
      const table = /:table\/([^/]+)\/stream\//.exec(this.streamId)?.[1] ?? 'TABLE';
      throw await explainAwsSetupError(
        error,
        {
          what: `DynamoDB stream ${this.streamId}`,
          clientName: 'DynamoDBStreamsClient',
          fix: `the table was deleted or its stream disabled or replaced. Start from the table's current stream with DynamoDBStreamsSource.fromTable({ tableName: '${table}' }), or look it up with: aws dynamodb describe-table --table-name ${table} --query Table.LatestStreamArn`,
        },
        this.#settings.client,
      );
    }
  }

  #listShards(signal: AbortSignal | undefined): Promise<ShardInfo[]> {
    return this.#listing.list(
      (exclusiveStartShardId, s) =>
        this.#describe(
          { ExclusiveStartShardId: exclusiveStartShardId, Limit: this.#describeLimit },
          s,
        ),
      (page) => ({
        shards: (page.StreamDescription?.Shards ?? []).map(toShardInfo),
        next: page.StreamDescription?.LastEvaluatedShardId,
      }),
      signal,
    );
  }

  /**
   * The children of a shard: DescribeStream with `ShardFilter` {CHILD_SHARDS}, or a full listing
   * when the endpoint does not support the filter (detected once, then remembered).
   */
  async childShardIds(shardId: string, signal?: AbortSignal): Promise<string[]> {
    if (this.#useShardFilter) {
      try {
        const page = await this.#listing.call(
          (s) => this.#describe({ ShardFilter: { Type: 'CHILD_SHARDS', ShardId: shardId } }, s),
          signal,
        );
        const shards = page.StreamDescription?.Shards ?? [];
        // An endpoint that ignores the filter returns shards of other parents (or this shard).
        const filtered = shards.every((s) => s.ParentShardId === shardId);
        if (filtered && !page.StreamDescription?.LastEvaluatedShardId) {
          return shards.map((s) => s.ShardId!).filter(Boolean);
        }
        this.#log.info({ shardId }, 'DescribeStream ignored ShardFilter; using full listings');
      } catch (error) {
        if (awsErrorCode(error) !== 'ValidationException' && isRetriable(error)) throw error;
        this.#log.info(
          { shardId, error: awsErrorCode(error) },
          'DescribeStream rejected ShardFilter; using full listings',
        );
      }
      this.#useShardFilter = false;
    }
    const all = await this.#listShards(signal);
    return all.filter((s) => s.parentShardIds.includes(shardId)).map((s) => s.shardId);
  }

  /**
   * Opens a shard. `AFTER_SEQUENCE_NUMBER` resumes from a checkpoint; `TRIM_HORIZON` and
   * `LATEST` start a shard with none. DynamoDB Streams has no AT_TIMESTAMP.
   */
  async openShard(
    shardId: string,
    from: StartPosition,
    signal?: AbortSignal,
  ): Promise<ShardIterator> {
    if (from.type === 'AT_TIMESTAMP') {
      throw new ConfigurationError(
        `DynamoDB Streams has no AT_TIMESTAMP iterator (shard ${shardId}); start from TRIM_HORIZON, LATEST or a sequence number.`,
      );
    }
    const iterator = new DynamoDBStreamsShardIterator(this.#settings, shardId, from, (signal) =>
      this.childShardIds(shardId, signal),
    );
    await iterator.open(signal);
    return iterator;
  }

  /** One DescribeStream call (pacing and retries are the listing's). */
  #describe(
    input: {
      ExclusiveStartShardId?: string | undefined;
      Limit?: number;
      ShardFilter?: { Type: 'CHILD_SHARDS'; ShardId: string };
    },
    signal: AbortSignal | undefined,
  ): Promise<DescribeStreamCommandOutput> {
    return this.#settings.client.send(
      new DescribeStreamCommand({ StreamArn: this.streamId, ...input }),
      signal ? { abortSignal: signal } : {},
    );
  }
}

function toShardInfo(shard: Shard): ShardInfo {
  return {
    shardId: shard.ShardId!,
    parentShardIds: shard.ParentShardId ? [shard.ParentShardId] : [],
    startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber,
    endingSequenceNumber: shard.SequenceNumberRange?.EndingSequenceNumber,
  };
}
