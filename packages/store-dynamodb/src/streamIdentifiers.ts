import { ConfigurationError } from '@shardline/core';

// The forms a stream takes in the keys of a multi-stream lease table:
// - the stream ARN (Shardline's default before it knew the others);
// - the KCL's `<accountId>:<streamName>:<creationEpochSeconds>[:<region>]`
//   (`StreamIdentifier.serialize()` in KCL 2.3+);
// - the DynamoDB Streams Kinesis adapter's
//   `<accountId>:<region>$<accountId>$<tableName>$<streamLabel with : as _>:1`
//   (`KinesisMapperUtil.createKinesisStreamIdentifierFromDynamoDBStreamsArn`), which is also its
//   single-stream "stream name" without the leading account and trailing `:1`.

const KINESIS_ARN = /^arn:[\w-]+:kinesis:([-a-z0-9]+):(\d{12}):stream\/([^/:]+)$/;
const DYNAMODB_STREAM_ARN =
  /^arn:([\w-]+):dynamodb:([-a-z0-9]+):(\d{12}):table\/([^/]+)\/stream\/(.+)$/;
const KCL_IDENTIFIER = /^(\d+):([^:]+):(\d+)(?::([-a-z0-9]+))?$/;
const ADAPTER_IDENTIFIER = /^(\d{12}):([-a-z0-9]+)\$(\d{12})\$([^$]+)\$([^$:]+):1$/;

/**
 * The KCL's multi-stream identifier of a Kinesis stream, `<accountId>:<streamName>:<creationEpoch>`
 * (creation time in whole seconds, as `DescribeStreamSummary`'s `StreamCreationTimestamp`).
 * Lease keys are this identifier, a colon, and the shard id.
 *
 * @throws ConfigurationError when `streamArn` is not a Kinesis stream ARN.
 */
export function kclStreamIdentifier(streamArn: string, creationTime: Date): string {
  const m = KINESIS_ARN.exec(streamArn);
  if (!m) {
    throw new ConfigurationError(
      `kclStreamIdentifier needs a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME), got ${JSON.stringify(streamArn)}.`,
    );
  }
  return `${m[2]}:${m[3]}:${Math.floor(creationTime.getTime() / 1000)}`;
}

/**
 * The DynamoDB Streams Kinesis adapter's multi-stream identifier of a DynamoDB stream:
 * `<accountId>:<region>$<accountId>$<tableName>$<streamLabel>:1`, with the label's colons
 * written as underscores.
 *
 * @throws ConfigurationError when `streamArn` is not a DynamoDB stream ARN.
 */
export function streamsAdapterStreamIdentifier(streamArn: string): string {
  const m = DYNAMODB_STREAM_ARN.exec(streamArn);
  if (!m) {
    throw new ConfigurationError(
      `streamsAdapterStreamIdentifier needs a DynamoDB stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL), got ${JSON.stringify(streamArn)}.`,
    );
  }
  const [, , region, account, table, label] = m;
  return `${account}:${region}$${account}$${table}$${label!.replace(/:/g, '_')}:1`;
}

/**
 * Which of `streams` (stream ARNs) a lease-key identifier names, in any of the three forms: the
 * ARN itself, the KCL's (same account and stream name; the region too when the identifier has
 * one), or the Streams adapter's (the same table and label). `undefined` when none matches.
 *
 * The KCL's creation epoch tells a stream from an earlier one of the same name; an ARN does not
 * carry it, so `creationEpochs` (seconds, by ARN) is checked where known.
 */
export function streamForIdentifier(
  identifier: string,
  streams: readonly string[],
  creationEpochs: ReadonlyMap<string, number> = new Map(),
): string | undefined {
  if (streams.includes(identifier)) return identifier;
  // The adapter's form also fits the KCL's pattern: try it first.
  const adapter = ADAPTER_IDENTIFIER.exec(identifier);
  if (adapter) {
    return streams.find(
      (arn) => DYNAMODB_STREAM_ARN.test(arn) && streamsAdapterStreamIdentifier(arn) === identifier,
    );
  }
  const kcl = KCL_IDENTIFIER.exec(identifier);
  if (kcl) {
    const [, account, name, epoch, region] = kcl;
    return streams.find((arn) => {
      const m = KINESIS_ARN.exec(arn);
      if (!m || m[2] !== account || m[3] !== name) return false;
      if (region !== undefined && m[1] !== region) return false;
      const known = creationEpochs.get(arn);
      return known === undefined || String(known) === epoch;
    });
  }
  return undefined;
}
