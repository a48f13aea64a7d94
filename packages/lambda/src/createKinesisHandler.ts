import type {
  KinesisPayloadFormat,
  OutOfRangeRecordPolicy,
  ShardHashKeyRangeLookup,
} from '@shardline/kinesis';
import { type KinesisEventDecoderOptions, kinesisEventDecoder } from './kinesisEventDecoder.js';
import { LambdaStreamProcessor } from './LambdaStreamProcessor.js';
import type { LambdaHandlerOptions, StreamHandler, WindowState } from './types.js';

/** Options of {@link createKinesisHandler}. */
export interface KinesisHandlerOptions<S extends WindowState = WindowState>
  extends LambdaHandlerOptions<S> {
  /**
   * How to read `kinesis.data`: `raw` bytes (`record.data`), `json` (`record.newImage`), or
   * `dynamodb` for "Kinesis Data Streams for DynamoDB" change records (keys and images).
   * @default 'raw'
   */
  readonly payload?: KinesisPayloadFormat;
  /**
   * What to do with a KPL user record that hashes outside its shard (its aggregate was put with
   * an outdated shard map, after a reshard). Each one is reported: the `record.outOfRange`
   * event, the `kpl_user_records_out_of_range_total` metric and a warning. `deliver` (the
   * default) processes it: only the KPL puts such a record again to the right shard (then it
   * arrives twice), another aggregator does not, and dropping it would lose a change. `skip`
   * drops it, as the KCL does: right when every producer is the KPL. Checked only with
   * `hashKeyRanges`, since a Lambda event does not carry the shard's range; `skip` needs it.
   * @default 'deliver'
   */
  readonly outOfRangeRecordPolicy?: OutOfRangeRecordPolicy;
  /**
   * Where the shard's hash key range comes from: `shardHashKeyRanges(new KinesisClient({}))`
   * of `@shardline/kinesis` (ListShards once per shard and execution environment; needs
   * `kinesis:ListShards`). Without it, KPL user records are not checked against the range.
   */
  readonly hashKeyRanges?: ShardHashKeyRangeLookup;
}

/** The Kinesis decoder options a handler's options give. */
export function kinesisDecoderOptionsOf<S extends WindowState>(
  options: KinesisHandlerOptions<S>,
): KinesisEventDecoderOptions {
  return {
    payload: options.payload,
    orderingKey: options.orderingKey,
    outOfRangeRecordPolicy: options.outOfRangeRecordPolicy,
    hashKeyRanges: options.hashKeyRanges,
    events: options.events,
    metrics: options.metrics,
    logger: options.logger,
  };
}

/**
 * A Lambda handler for Kinesis event source mappings only (plain records, KPL aggregates,
 * "Kinesis Data Streams for DynamoDB").
 *
 * @example
 * import { createKinesisHandler } from '@shardline/lambda/kinesis';
 * export const handler = createKinesisHandler({
 *   payload: 'dynamodb',
 *   handler: async (record) => { await project(record.keys, record.newImage); },
 * });
 */
export function createKinesisHandler<S extends WindowState = WindowState>(
  options: KinesisHandlerOptions<S>,
): StreamHandler<S> {
  const processor = new LambdaStreamProcessor<S>(options, [
    kinesisEventDecoder(kinesisDecoderOptionsOf(options)),
  ]);
  return (event, context) => processor.handle(event, context);
}
