import {
  type ChangeRecord,
  ConfigurationError,
  consoleWarningLogger,
  type EventBus,
  errorMessage,
  type Logger,
  type Metrics,
  ShardlineError,
} from '@shardline/core';
import {
  decodeKinesisLambdaRecord,
  type HashKeyRange,
  type KinesisLambdaRecord,
  KinesisPayloadFormat,
  OutOfRangeRecordPolicy,
  outOfRangeRecordPolicyOf,
  type ShardHashKeyRangeLookup,
} from '@shardline/kinesis';
import { LambdaEventSource } from './constants.js';
import type { EventDecoder } from './EventDecoder.js';
import type { StreamEvent } from './types.js';

/** Options of {@link kinesisEventDecoder}. */
export interface KinesisEventDecoderOptions {
  /**
   * How to read `kinesis.data`: `raw` bytes, `json`, or `dynamodb` for "Kinesis Data Streams for
   * DynamoDB" change records.
   * @default 'raw'
   */
  readonly payload?: KinesisPayloadFormat | undefined;
  /** Overrides the ordering key (default: the partition key; for `dynamodb`, the item key). */
  readonly orderingKey?: ((record: ChangeRecord) => string) | undefined;
  /**
   * What to do with a KPL user record that hashes outside its shard (see the Kinesis source's
   * option of the same name). Checked only with `hashKeyRanges`: a Lambda event does not carry
   * the shard's range.
   * @default 'deliver'
   */
  readonly outOfRangeRecordPolicy?: OutOfRangeRecordPolicy | undefined;
  /**
   * Where the shard's hash key range comes from (`shardHashKeyRanges(kinesisClient)` of
   * `@shardline/kinesis`); looked up before the records are decoded, once per shard and
   * execution environment. Without it no range is known and nothing is checked.
   */
  readonly hashKeyRanges?: ShardHashKeyRangeLookup | undefined;
  /** Where out-of-range user records are reported. */
  readonly events?: EventBus | undefined;
  readonly metrics?: Metrics | undefined;
  /** @default console warnings */
  readonly logger?: Logger | undefined;
}

/**
 * The decoder of Lambda Kinesis records (`eventSource: aws:kinesis`): base64 payloads, KPL
 * aggregates (one change record per user record, all with the aggregate's sequence number, so
 * the aggregate is reported as a whole), and "Kinesis Data Streams for DynamoDB" payloads.
 */
export function kinesisEventDecoder(options: KinesisEventDecoderOptions = {}): EventDecoder {
  const policy = outOfRangeRecordPolicyOf(options.outOfRangeRecordPolicy);
  const lookup = options.hashKeyRanges;
  if (policy === OutOfRangeRecordPolicy.Skip && !lookup) {
    throw new ConfigurationError(
      "outOfRangeRecordPolicy: 'skip' needs hashKeyRanges, since a Lambda Kinesis event does not carry the shard's hash key range: pass hashKeyRanges: shardHashKeyRanges(new KinesisClient({})) from @shardline/kinesis (it needs kinesis:ListShards).",
    );
  }
  const logger = options.logger ?? consoleWarningLogger({ component: 'shardline-lambda' });
  const context = {
    payload: options.payload ?? KinesisPayloadFormat.Raw,
    outOfRangeRecordPolicy: policy,
    events: options.events,
    metrics: options.metrics,
    logger,
    ...(options.orderingKey ? { orderingKey: options.orderingKey } : {}),
  };
  if (!lookup) {
    return {
      eventSource: LambdaEventSource.Kinesis,
      decode(record: unknown, _event: StreamEvent, out: ChangeRecord[]): void {
        for (const change of decodeKinesisLambdaRecord(record as KinesisLambdaRecord, context)) {
          out.push(change);
        }
      },
      itemIdentifier,
    };
  }
  // Shard ranges never change for a shard id: kept for the life of the execution environment.
  const ranges = new Map<string, HashKeyRange | undefined>();
  return {
    eventSource: LambdaEventSource.Kinesis,
    async prepare(event: StreamEvent, signal?: AbortSignal): Promise<void> {
      let last: string | undefined;
      for (const record of event.Records as (Partial<KinesisLambdaRecord> & {
        eventSource?: string;
      })[]) {
        if (record?.eventSource !== LambdaEventSource.Kinesis) continue;
        const shard = shardOf(record);
        if (!shard || shard.key === last || ranges.has(shard.key)) continue;
        last = shard.key;
        try {
          ranges.set(shard.key, await lookup(shard.streamArn, shard.shardId, signal));
        } catch (error) {
          if (policy === OutOfRangeRecordPolicy.Skip) {
            throw new ShardlineError(
              `could not look up the hash key range of ${shard.shardId} of ${shard.streamArn} (${errorMessage(error)}), which outOfRangeRecordPolicy 'skip' needs; the batch is retried. Check the kinesis:ListShards permission.`,
              { retriable: true, cause: error },
            );
          }
          // Delivering needs no range: go on unchecked, and look it up again next invocation.
          logger.warn(
            { err: error, shardId: shard.shardId, streamArn: shard.streamArn },
            'could not look up the shard hash key range; KPL user records are not checked this invocation',
          );
        }
      }
    },
    decode(record: unknown, _event: StreamEvent, out: ChangeRecord[]): void {
      const lambdaRecord = record as KinesisLambdaRecord;
      const shard = shardOf(lambdaRecord);
      const hashKeyRange = shard ? ranges.get(shard.key) : undefined;
      for (const change of decodeKinesisLambdaRecord(lambdaRecord, { ...context, hashKeyRange })) {
        out.push(change);
      }
    },
    itemIdentifier,
  };
}

function itemIdentifier(record: unknown): string {
  return (record as KinesisLambdaRecord)?.kinesis?.sequenceNumber ?? '';
}

/** The stream and shard of a Lambda Kinesis record (`eventID` is `shardId-…:sequence`). */
function shardOf(
  record: Partial<KinesisLambdaRecord> | undefined,
): { key: string; streamArn: string; shardId: string } | undefined {
  const streamArn = record?.eventSourceARN;
  const eventId = record?.eventID;
  if (!streamArn || !eventId) return undefined;
  const colon = eventId.indexOf(':');
  const shardId = colon < 0 ? eventId : eventId.slice(0, colon);
  return { key: `${streamArn} ${shardId}`, streamArn, shardId };
}
