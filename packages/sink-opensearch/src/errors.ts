import { ShardlineError } from '@shardline/core';

/**
 * OpenSearch refused one item of a `_bulk` request. `retriable` is true for 429 (the write queue
 * is full) and 5xx; false for 4xx such as `mapper_parsing_exception`, which fail the same way
 * again until the mapping or the document changes.
 */
export class OpenSearchItemError extends ShardlineError {
  /** The item's HTTP status. */
  readonly status: number;
  /** OpenSearch's error type, e.g. `mapper_parsing_exception`. */
  readonly type: string;
  readonly index: string;
  readonly documentId: string;

  constructor(status: number, type: string, reason: string, index: string, documentId: string) {
    const retriable = status === 429 || status >= 500;
    super(
      `OpenSearch refused document ${documentId} of index ${index} with ${status} ${type}: ${reason}${
        retriable
          ? ' (transient: retried with backoff)'
          : '. Fix the index mapping or the transform; the record goes to the failure destination.'
      }`,
      { retriable },
    );
    this.name = 'OpenSearchItemError';
    this.status = status;
    this.type = type;
    this.index = index;
    this.documentId = documentId;
  }
}

/** A record cannot become an OpenSearch action (no new image, bad version, oversize document). */
export class OpenSearchRecordError extends ShardlineError {
  constructor(message: string) {
    super(message, { retriable: false });
    this.name = 'OpenSearchRecordError';
  }
}
