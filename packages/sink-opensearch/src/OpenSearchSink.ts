import type { Client } from '@opensearch-project/opensearch';
import {
  ChangeEffect,
  type ChangeRecord,
  ConfigurationError,
  type Item,
  type Metrics,
  noopMetrics,
  ShardlineError,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
} from '@shardline/core';
import {
  BOOTSTRAP_EXTERNAL_VERSION,
  DEFAULT_MAX_BULK_ACTIONS,
  DEFAULT_MAX_BULK_BYTES,
  MAX_EXTERNAL_VERSION,
} from './constants.js';
import { defaultDocumentId, fitDocumentId } from './documentId.js';
import { OpenSearchItemError, OpenSearchRecordError } from './errors.js';
import {
  defaultPrecision,
  externalVersion,
  type TimestampPrecision,
  versionType,
} from './externalVersion.js';
import { serializeDocument } from './serializeDocument.js';

/** A value given once for every record, or computed per record. */
export type PerRecord<T> = T | ((record: ChangeRecord) => T);

/** Options of an {@link OpenSearchSink}. */
export interface OpenSearchSinkOptions {
  /** The OpenSearch client, built and configured by the caller (auth, TLS, AWS SigV4). */
  readonly client: Client;
  /** The index to write to, or a function of the record. */
  readonly index: PerRecord<string>;
  /**
   * The document id. Defaults to the canonical primary key ({@link defaultDocumentId}); ids
   * over 512 bytes are replaced by their SHA-256.
   */
  readonly documentId?: (record: ChangeRecord) => string;
  /**
   * Turns the new image into the document for INSERT and MODIFY. Returning `null` skips the
   * record (nothing is written; a document indexed earlier stays). REMOVE always deletes.
   * @default the new image as it is
   */
  readonly transform?: (image: Item, record: ChangeRecord) => Record<string, unknown> | null;
  /** Custom routing per record (written to `routing`), e.g. a tenant id. */
  readonly routing?: (record: ChangeRecord) => string | undefined;
  /** Ingest pipeline per record (written to `pipeline`). */
  readonly pipeline?: PerRecord<string | undefined>;
  /**
   * The external version of a change. The default ({@link externalVersion}) derives a
   * monotonic 63-bit version from the creation time and the sequence number. A custom function
   * must return, for one document, a version that grows with every change and stays the same
   * when the same change is replayed, between 0 and 2^63 − 1.
   */
  readonly version?: (record: ChangeRecord) => bigint;
  /**
   * Precision of `ApproximateCreationDateTime` the default version keeps. Defaults per source
   * ({@link defaultPrecision}): `s` for DynamoDB Streams, `us` (every digit the record has) for
   * Kinesis Data Streams for DynamoDB.
   */
  readonly timestampPrecision?: TimestampPrecision;
  /** Most bytes in one `_bulk` body. @default 5 MiB ({@link DEFAULT_MAX_BULK_BYTES}) */
  readonly maxBulkBytes?: number;
  /** Most actions in one `_bulk` request. @default 1000 ({@link DEFAULT_MAX_BULK_ACTIONS}) */
  readonly maxBulkActions?: number;
  /** The `refresh` parameter of each `_bulk` request. @default false */
  readonly refresh?: boolean | 'wait_for';
  /** Counts version conflicts (`opensearch_version_conflicts_total`) and bulk requests. */
  readonly metrics?: Metrics;
}

/** An action ready for a `_bulk` body, with the record index it answers for. */
interface PreparedAction {
  readonly recordIndex: number;
  readonly index: string;
  readonly id: string;
  readonly text: string;
  readonly bytes: number;
}

interface BulkItemResult {
  readonly status: number;
  readonly error?: { readonly type?: string; readonly reason?: string };
}

const OK: SinkRecordResult = Object.freeze({ status: 'ok' });

/**
 * Keeps an OpenSearch index in sync with a DynamoDB table: INSERT and MODIFY index the new image
 * (optionally transformed), REMOVE deletes the document, all in `_bulk` requests bounded by
 * bytes and actions.
 *
 * Every action carries an external version (`version_type: external`) that grows with each
 * change of an item, so OpenSearch itself refuses an older change: a replayed batch, a change
 * that arrives late (Kinesis may reorder), or a stale index after a delete (OpenSearch keeps a
 * delete's version for `index.gc_deletes`, 60 s by default). Those refusals (409
 * `version_conflict_engine_exception`) count as success: the index already holds something
 * newer. Items refused with 429 or 5xx come back failed and retriable, so the pipeline retries
 * them with backoff; mapping errors and other 4xx come back failed and not retriable, so the
 * pipeline parks them in the failure destination with OpenSearch's reason.
 *
 * @example
 * const sink = new OpenSearchSink({
 *   client: new Client({ node: process.env.OPENSEARCH_URL }),
 *   index: 'products',
 *   transform: (item) => ({ name: item.name, price: item.price }),
 * });
 * const processor = new BatchProcessor({ sink, failureDestination });
 */
export class OpenSearchSink implements Sink {
  readonly name = 'opensearch';
  /**
   * The index holds each item's latest state, and external versions make OpenSearch refuse an
   * older change anyway: the pipeline may drop a stale change before the write.
   */
  readonly effect = ChangeEffect.LastWriterWins;
  readonly #client: Client;
  readonly #index: PerRecord<string>;
  readonly #documentId: (record: ChangeRecord) => string;
  readonly #transform: OpenSearchSinkOptions['transform'];
  readonly #routing: OpenSearchSinkOptions['routing'];
  readonly #pipeline: OpenSearchSinkOptions['pipeline'];
  readonly #version: OpenSearchSinkOptions['version'];
  readonly #precision: TimestampPrecision | undefined;
  readonly #maxBulkBytes: number;
  readonly #maxBulkActions: number;
  readonly #refresh: boolean | 'wait_for';
  readonly #metrics: Metrics;

  constructor(options: OpenSearchSinkOptions) {
    if (!options?.client || typeof options.client.bulk !== 'function') {
      throw new ConfigurationError(
        'OpenSearchSink needs `client`: pass `new Client({ node })` from @opensearch-project/opensearch.',
      );
    }
    if (
      typeof options.index !== 'function' &&
      !(typeof options.index === 'string' && options.index)
    ) {
      throw new ConfigurationError(
        `OpenSearchSink needs \`index\` (a name or a function of the record), got ${String(options.index)}.`,
      );
    }
    this.#maxBulkBytes = options.maxBulkBytes ?? DEFAULT_MAX_BULK_BYTES;
    this.#maxBulkActions = options.maxBulkActions ?? DEFAULT_MAX_BULK_ACTIONS;
    if (!Number.isInteger(this.#maxBulkBytes) || this.#maxBulkBytes < 1024) {
      throw new ConfigurationError(
        `maxBulkBytes must be a whole number of at least 1024, got ${String(options.maxBulkBytes)}; OpenSearch suggests 5–15 MiB.`,
      );
    }
    if (!Number.isInteger(this.#maxBulkActions) || this.#maxBulkActions < 1) {
      throw new ConfigurationError(
        `maxBulkActions must be a whole number of at least 1, got ${String(options.maxBulkActions)}.`,
      );
    }
    const precision = options.timestampPrecision;
    if (precision !== undefined && precision !== 's' && precision !== 'ms' && precision !== 'us') {
      throw new ConfigurationError(
        `timestampPrecision must be 's', 'ms' or 'us', got ${String(precision)}.`,
      );
    }
    this.#client = options.client;
    this.#index = options.index;
    this.#documentId = options.documentId ?? defaultDocumentId;
    this.#transform = options.transform;
    this.#routing = options.routing;
    this.#pipeline = options.pipeline;
    this.#version = options.version;
    this.#precision = precision;
    this.#refresh = options.refresh ?? false;
    this.#metrics = options.metrics ?? noopMetrics;
  }

  async write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]> {
    const results = new Array<SinkRecordResult>(records.length).fill(OK);
    const actions: PreparedAction[] = [];
    for (let i = 0; i < records.length; i++) {
      try {
        const action = this.#prepare(records[i]!, i);
        if (action) actions.push(action);
      } catch (error) {
        if (!(error instanceof ShardlineError)) throw error;
        results[i] = { status: 'failed', error, retriable: error.retriable };
      }
    }
    const chunks = this.#chunk(actions);
    let thrown: unknown;
    let chunksThrown = 0;
    for (const chunk of chunks) {
      try {
        await this.#send(chunk, results, context.signal);
      } catch (error) {
        // A request-level failure (network, 413, 5xx) fails the records of this request only;
        // other requests of the batch still go, since versions make their order irrelevant.
        thrown = error;
        chunksThrown++;
        const failure = requestFailure(error);
        for (const action of chunk) results[action.recordIndex] = failure;
      }
    }
    // Every request failed: report a whole-batch failure, so the pipeline bisects and retries.
    if (chunks.length > 0 && chunksThrown === chunks.length) throw requestError(thrown);
    return results;
  }

  /** Builds the bulk lines of one record, or `undefined` when the transform skips it. */
  #prepare(record: ChangeRecord, recordIndex: number): PreparedAction | undefined {
    if (record.eventName === 'RECORD') {
      throw new OpenSearchRecordError(
        `Record ${record.sequenceNumber} of shard ${record.shardId} is a plain Kinesis record, not a DynamoDB item change; OpenSearchSink indexes DynamoDB changes only.`,
      );
    }
    const index = typeof this.#index === 'function' ? this.#index(record) : this.#index;
    const id = fitDocumentId(this.#documentId(record));
    const version = this.#versionOf(record);
    const routing = this.#routing?.(record);
    const meta: Record<string, unknown> = { _index: index, _id: id };
    if (routing !== undefined) meta.routing = routing;
    let source: string | undefined;
    if (record.eventName !== 'REMOVE') {
      const image = record.newImage;
      if (!image) {
        throw new OpenSearchRecordError(
          `Record ${record.sequenceNumber} of shard ${record.shardId} (${record.eventName}) carries no new image; set the table's StreamViewType to NEW_IMAGE or NEW_AND_OLD_IMAGES.`,
        );
      }
      const document = this.#transform ? this.#transform(image, record) : image;
      if (document === null) return undefined;
      const pipeline =
        typeof this.#pipeline === 'function' ? this.#pipeline(record) : this.#pipeline;
      if (pipeline !== undefined) meta.pipeline = pipeline;
      source = serializeDocument(document);
    }
    // The version is spliced in as text: it exceeds 2^53, which a JS number cannot hold exactly.
    const header = JSON.stringify({ [source === undefined ? 'delete' : 'index']: meta });
    const type = this.#version || record.bootstrap ? 'external' : versionType(record);
    const text = `${header.slice(0, -2)},"version":${version},"version_type":"${type}"}}\n${
      source === undefined ? '' : `${source}\n`
    }`;
    const bytes = Buffer.byteLength(text);
    if (bytes > this.#maxBulkBytes) {
      throw new OpenSearchRecordError(
        `Document ${id} of record ${record.sequenceNumber} is ${bytes} bytes, over maxBulkBytes (${this.#maxBulkBytes}); raise maxBulkBytes or drop large fields in the transform.`,
      );
    }
    return { recordIndex, index, id, text, bytes };
  }

  #versionOf(record: ChangeRecord): bigint {
    // An item read by a bootstrap is older than every stream change of it: the lowest external
    // version, so OpenSearch writes it only where it holds nothing of the item (no document and
    // no delete it still remembers, see `index.gc_deletes`). Its read time would not do: a
    // change made in the same second after the read could lose to it.
    if (record.bootstrap && !this.#version) return BOOTSTRAP_EXTERNAL_VERSION;
    const version = this.#version
      ? this.#version(record)
      : externalVersion(record, this.#precision ?? defaultPrecision(record));
    if (version === undefined) {
      throw new OpenSearchRecordError(
        `Record ${record.sequenceNumber} of shard ${record.shardId} has no ApproximateCreationDateTime, which the default external version needs; pass a \`version\` function.`,
      );
    }
    if (typeof version !== 'bigint' || version < 0n || version > MAX_EXTERNAL_VERSION) {
      throw new OpenSearchRecordError(
        `The version of record ${record.sequenceNumber} is ${String(version)}; OpenSearch accepts bigint versions from 0 to ${MAX_EXTERNAL_VERSION}.`,
      );
    }
    return version;
  }

  /** Splits actions into requests within both bounds, keeping record order. */
  #chunk(actions: readonly PreparedAction[]): PreparedAction[][] {
    const chunks: PreparedAction[][] = [];
    let current: PreparedAction[] = [];
    let bytes = 0;
    for (const action of actions) {
      if (
        current.length > 0 &&
        (current.length >= this.#maxBulkActions || bytes + action.bytes > this.#maxBulkBytes)
      ) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(action);
      bytes += action.bytes;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  async #send(
    chunk: readonly PreparedAction[],
    results: SinkRecordResult[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let body = '';
    for (const action of chunk) body += action.text;
    this.#metrics.increment('opensearch_bulk_requests_total', 1);
    // A pre-serialized NDJSON string: the client's transport sends strings as they are.
    signal?.throwIfAborted();
    const request = this.#client.bulk({
      body: body as unknown as Parameters<Client['bulk']>[0]['body'],
      refresh: this.#refresh,
    });
    const abort = () => request.abort();
    signal?.addEventListener('abort', abort, { once: true });
    let response: Awaited<typeof request>;
    try {
      response = await request;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    const items = (response.body as { items?: Record<string, BulkItemResult>[] }).items ?? [];
    if (items.length !== chunk.length) {
      throw new ShardlineError(
        `OpenSearch answered ${items.length} items for ${chunk.length} bulk actions; the response cannot be matched to records.`,
        { retriable: true },
      );
    }
    let conflicts = 0;
    for (let i = 0; i < chunk.length; i++) {
      const action = chunk[i]!;
      const item = Object.values(items[i]!)[0];
      const status = item?.status ?? 500;
      if (status < 300 || status === 404) continue;
      if (status === 409) {
        // version_conflict_engine_exception: the index holds this change or a newer one.
        conflicts++;
        continue;
      }
      results[action.recordIndex] = {
        status: 'failed',
        retriable: status === 429 || status >= 500,
        error: new OpenSearchItemError(
          status,
          item?.error?.type ?? 'unknown',
          item?.error?.reason ?? 'no reason given',
          action.index,
          action.id,
        ),
      };
    }
    if (conflicts > 0) this.#metrics.increment('opensearch_version_conflicts_total', conflicts);
  }
}

function statusOf(error: unknown): number | undefined {
  const meta = (error as { meta?: { statusCode?: unknown } } | null)?.meta;
  return typeof meta?.statusCode === 'number' ? meta.statusCode : undefined;
}

/** Whether a whole `_bulk` request may succeed on retry: network errors, 408, 429, 5xx. */
function isRetriableRequest(error: unknown): boolean {
  const status = statusOf(error);
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

function requestError(error: unknown): ShardlineError {
  const status = statusOf(error);
  return new ShardlineError(
    `OpenSearch _bulk request failed${status === undefined ? '' : ` with HTTP ${status}`}: ${
      error instanceof Error ? error.message : String(error)
    }`,
    { cause: error, retriable: isRetriableRequest(error) },
  );
}

function requestFailure(error: unknown): SinkRecordResult {
  const wrapped = requestError(error);
  return { status: 'failed', error: wrapped, retriable: wrapped.retriable };
}
