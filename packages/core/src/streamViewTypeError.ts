import { StreamViewType } from './ChangeRecord.js';
import type { Sink } from './contracts.js';
import { ConfigurationError } from './errors.js';

/**
 * The error for a stream whose view type a sink cannot work with, or `undefined` when it can
 * (or when either side does not say). It names the table and stream, the view type found, the
 * one needed and the fix. A stream's view type cannot be changed in place: the stream is
 * disabled and a new one enabled (a new ARN; the old stream's records stay readable for 24
 * hours), which the fix spells out as commands.
 *
 * @param found the stream's view type (`DescribeStream`, or a Lambda record's `StreamViewType`)
 * @example
 * const error = streamViewTypeError(sink, 'NEW_IMAGE', source.streamId);
 * if (error) throw error;
 */
export function streamViewTypeError(
  sink: Pick<Sink, 'name' | 'requiredStreamViewTypes'>,
  found: StreamViewType | undefined,
  streamId: string,
): ConfigurationError | undefined {
  const needed = sink.requiredStreamViewTypes;
  if (!needed || needed.length === 0 || found === undefined || needed.includes(found)) {
    return undefined;
  }
  const table = /:table\/([^/]+)\/stream\//.exec(streamId)?.[1];
  const want = needed.includes(StreamViewType.NewAndOldImages)
    ? StreamViewType.NewAndOldImages
    : needed[0]!;
  const name = table ?? 'TABLE';
  return new ConfigurationError(
    `Sink ${sink.name} needs a stream with view type ${needed.join(' or ')}, but the stream ${
      table ? `of table ${table} ` : ''
    }(${streamId}) has ${found}. A stream's view type cannot be changed in place: disable the stream and enable a new one, aws dynamodb update-table --table-name ${name} --stream-specification StreamEnabled=false, then aws dynamodb update-table --table-name ${name} --stream-specification StreamEnabled=true,StreamViewType=${want}; read the new stream (DynamoDBStreamsSource.fromTable({ tableName: '${name}' }) finds it; the old stream's records stay readable for 24 hours).`,
  );
}
