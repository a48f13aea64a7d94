import type { Client } from '@opensearch-project/opensearch';
import type { Item } from '@shardline/core';
import { OpenSearchSink } from '@shardline/sink-opensearch';

/** The document of a user in the index: the item's attributes, as they are in the table. */
export function userDocument(item: Item): Record<string, unknown> {
  return { UserID: item.UserID, UserName: item.UserName, Email: item.Email };
}

/** Options of {@link createUserSearchSink}. */
export interface UserSearchSinkOptions {
  readonly client: Client;
  readonly index: string;
  /** Make writes searchable before `write` returns (tests, small tables). @default false */
  readonly refresh?: boolean;
  /** A fixed version for every write: the backfill's (see `backfillVersion`). */
  readonly version?: bigint;
}

/**
 * The sink of this recipe, shared by the worker, the Lambda handler and the backfill. Document id
 * = the canonical primary key, so the stream and the backfill address the same document.
 * Stream changes carry the sink's derived external version (creation time, then sequence number);
 * the backfill passes one fixed version, lower than any change made after it began.
 */
export function createUserSearchSink(options: UserSearchSinkOptions): OpenSearchSink {
  const fixed = options.version;
  return new OpenSearchSink({
    client: options.client,
    index: options.index,
    transform: (item) => userDocument(item),
    ...(options.refresh ? { refresh: true } : {}),
    ...(fixed !== undefined ? { version: () => fixed } : {}),
  });
}
