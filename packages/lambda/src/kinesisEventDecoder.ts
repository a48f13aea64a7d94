import type { ChangeRecord } from '@shardline/core';
import {
  decodeKinesisLambdaRecord,
  type KinesisLambdaRecord,
  KinesisPayloadFormat,
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
}

/**
 * The decoder of Lambda Kinesis records (`eventSource: aws:kinesis`): base64 payloads, KPL
 * aggregates (one change record per user record, all with the aggregate's sequence number, so
 * the aggregate is reported as a whole), and "Kinesis Data Streams for DynamoDB" payloads.
 */
export function kinesisEventDecoder(options: KinesisEventDecoderOptions = {}): EventDecoder {
  const context = {
    payload: options.payload ?? KinesisPayloadFormat.Raw,
    ...(options.orderingKey ? { orderingKey: options.orderingKey } : {}),
  };
  return {
    eventSource: LambdaEventSource.Kinesis,
    decode(record: unknown, _event: StreamEvent, out: ChangeRecord[]): void {
      for (const change of decodeKinesisLambdaRecord(record as KinesisLambdaRecord, context)) {
        out.push(change);
      }
    },
    itemIdentifier(record: unknown): string {
      return (record as KinesisLambdaRecord)?.kinesis?.sequenceNumber ?? '';
    },
  };
}
