import { dynamoDBEventDecoder } from './dynamoDBEventDecoder.js';
import { LambdaStreamProcessor } from './LambdaStreamProcessor.js';
import type { LambdaHandlerOptions, StreamHandler, WindowState } from './types.js';

/** Options of {@link createDynamoDBHandler}. */
export type DynamoDBHandlerOptions<S extends WindowState = WindowState> = LambdaHandlerOptions<S>;

/**
 * A Lambda handler for DynamoDB Streams event source mappings only. Import it from
 * `@shardline/lambda/dynamodb` to keep the Kinesis and KPL decoding code out of the bundle.
 *
 * @example
 * import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
 * export const handler = createDynamoDBHandler({
 *   handler: async (record) => { await index(record.keys, record.newImage); },
 * });
 */
export function createDynamoDBHandler<S extends WindowState = WindowState>(
  options: DynamoDBHandlerOptions<S>,
): StreamHandler<S> {
  const processor = new LambdaStreamProcessor<S>(options, [
    dynamoDBEventDecoder({ orderingKey: options.orderingKey }),
  ]);
  return (event, context) => processor.handle(event, context);
}
