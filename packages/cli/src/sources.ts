import type { ShardSource } from '@shardline/core';
import type { AwsClients } from './CliContext.js';
import type { ResolvedStream } from './resolveStream.js';

/** Builds the reader of a resolved stream. */
export function openSource(_stream: ResolvedStream, _clients: AwsClients): ShardSource {
  throw new Error('not yet wired: waiting for the sources branch');
}
