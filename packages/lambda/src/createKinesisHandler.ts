import type { KinesisPayloadFormat } from '@shardline/kinesis';
import { kinesisEventDecoder } from './kinesisEventDecoder.js';
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
    kinesisEventDecoder({ payload: options.payload, orderingKey: options.orderingKey }),
  ]);
  return (event, context) => processor.handle(event, context);
}
