import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, gzip as gzipCallback } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
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
  minutePrefix,
  objectKey,
  parseObjectRange,
  partitionPath,
  shardFolder,
} from './objectKeys.js';
import { stringifyArchiveValue, toArchiveLine } from './toArchiveLine.js';

const gzip = promisify(gzipCallback);
const gunzip = promisify(gunzipCallback);

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
   * Before writing, list the folder's objects of each minute written to, read those that may
   * hold one of the write's changes (once per sink), and skip the changes they hold, so a replay
   * writes nothing twice. `false` saves the LIST and GET requests at the cost of duplicate lines
   * on replay. @default true
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
/** Archive objects read at once while checking what a write's changes already have. */
const READ_CONCURRENCY = 8;
/**
 * Positions of archive objects a sink remembers, so it reads each object at most once while the
 * entry lasts: about 12 MB at 64-digit positions. Oldest objects are dropped first.
 */
const HELD_POSITIONS_CAPACITY = 100_000;

interface Line {
  readonly index: number;
  readonly position: string;
  readonly text: string;
}

/**
 * Archives changes to S3 for Athena: gzip JSON Lines under Hive-style partitions
 * `table=<t>/dt=<yyyy-mm-dd>/hour=<hh>/<shardId>/m<mm>-<first>-<last>-<tag>.jsonl.gz`.
 *
 * Keys are deterministic: shard id, the minute, the lowest and highest positions (zero-padded
 * sequence numbers) of the object's changes and a digest of all its positions. A record is
 * acknowledged only once its object is stored, so objects are cut at write boundaries: a write's
 * changes of one shard folder and minute become one object, split by `maxRecordsPerObject` and
 * `maxObjectBytes`. Before writing, the sink lists the folder's objects of that minute whose
 * range may hold one of the write's positions, reads the ones it has not read before, and skips
 * every change an object holds. So a replayed batch, one redelivered from any record or split
 * differently, or one written while other writers fill the same folder (Lambda names no shard,
 * ParallelizationFactor runs several batches of a shard at once) writes nothing twice; see the
 * README for exactly when this holds and what it costs.
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
  readonly #held = new HeldPositionsCache(HELD_POSITIONS_CAPACITY);

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
    // Group by folder (prefix, partition, shard) and minute, keeping stream order in each group.
    const groups = new Map<string, Line[]>();
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      let folder: string;
      let line: Line;
      try {
        folder = minutePrefix(
          shardFolder(
            this.#prefix,
            partitionPath(record.tableName ?? this.#defaultTable, record.approximateCreationTimeMs),
            record.shardId,
          ),
          record.approximateCreationTimeMs,
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
    // A position given twice in one write is archived once; the repeat shares its result.
    const unique: Line[] = [];
    const repeats: [repeat: Line, first: Line][] = [];
    const byPosition = new Map<string, Line>();
    for (const line of lines) {
      const first = byPosition.get(line.position);
      if (first) repeats.push([line, first]);
      else {
        byPosition.set(line.position, line);
        unique.push(line);
      }
    }
    try {
      let pending = unique;
      if (this.#skipArchived) {
        try {
          const held = await this.#heldPositions(folder, unique, signal);
          pending = unique.filter((l) => !held.some((positions) => positions.has(l.position)));
        } catch (error) {
          this.#fail(unique, error, results, `LIST/GET ${folder}`);
          return;
        }
      }
      for (const chunk of this.#chunks(pending)) {
        const positions = chunk.map((l) => l.position);
        let first = positions[0]!;
        let last = first;
        for (const position of positions) {
          if (position < first) first = position;
          if (position > last) last = position;
        }
        const key = objectKey(folder, first, last, positionsTag(positions));
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
          if (this.#skipArchived) this.#held.set(key, new Set(positions));
        } catch (error) {
          this.#fail(chunk, error, results, `PUT ${key}`);
        }
      }
    } finally {
      for (const [repeat, first] of repeats) results[repeat.index] = results[first.index]!;
    }
  }

  /** Splits the pending lines into objects by count and size, keeping their order. */
  *#chunks(pending: Line[]): Generator<Line[]> {
    let chunk: Line[] = [];
    let bytes = 0;
    for (const line of pending) {
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

  /**
   * The position sets of the folder's objects that may hold one of `lines`: those whose key
   * range contains one of their positions. Each is read once (GET) and then remembered; an
   * object's key range alone proves nothing, since with Lambda (shard id `unknown`, several
   * batches of a shard at once under ParallelizationFactor) other writers' changes interleave
   * inside it.
   */
  async #heldPositions(
    folder: string,
    lines: readonly Line[],
    signal: AbortSignal | undefined,
  ): Promise<ReadonlySet<string>[]> {
    const wanted = lines.map((l) => l.position).sort();
    const candidates = (await this.#listRanges(folder, wanted.at(-1)!, signal)).filter((range) =>
      containsAny(wanted, range.first, range.last),
    );
    const held: ReadonlySet<string>[] = [];
    let next = 0;
    const reader = async () => {
      while (next < candidates.length) {
        const { key } = candidates[next++]!;
        let positions = this.#held.get(key);
        if (!positions) {
          positions = await this.#readPositions(key, signal);
          this.#held.set(key, positions);
        }
        held.push(positions);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(READ_CONCURRENCY, candidates.length) }, reader),
    );
    return held;
  }

  /** The positions of the lines an archive object holds (read back from S3). */
  async #readPositions(key: string, signal: AbortSignal | undefined): Promise<Set<string>> {
    const object = await this.#client.send(
      new GetObjectCommand({ Bucket: this.#bucket, Key: key }),
      { abortSignal: signal },
    );
    const text = (await gunzip(await object.Body!.transformToByteArray())).toString('utf8');
    const positions = new Set<string>();
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const parsed = JSON.parse(line) as { sequenceNumber: string; subSequenceNumber?: number };
      positions.add(keyPosition(parsed.sequenceNumber, parsed.subSequenceNumber));
    }
    return positions;
  }

  /**
   * The objects under `folder` (a minute prefix) and their ranges, up to the first whose range
   * starts after `highest`: keys list in position order, so no later one can hold a position
   * at or below it.
   */
  async #listRanges(
    folder: string,
    highest: string,
    signal: AbortSignal | undefined,
  ): Promise<{ key: string; first: string; last: string }[]> {
    const ranges: { key: string; first: string; last: string }[] = [];
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
        if (!range) continue;
        if (range.first > highest) return ranges;
        ranges.push({ key: object.Key!, ...range });
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

/** Whether sorted `positions` has one within [first, last]. */
function containsAny(positions: readonly string[], first: string, last: string): boolean {
  let low = 0;
  let high = positions.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (positions[mid]! < first) low = mid + 1;
    else high = mid;
  }
  return low < positions.length && positions[low]! <= last;
}

/** A short digest of an object's positions, in its key: equal only for the same changes. */
function positionsTag(positions: readonly string[]): string {
  return createHash('sha256').update(positions.join(',')).digest('hex').slice(0, 12);
}

/**
 * Remembers the position sets of archive objects (immutable once written), oldest dropped first
 * once more than `capacity` positions are kept.
 */
class HeldPositionsCache {
  readonly #entries = new Map<string, ReadonlySet<string>>();
  #size = 0;

  constructor(readonly capacity: number) {}

  get(key: string): ReadonlySet<string> | undefined {
    return this.#entries.get(key);
  }

  set(key: string, positions: ReadonlySet<string>): void {
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#size -= old.size;
    }
    this.#entries.set(key, positions);
    this.#size += positions.size;
    for (const [oldest, set] of this.#entries) {
      if (this.#size <= this.capacity || oldest === key) break;
      this.#entries.delete(oldest);
      this.#size -= set.size;
    }
  }
}

function abortControllerFor(signal: AbortSignal | undefined): AbortController | undefined {
  if (!signal) return undefined;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  return controller;
}
