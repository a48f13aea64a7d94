import type { Command } from 'commander';
import { explainAwsError } from '../awsErrors.js';
import type { CliContext } from '../CliContext.js';
import { ExitCode } from '../ExitCode.js';
import type { GlobalOptions, Wrap } from '../program.js';
import { resolveStream } from '../resolveStream.js';
import { shardTree, treePrefix } from '../shardTree.js';
import { openSource } from '../sources.js';

/** `shardline describe <table|stream-arn>`: the shards as a lineage tree. */
export function registerDescribe(program: Command, wrap: Wrap): void {
  program
    .command('describe')
    .description('show the shards of a stream as a lineage tree: open/closed, sequence ranges')
    .argument('<table|stream-arn>', 'a DynamoDB table name, or a DynamoDB or Kinesis stream ARN')
    .addHelpText(
      'after',
      `
Examples:
  $ shardline describe Votes
  $ shardline describe arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/2026-11-23T00:00:00.000
  $ shardline describe Votes --json | jq '.shards[] | select(.status == "open")'`,
    )
    .action(wrap(describeAction));
}

async function describeAction(
  context: CliContext,
  options: GlobalOptions,
  target: string,
): Promise<ExitCode> {
  const output = context.output(options.json);
  const stream = await resolveStream(target, context.clients);
  const source = openSource(stream, context.clients);
  output.progress(`listing shards of ${stream.streamArn}…`);
  let shards: Awaited<ReturnType<typeof source.listShards>>;
  try {
    shards = await source.listShards(context.signal);
  } catch (error) {
    throw explainAwsError(error, `stream ${stream.streamArn}`);
  }
  const nodes = shardTree(shards);
  const open = nodes.filter((n) => !n.closed).length;
  output.result(
    {
      streamArn: stream.streamArn,
      kind: stream.kind,
      tableName: stream.tableName,
      streamViewType: stream.streamViewType,
      shardCount: nodes.length,
      openShards: open,
      shards: nodes.map((n) => ({
        shardId: n.shard.shardId,
        parentShardIds: n.shard.parentShardIds,
        depth: n.depth,
        status: n.closed ? 'closed' : 'open',
        startingSequenceNumber: n.shard.startingSequenceNumber ?? null,
        endingSequenceNumber: n.shard.endingSequenceNumber ?? null,
        ...(n.shard.hashKeyRange ? { hashKeyRange: n.shard.hashKeyRange } : {}),
      })),
    },
    () => {
      output.line(`${output.paint('bold', 'Stream')}  ${stream.streamArn}`);
      output.line(
        `${output.paint('bold', 'Source')}  ${stream.kind === 'kinesis' ? 'Kinesis Data Streams' : `DynamoDB Streams, table ${stream.tableName}`}${stream.streamViewType ? `, ${stream.streamViewType}` : ''}`,
      );
      output.line(
        `${output.paint('bold', 'Shards')}  ${nodes.length} (${open} open, ${nodes.length - open} closed)`,
      );
      output.line();
      output.table(nodes, [
        { header: 'SHARD', value: (n) => treePrefix(n) + n.shard.shardId },
        {
          header: 'STATUS',
          value: (n) => (n.closed ? 'closed' : 'open'),
          color: (n) => (n.closed ? 'gray' : 'green'),
        },
        { header: 'FIRST SEQUENCE', value: (n) => n.shard.startingSequenceNumber ?? '-' },
        {
          header: 'LAST SEQUENCE',
          value: (n) => n.shard.endingSequenceNumber ?? (n.closed ? '-' : '(open)'),
        },
        {
          header: 'NOTE',
          value: (n) =>
            n.otherParentIds.length ? `merged with ${n.otherParentIds.join(', ')}` : '',
        },
      ]);
    },
  );
  return ExitCode.Ok;
}
