import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisSource, type KinesisSourceOptions } from './KinesisSource.js';
import type { HashKeyRange } from './outOfRangeRecords.js';

/**
 * Gives the hash key range of a stream's shard, `undefined` when the stream does not list it.
 * A Lambda Kinesis event does not carry it; the handler needs it to find KPL user records that
 * hash outside their shard (see `outOfRangeRecordPolicy`).
 */
export type ShardHashKeyRangeLookup = (
  streamArn: string,
  shardId: string,
  signal?: AbortSignal,
) => Promise<HashKeyRange | undefined>;

/**
 * A {@link ShardHashKeyRangeLookup} over ListShards (paged, paced, throttling retried, as the
 * {@link KinesisSource} lists): a stream is listed once, and again only when asked for a shard
 * the last listing did not have (one created by a reshard since). Ranges never change for a
 * shard id, so a cached one stays right. Needs `kinesis:ListShards` on the stream, which is
 * named by its name: the client's account must own it.
 *
 * @example
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * export const handler = createKinesisHandler({
 *   outOfRangeRecordPolicy: 'skip',
 *   hashKeyRanges: shardHashKeyRanges(new KinesisClient({})),
 *   handler,
 * });
 */
export function shardHashKeyRanges(
  client: KinesisClient,
  options: Omit<KinesisSourceOptions, 'client' | 'streamArn' | 'streamName'> = {},
): ShardHashKeyRangeLookup {
  const streams = new Map<string, Map<string, HashKeyRange | undefined>>();
  const listings = new Map<string, Promise<void>>();
  const list = (streamArn: string, signal?: AbortSignal): Promise<void> => {
    let listing = listings.get(streamArn);
    if (!listing) {
      // One listing at a time per stream: concurrent misses share it.
      listing = (async () => {
        // Named by StreamName (the ARN's last part), which every Kinesis API and emulator takes;
        // the client's account must own the stream, as it does for a Lambda's own mapping.
        const streamName = streamArn.slice(streamArn.indexOf(':stream/') + ':stream/'.length);
        const source = new KinesisSource({ ...options, client, streamArn, streamName });
        const shards = new Map<string, HashKeyRange | undefined>();
        for (const shard of await source.listShards(signal)) {
          shards.set(shard.shardId, shard.hashKeyRange);
        }
        streams.set(streamArn, shards);
      })().finally(() => listings.delete(streamArn));
      listings.set(streamArn, listing);
    }
    return listing;
  };
  return async (streamArn, shardId, signal) => {
    if (!streams.get(streamArn)?.has(shardId)) await list(streamArn, signal);
    return streams.get(streamArn)?.get(shardId);
  };
}
