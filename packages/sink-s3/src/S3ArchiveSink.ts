import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ChangeEffect,
  type ChangeRecord,
  ConfigurationError,
  errorMessage,
  isRetriable,
  type Logger,
  ShardlineError,
  type Sink,
  type SinkContext,
  type SinkRecordResult,
  silentLogger,
  toError,
} from '@shardline/core';
import {
  keyPosition,
  objectKey,
  parseObjectRange,
  partitionPath,
  shardFolder,
} from './objectKeys.js';
import { stringifyArchiveValue, toArchiveLine } from './toArchiveLine.js';

const gzip = promisify(gzipCallback);

/** Options of an {@link S3ArchiveSink}. */
export interface S3ArchiveSinkOptions {
  /** The S3 client, built and owned by the caller (`new S3Client({})`). */
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix, e.g. `cdc/` (empty or ending with `/`). @default '' */
  readonly prefix?: string;
  /** Table name for changes whose source does not say (plain Kinesis records). @default 'unknown' */
  readonly defaultTable?: string;
  /** Most lines per object; larger groups are split. @default DEFAULT_MAX_RECORDS_PER_OBJECT */
  readonly maxRecordsPerObject?: number;
  /** Most uncompressed bytes per object; larger groups are split. @default DEFAULT_MAX_OBJECT_BYTES */
  readonly maxObjectBytes?: number;
  /** Multipart part size for large objects, in bytes (≥ 5 MiB). @default DEFAULT_PART_SIZE */
  readonly partSize?: number;
  /**
   * Before writing, list the shard's objects in each partition and skip changes an object
   * already covers, so a replay writes nothing twice. `false` saves the LIST request at the
   * cost of duplicate lines on replay. @default true
   */
  readonly skipArchived?: boolean;
  /** Name for logs and metrics. @default 's3-archive' */
  readonly name?: string;
  readonly logger?: Logger;
}

/** Default of {@link S3ArchiveSinkOptions.maxRecordsPerObject}. */
export const DEFAULT_MAX_RECORDS_PER_OBJECT = 10_000;
/** Default of {@link S3ArchiveSinkOptions.maxObjectBytes}: 64 MiB uncompressed. */
export const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;
/** Default of {@link S3ArchiveSinkOptions.partSize}: 8 MiB. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Marks where a record that could not be archived sat in a group: objects never span it. */
const BARRIER: Line = Object.freeze({ index: -1, position: '', text: '' });

interface Line {
  readonly index: number;
  readonly position: string;
  readonly text: string;
}

/**
 * Archives changes to S3 for Athena: gzip JSON Lines under Hive-style partitions
 * `table=<t>/dt=<yyyy-mm-dd>/hour=<hh>/<shardId>/<first>-<last>.jsonl.gz`.
 *
 * Keys are deterministic: shard id and the first and last positions (zero-padded sequence
 * numbers) of the object's changes. A record is acknowledged only once its object is stored, so
 * objects are cut at write boundaries: a write's changes of one shard and partition become one
 * object, split by `maxRecordsPerObject` and `maxObjectBytes`. Before writing, the sink lists
 * the shard's objects of the partition and skips changes whose position an object's range
 * already covers, so a replayed batch, one redelivered from any record, or one split
 * differently writes nothing twice (see the README for exactly when this holds).
 *
 * @example
 * const sink = new S3ArchiveSink({ client: new S3Client({}), bucket: 'cdc-archive', prefix: 'votes/' });
 */
export class S3ArchiveSink implements Sink {
  readonly name: string;
  /** An archive keeps every change: none is dropped as stale. */
  readonly effect = ChangeEffect.EveryChange;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #defaultTable: string;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #partSize: number;
  readonly #skipArchived: boolean;
  readonly #logger: Logger;

  constructor(options: S3ArchiveSinkOptions) {
    if (!options?.client) {
      throw new ConfigurationError(
        'S3ArchiveSink needs an S3 client: pass client: new S3Client({}).',
      );
    }
    if (typeof options.bucket !== 'string' || options.bucket.length < 3) {
      throw new ConfigurationError(
        `bucket must be an S3 bucket name (3+ characters), got ${JSON.stringify(options.bucket)}.`,
      );
    }
    this.#prefix = options.prefix ?? '';
    if (this.#prefix !== '' && !this.#prefix.endsWith('/')) {
      throw new ConfigurationError(
        `prefix must be empty or end with "/", got ${JSON.stringify(this.#prefix)}; use ${JSON.stringify(`${this.#prefix}/`)}.`,
      );
    }
    this.#maxRecords = options.maxRecordsPerObject ?? DEFAULT_MAX_RECORDS_PER_OBJECT;
    if (!Number.isInteger(this.#maxRecords) || this.#maxRecords < 1) {
      throw new ConfigurationError(
        `maxRecordsPerObject must be a whole number of at least 1, got ${String(options.maxRecordsPerObject)}.`,
      );
    }
    this.#maxBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    if (!(this.#maxBytes >= 1)) {
      throw new ConfigurationError(
        `maxObjectBytes must be at least 1, got ${String(options.maxObjectBytes)}.`,
      );
    }
    this.#partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!(this.#partSize >= MIN_PART_SIZE)) {
      throw new ConfigurationError(
        `partSize must be at least 5 MiB (${MIN_PART_SIZE}), S3's smallest multipart part, got ${String(options.partSize)}.`,
      );
    }
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#defaultTable = options.defaultTable ?? 'unknown';
    this.#skipArchived = options.skipArchived ?? true;
    this.name = options.name ?? 's3-archive';
    this.#logger = options.logger ?? silentLogger;
  }

  /** Writes the batch's objects; a record is ok once the object holding it is stored. */
  async write(records: readonly ChangeRecord[], context: SinkContext): Promise<SinkRecordResult[]> {
    const results = new Array<SinkRecordResult>(records.length).fill({ status: 'ok' });
    // Group by folder (prefix, partition, shard), keeping stream order within each group.
    const groups = new Map<string, Line[]>();
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      let folder: string;
      let line: Line;
      try {
        folder = shardFolder(
          this.#prefix,
          partitionPath(record.tableName ?? this.#defaultTable, record.approximateCreationTimeMs),
          record.shardId,
        );
        line = {
          index,
          position: keyPosition(record.sequenceNumber, record.subSequenceNumber),
          text: stringifyArchiveValue(toArchiveLine(record)),
        };
      } catch (error) {
        // An image that cannot be decoded fails the same way every time.
        results[index] = {
          status: 'failed',
          error: new ShardlineError(
            `Cannot archive record ${record.sequenceNumber} of shard ${record.shardId}: ${errorMessage(error)}`,
            { cause: error, retriable: false },
          ),
          retriable: false,
        };
        // An object's range must never span a record it does not hold: end the shard's runs.
        const shardSuffix = `/${encodeURIComponent(record.shardId)}/`;
        for (const [folder, group] of groups) if (folder.endsWith(shardSuffix)) group.push(BARRIER);
        continue;
      }
      let group = groups.get(folder);
      if (!group) {
        group = [];
        groups.set(folder, group);
      }
      group.push(line);
    }
    await Promise.all(
      [...groups].map(async ([folder, lines]) => {
        await this.#writeFolder(folder, lines, results, context.signal);
      }),
    );
    return results;
  }

  /** Nothing is held between writes: every write stores its objects before it returns. */
  async flush(): Promise<void> {}

  async #writeFolder(
    folder: string,
    lines: Line[],
    results: SinkRecordResult[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (lines.every((l) => l === BARRIER)) return;
    let pending = lines.filter((l) => l !== BARRIER);
    if (this.#skipArchived) {
      try {
        const ranges = await this.#listRanges(folder, signal);
        pending = pending.filter(
          (l) => !ranges.some((r) => r.first <= l.position && l.position <= r.last),
        );
      } catch (error) {
        this.#fail(pending, error, results, `LIST ${folder}`);
        return;
      }
    }
    for (const chunk of this.#chunks(lines, pending)) {
      const key = objectKey(folder, chunk[0]!.position, chunk.at(-1)!.position);
      try {
        const body = await gzip(Buffer.from(`${chunk.map((l) => l.text).join('\n')}\n`));
        await new Upload({
          client: this.#client,
          params: {
            Bucket: this.#bucket,
            Key: key,
            Body: body,
            ContentType: 'application/gzip',
          },
          partSize: this.#partSize,
          abortController: abortControllerFor(signal),
        }).done();
      } catch (error) {
        this.#fail(chunk, error, results, `PUT ${key}`);
      }
    }
  }

  /**
   * Splits the pending lines into objects: by count and size, and at every archived or
   * missing line in between, so an object's range holds every line of the group inside it.
   */
  *#chunks(all: Line[], pending: Line[]): Generator<Line[]> {
    const wanted = new Set(pending);
    let chunk: Line[] = [];
    let bytes = 0;
    for (const line of all) {
      if (!wanted.has(line)) {
        if (chunk.length) yield chunk;
        chunk = [];
        bytes = 0;
        continue;
      }
      const size = Buffer.byteLength(line.text) + 1;
      if (chunk.length > 0 && (chunk.length >= this.#maxRecords || bytes + size > this.#maxBytes)) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(line);
      bytes += size;
    }
    if (chunk.length) yield chunk;
  }

  async #listRanges(
    folder: string,
    signal: AbortSignal | undefined,
  ): Promise<{ first: string; last: string }[]> {
    const ranges: { first: string; last: string }[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: folder,
          ContinuationToken: token,
        }),
        { abortSignal: signal },
      );
      for (const object of page.Contents ?? []) {
        const range = object.Key ? parseObjectRange(object.Key) : undefined;
        if (range) ranges.push(range);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return ranges;
  }

  #fail(lines: Line[], error: unknown, results: SinkRecordResult[], what: string): void {
    const cause = toError(error);
    this.#logger.warn({ bucket: this.#bucket, err: cause }, `${what} failed`);
    const retriable = isRetriable(error);
    const failed: SinkRecordResult = {
      status: 'failed',
      error: new ShardlineError(`S3 ${what} in ${this.#bucket} failed: ${errorMessage(error)}`, {
        cause,
        retriable,
      }),
      retriable,
    };
    for (const line of lines) results[line.index] = failed;
  }
}

function abortControllerFor(signal: AbortSignal | undefined): AbortController | undefined {
  if (!signal) return undefined;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  return controller;
}
