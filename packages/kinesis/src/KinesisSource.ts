import {
  DescribeStreamSummaryCommand,
  type DescribeStreamSummaryCommandOutput,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
  type ShardFilter,
} from '@aws-sdk/client-kinesis';
import {
  type AwsResource,
  type ChangeRecord,
  ConfigurationError,
  DEFAULT_TRIMMED_DATA_POLICY,
  type EventBus,
  explainAwsSetupError,
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
  silentLogger,
  type TrimmedDataPolicy,
  trimmedDataPolicyOf,
  wholeNumberIn as wholeIn,
} from '@shardline/core';
import { KinesisPayloadFormat } from './decodeKinesisRecord.js';
import { createFanOutContext, type FanOutContext, KinesisRetrieval } from './fanOut.js';
import { KinesisFanOutShardIterator } from './KinesisFanOutShardIterator.js';
import { KinesisShardIterator } from './KinesisShardIterator.js';
import {
  DEFAULT_OUT_OF_RANGE_RECORD_POLICY,
  type OutOfRangeRecordPolicy,
  outOfRangeRecordPolicyOf,
} from './outOfRangeRecords.js';
import { KINESIS_RETRIABLE_CODES } from './retriableCodes.js';

/** Options of a {@link KinesisSource}. Give `streamArn`, `streamName`, or both. */
export interface KinesisSourceOptions {
  /** The Kinesis client, built once by the caller (endpoint, region, credentials from `AWS_*`). */
  readonly client: KinesisClient;
  /**
   * The stream ARN: the source's `streamId`. When it is the only identifier, calls name the
   * stream by `StreamARN` (needed across accounts).
   */
  readonly streamArn?: string;
  /** The stream name. When given, calls name the stream by `StreamName`. */
  readonly streamName?: string;
  /** How payloads decode: opaque bytes, JSON, or "Kinesis Data Streams for DynamoDB". @default 'raw' */
  readonly payload?: KinesisPayloadFormat;
  /** Overrides the ordering key (default: partition key; DynamoDB payloads: the item key). */
  readonly orderingKey?: (record: ChangeRecord) => string;
  /**
   * What to do with a KPL user record that hashes outside the shard it was read from (its
   * aggregate was put with an outdated shard map, after a reshard). Each one is reported: the
   * `record.outOfRange` event, the `kpl_user_records_out_of_range_total` metric and a warning.
   * `deliver` (the default) processes it like any record: only the KPL puts such a record again
   * to the right shard (then it arrives twice; at least once holds), another aggregator does
   * not, and dropping its record would lose a change. `skip` drops it, as the KCL does: right
   * when every producer is the KPL.
   * @default 'deliver'
   */
  readonly outOfRangeRecordPolicy?: OutOfRangeRecordPolicy;
  /**
   * When the records after a checkpoint were trimmed (the consumer fell behind the stream's
   * retention period): `stop` throws `DataTrimmedError` and the shard stops until someone
   * decides; `skip-to-trim-horizon` reads on from the oldest record kept. Either way the gap is
   * reported (`shard.dataTrimmed`, `shard_data_trimmed_total`, a warning), never silently; the
   * same policy as the DynamoDB Streams source. Detected by opening every checkpoint AT its own
   * record and checking that it is still there. @default 'stop'
   */
  readonly trimmedDataPolicy?: TrimmedDataPolicy;
  /** Records per GetRecords call, 1…10,000. @default 10_000 */
  readonly maxRecordsPerRead?: number;
  /** Shards per ListShards page (`MaxResults`), 1…10,000. @default 1000 */
  readonly listShardsPageSize?: number;
  /**
   * A ListShards filter (AT_LATEST, AFTER_SHARD_ID, FROM_TIMESTAMP, …) applied to every
   * listing, e.g. to skip closed shards older than the start position. @default none: all shards
   */
  readonly shardFilter?: ShardFilter;
  /** ListShards calls per second from this source (the service allows 1000/s per stream). @default 10 */
  readonly maxListShardsCallsPerSecond?: number;
  /** Attempts of one ListShards page when throttled. @default 10 */
  readonly listShardsAttempts?: number;
  /**
   * How shards are read. `polling` (the default): GetRecords, sharing each shard's 5 reads/s
   * and 2 MB/s with every other reader. `fan-out`: enhanced fan-out, the consumer
   * `consumerName` (registered when missing, then waited for until ACTIVE) gets its own
   * 2 MB/s per shard and records are pushed over HTTP/2 (`SubscribeToShard`); the `client`
   * must use an HTTP/2 handler (the SDK's default, `NodeHttp2Handler`) and the source needs the
   * stream ARN (`streamArn`, or `KinesisSource.create`). Checkpoints, lineage and decoding are
   * the same in both modes. @default 'polling'
   */
  readonly retrieval?: KinesisRetrieval;
  /**
   * The enhanced fan-out consumer's name (1…128 of `a-zA-Z0-9_.-`), unique per stream: every
   * worker of an application gives the same one. Required with `retrieval: 'fan-out'`.
   */
  readonly consumerName?: string;
  /** How long to wait for a fan-out consumer to be ACTIVE, in ms. @default 60_000 */
  readonly consumerActivationTimeoutMs?: number;
  /**
   * Fan-out: renew a subscription this long after it started, before the service ends it (AWS
   * ends every subscription after 5 minutes), between two events: the new one resumes after the
   * last event handed out, so nothing is lost or repeated, and the switch happens when this
   * reader chooses rather than when the service cuts the stream. 1000…300_000 ms.
   * @default 290_000
   */
  readonly renewSubscriptionAfterMs?: number;
  readonly events?: EventBus;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
}

/** Options of {@link KinesisSource.create}. */
export type KinesisSourceCreateOptions = Omit<KinesisSourceOptions, 'streamArn'> & {
  readonly streamName: string;
};

/** Defaults of {@link KinesisSource}. */
export const DEFAULT_KINESIS_SOURCE = {
  payload: KinesisPayloadFormat.Raw,
  outOfRangeRecordPolicy: DEFAULT_OUT_OF_RANGE_RECORD_POLICY,
  trimmedDataPolicy: DEFAULT_TRIMMED_DATA_POLICY,
  maxRecordsPerRead: 10_000,
  listShardsPageSize: 1000,
  maxListShardsCallsPerSecond: 10,
  listShardsAttempts: 10,
  retrieval: KinesisRetrieval.Polling,
  consumerActivationTimeoutMs: 60_000,
  renewSubscriptionAfterMs: 290_000,
} as const;

/** Resolved settings shared with the shard iterators. */
export interface KinesisSettings {
  readonly client: KinesisClient;
  readonly streamId: string;
  /** How calls name the stream: `{ StreamName }` or `{ StreamARN }`. */
  readonly streamRef: { readonly StreamName: string } | { readonly StreamARN: string };
  readonly payload: KinesisPayloadFormat;
  readonly orderingKey: ((record: ChangeRecord) => string) | undefined;
  readonly outOfRangeRecordPolicy: OutOfRangeRecordPolicy;
  readonly trimmedDataPolicy: TrimmedDataPolicy;
  readonly maxRecordsPerRead: number;
  readonly events: EventBus | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * A Kinesis Data Streams {@link ShardSource}: ListShards with paging and lineage (splits and
 * merges through `ParentShardId`/`AdjacentParentShardId`), and shard iterators that decode
 * (raw, JSON, DynamoDB payloads; KPL aggregates, user records outside the shard's hash key range
 * reported and delivered or skipped per `outOfRangeRecordPolicy`), resume
 * inside an aggregate, re-acquire expired iterators and report `MillisBehindLatest`.
 *
 * @example
 * const source = await KinesisSource.create({ client, streamName: 'orders', payload: 'json' });
 * const shards = await source.listShards();
 */
export class KinesisSource implements ShardSource {
  readonly kind: SourceKind;
  readonly streamId: string;
  readonly #settings: KinesisSettings;
  readonly #pageSize: number;
  readonly #shardFilter: ShardFilter | undefined;
  readonly #listing: ShardListing;
  readonly #log: Logger;
  readonly #options: KinesisSourceOptions;
  /** Set in fan-out mode. */
  readonly #fanOut: FanOutContext | undefined;

  constructor(options: KinesisSourceOptions) {
    this.#options = options;
    const { streamArn, streamName } = options;
    if (streamArn !== undefined && !/^arn:[\w-]+:kinesis:[^:]*:[^:]*:stream\/.+$/.test(streamArn)) {
      throw new ConfigurationError(
        `streamArn must be a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME), got ${JSON.stringify(streamArn)}.`,
      );
    }
    if (streamArn === undefined && streamName === undefined) {
      throw new ConfigurationError(
        'Give streamArn or streamName (or use KinesisSource.create({ streamName }) to look the ARN up).',
      );
    }
    const payload = options.payload ?? DEFAULT_KINESIS_SOURCE.payload;
    if (!Object.values(KinesisPayloadFormat).includes(payload)) {
      throw new ConfigurationError(
        `payload must be 'raw', 'json' or 'dynamodb', got ${JSON.stringify(payload)}.`,
      );
    }
    const outOfRangeRecordPolicy = outOfRangeRecordPolicyOf(options.outOfRangeRecordPolicy);
    const maxRecordsPerRead = wholeIn(
      'maxRecordsPerRead',
      options.maxRecordsPerRead,
      DEFAULT_KINESIS_SOURCE.maxRecordsPerRead,
      1,
      10_000,
    );
    this.#pageSize = wholeIn(
      'listShardsPageSize',
      options.listShardsPageSize,
      DEFAULT_KINESIS_SOURCE.listShardsPageSize,
      1,
      10_000,
    );
    const attempts = wholeIn(
      'listShardsAttempts',
      options.listShardsAttempts,
      DEFAULT_KINESIS_SOURCE.listShardsAttempts,
      1,
      100,
    );
    const perSecond =
      options.maxListShardsCallsPerSecond ?? DEFAULT_KINESIS_SOURCE.maxListShardsCallsPerSecond;
    if (!(perSecond > 0 && Number.isFinite(perSecond))) {
      throw new ConfigurationError(
        `maxListShardsCallsPerSecond must be above 0, got ${String(perSecond)}.`,
      );
    }
    this.#shardFilter = options.shardFilter;
    // A stream name alone still needs an id: the name is used until an ARN is known.
    this.streamId = streamArn ?? streamName!;
    this.kind = payload === 'dynamodb' ? SourceKind.KinesisDynamoDB : SourceKind.Kinesis;
    this.#log = (options.logger ?? silentLogger).child({
      component: 'kinesis-source',
      streamId: this.streamId,
    });
    this.#settings = {
      client: options.client,
      streamId: this.streamId,
      streamRef: streamName !== undefined ? { StreamName: streamName } : { StreamARN: streamArn! },
      payload,
      orderingKey: options.orderingKey,
      outOfRangeRecordPolicy,
      trimmedDataPolicy: trimmedDataPolicyOf(options.trimmedDataPolicy),
      maxRecordsPerRead,
      events: options.events,
      metrics: options.metrics ?? noopMetrics,
      logger: this.#log,
    };
    this.#listing = new ShardListing({
      streamId: this.streamId,
      operation: 'ListShards',
      callsPerSecond: perSecond,
      attempts,
      retriableCodes: KINESIS_RETRIABLE_CODES,
      throttledMetric: 'list_shards_throttled_total',
      events: options.events,
      metrics: this.#settings.metrics,
      logger: this.#log,
    });
    this.#fanOut = fanOutOf(options, streamArn, this.#log);
  }

  /**
   * A source for a stream by name, with its ARN (the stable `streamId`) looked up once.
   * @throws ConfigurationError when the stream does not exist (naming the region and endpoint
   * the client looked in) or no region is configured.
   */
  static async create(options: KinesisSourceCreateOptions): Promise<KinesisSource> {
    let summary: DescribeStreamSummaryCommandOutput;
    try {
      summary = await options.client.send(
        new DescribeStreamSummaryCommand({ StreamName: options.streamName }),
      );
    } catch (error) {
      throw await explainAwsSetupError(error, missingStream(options.streamName), options.client);
    }
    const streamArn = summary.StreamDescriptionSummary?.StreamARN;
    return new KinesisSource({ ...options, ...(streamArn ? { streamArn } : {}) });
  }

  /**
   * This source reporting to `telemetry` where its own options gave no `events`, `metrics` or
   * `logger` (the worker hands its own, so trimmed data, re-acquired iterators and throttling
   * reach its `/metrics` and logs). A new source with the same client and settings; this one is
   * left as it is.
   */
  withTelemetry(telemetry: SourceTelemetry): KinesisSource {
    const o = this.#options;
    return new KinesisSource({
      ...o,
      events: o.events ?? telemetry.events,
      metrics: o.metrics ?? telemetry.metrics,
      logger: o.logger ?? telemetry.logger,
    });
  }

  /**
   * Every shard the stream lists, with lineage and hash key ranges: ListShards paged through
   * `NextToken`, paced, throttling retried.
   */
  async listShards(signal?: AbortSignal): Promise<ShardInfo[]> {
    try {
      return await this.#listShards(signal);
    } catch (error) {
      throw await explainAwsSetupError(error, missingStream(this.streamId), this.#settings.client);
    }
  }

  #listShards(signal: AbortSignal | undefined): Promise<ShardInfo[]> {
    return this.#listing.list(
      (nextToken, s) =>
        this.#settings.client.send(
          new ListShardsCommand(
            nextToken
              ? { NextToken: nextToken, MaxResults: this.#pageSize }
              : {
                  ...this.#settings.streamRef,
                  MaxResults: this.#pageSize,
                  ...(this.#shardFilter ? { ShardFilter: this.#shardFilter } : {}),
                },
          ),
          s ? { abortSignal: s } : {},
        ),
      (page) => ({ shards: (page.Shards ?? []).map(toShardInfo), next: page.NextToken }),
      signal,
    );
  }

  /** The children of a shard, from a fresh listing (when GetRecords gave no `ChildShards`). */
  async childShardIds(shardId: string, signal?: AbortSignal): Promise<string[]> {
    const shards = await this.#listShards(signal);
    return shards.filter((s) => s.parentShardIds.includes(shardId)).map((s) => s.shardId);
  }

  /**
   * Opens a shard at any Kinesis position. `AFTER_SEQUENCE_NUMBER` with a `subSequenceNumber`
   * resumes inside a KPL aggregate: it starts AT the aggregate and drops its user records up to
   * and including that sub-sequence, so a restart neither replays nor skips inside it.
   */
  async openShard(
    shardId: string,
    from: StartPosition,
    signal?: AbortSignal,
  ): Promise<ShardIterator> {
    let info = this.#listing.known(shardId);
    if (!info) {
      await this.listShards(signal);
      info = this.#listing.known(shardId);
    }
    const findChildren = (s?: AbortSignal) => this.childShardIds(shardId, s);
    const iterator = this.#fanOut
      ? new KinesisFanOutShardIterator(
          this.#settings,
          this.#fanOut,
          shardId,
          info?.hashKeyRange,
          from,
          findChildren,
          info?.startingSequenceNumber,
        )
      : new KinesisShardIterator(
          this.#settings,
          shardId,
          info?.hashKeyRange,
          from,
          findChildren,
          info?.startingSequenceNumber,
        );
    await iterator.open(signal);
    return iterator;
  }
}

/** A missing Kinesis stream (`name` or ARN) and how to fix it. */
function missingStream(stream: string): AwsResource {
  const name = stream.replace(/^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\//, '');
  return {
    what: `Kinesis stream ${stream}`,
    clientName: 'KinesisClient',
    fix: `create it with: aws kinesis create-stream --stream-name ${name} --shard-count 1, or set streamName (or streamArn) to an existing stream`,
  };
}

function toShardInfo(shard: Shard): ShardInfo {
  return {
    shardId: shard.ShardId!,
    parentShardIds: [shard.ParentShardId, shard.AdjacentParentShardId].filter(
      (id): id is string => typeof id === 'string' && id !== '',
    ),
    startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber,
    endingSequenceNumber: shard.SequenceNumberRange?.EndingSequenceNumber,
    ...(shard.HashKeyRange?.StartingHashKey && shard.HashKeyRange.EndingHashKey
      ? {
          hashKeyRange: {
            startingHashKey: shard.HashKeyRange.StartingHashKey,
            endingHashKey: shard.HashKeyRange.EndingHashKey,
          },
        }
      : {}),
  };
}

/** Validates the retrieval options; the fan-out context in fan-out mode. */
function fanOutOf(
  options: KinesisSourceOptions,
  streamArn: string | undefined,
  logger: Logger,
): FanOutContext | undefined {
  const retrieval = options.retrieval ?? DEFAULT_KINESIS_SOURCE.retrieval;
  if (!Object.values(KinesisRetrieval).includes(retrieval)) {
    throw new ConfigurationError(
      `retrieval must be 'polling' or 'fan-out', got ${JSON.stringify(retrieval)}.`,
    );
  }
  const { consumerName } = options;
  if (retrieval === KinesisRetrieval.Polling) {
    if (
      consumerName !== undefined ||
      options.consumerActivationTimeoutMs !== undefined ||
      options.renewSubscriptionAfterMs !== undefined
    ) {
      throw new ConfigurationError(
        "consumerName, consumerActivationTimeoutMs and renewSubscriptionAfterMs are used only with retrieval: 'fan-out'; add it, or remove them.",
      );
    }
    return undefined;
  }
  if (consumerName === undefined || !/^[a-zA-Z0-9_.-]{1,128}$/.test(consumerName)) {
    throw new ConfigurationError(
      `retrieval 'fan-out' needs a consumerName of 1 to 128 characters from a-z, A-Z, 0-9, '_', '.' and '-' (the same in every worker of the application), got ${JSON.stringify(consumerName)}.`,
    );
  }
  if (streamArn === undefined) {
    throw new ConfigurationError(
      "retrieval 'fan-out' needs the stream ARN (consumers are registered on it): give streamArn, or use KinesisSource.create({ streamName }) to look it up.",
    );
  }
  // SubscribeToShard needs HTTP/2; a handler says its protocol in `metadata.handlerProtocol`.
  const protocol = (
    options.client.config as { requestHandler?: { metadata?: { handlerProtocol?: string } } }
  ).requestHandler?.metadata?.handlerProtocol;
  if (protocol !== undefined && !protocol.startsWith('h2')) {
    throw new ConfigurationError(
      `retrieval 'fan-out' needs a client that speaks HTTP/2 (SubscribeToShard is HTTP/2 only), but its requestHandler speaks ${protocol}: build the KinesisClient with the default handler or requestHandler: new NodeHttp2Handler().`,
    );
  }
  const activationTimeoutMs = wholeIn(
    'consumerActivationTimeoutMs',
    options.consumerActivationTimeoutMs,
    DEFAULT_KINESIS_SOURCE.consumerActivationTimeoutMs,
    0,
    3_600_000,
  );
  const renewAfterMs = wholeIn(
    'renewSubscriptionAfterMs',
    options.renewSubscriptionAfterMs,
    DEFAULT_KINESIS_SOURCE.renewSubscriptionAfterMs,
    1000,
    300_000,
  );
  return createFanOutContext({
    client: options.client,
    streamArn,
    consumerName,
    activationTimeoutMs,
    renewAfterMs,
    logger,
  });
}
