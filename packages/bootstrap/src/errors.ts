import { ShardlineError, type ShardlineErrorOptions } from '@shardline/core';

/**
 * A bootstrap stopped before every item was delivered: a page's records failed (or were held
 * back) and no failure destination took them. Its progress stays before that page, so the
 * next run with the same `bootstrapId` reads the page again.
 */
export class BootstrapIncompleteError extends ShardlineError {
  /** The part (`scan-<segment>` or `export-<file>`) that stopped. */
  readonly partId: string;

  constructor(partId: string, message: string, options: ShardlineErrorOptions = {}) {
    super(message, options);
    this.name = 'BootstrapIncompleteError';
    this.partId = partId;
  }
}
