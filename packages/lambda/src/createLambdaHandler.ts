import { type KinesisHandlerOptions, kinesisDecoderOptionsOf } from './createKinesisHandler.js';
import { dynamoDBEventDecoder } from './dynamoDBEventDecoder.js';
import { kinesisEventDecoder } from './kinesisEventDecoder.js';
import { LambdaStreamProcessor } from './LambdaStreamProcessor.js';
import type { StreamHandler, WindowState } from './types.js';

/** Options of {@link createLambdaHandler}: `payload` applies to Kinesis events only. */
export type LambdaStreamHandlerOptions<S extends WindowState = WindowState> =
  KinesisHandlerOptions<S>;

/**
 * A Lambda handler for DynamoDB Streams and Kinesis event source mappings: the event kind is
 * read from each record's `eventSource` (`aws:dynamodb`, `aws:kinesis`).
 *
 * Records run through core's pipeline: de-duplication (remembered across warm invocations),
 * serial per ordering key and concurrent across keys, retries with backoff bounded by the
 * remaining time, then the failure destination (`park`) or a blocked key (`block`). The answer
 * reports the single lowest sequence number that is not done, so Lambda's checkpoint moves
 * exactly to the first unfinished record.
 *
 * A function that reads only DynamoDB Streams gets a smaller bundle from
 * `createDynamoDBHandler` (`@shardline/lambda/dynamodb`).
 *
 * @example
 * import { createLambdaHandler } from '@shardline/lambda';
 * export const handler = createLambdaHandler({
 *   handler: async (record) => { await apply(record); },
 *   concurrency: 16,
 *   retry: { maxAttempts: 5 },
 *   failureDestination,
 * });
 */
export function createLambdaHandler<S extends WindowState = WindowState>(
  options: LambdaStreamHandlerOptions<S>,
): StreamHandler<S> {
  const processor = new LambdaStreamProcessor<S>(options, [
    dynamoDBEventDecoder({ orderingKey: options.orderingKey }),
    kinesisEventDecoder(kinesisDecoderOptionsOf(options)),
  ]);
  return (event, context) => processor.handle(event, context);
}
