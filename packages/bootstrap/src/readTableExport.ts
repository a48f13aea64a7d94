import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  bootstrapRecord,
  type ChangeRecord,
  ConfigurationError,
  type MarshalledItem,
  wholeNumberIn,
} from '@shardline/core';
import { DynamoDBBootstrapStore } from '@shardline/store-dynamodb';
import {
  type BootstrapCommonOptions,
  type BootstrapResult,
  createDelivery,
  openRun,
  orderedKeySchema,
  progressStore,
  RunCounters,
} from './bootstrapTable.js';
import { BootstrapIncompleteError } from './errors.js';
import { type ExportManifest, findExportSummaryKey, readExportManifest } from './exportManifest.js';
import { deliverPage, runParts } from './runParts.js';

/** Options of {@link readTableExport}. */
export interface ReadTableExportOptions extends BootstrapCommonOptions {
  /** The caller's S3 client. */
  readonly s3: S3Client;
  /** The bucket the export was written to. */
  readonly bucket: string;
  /**
   * The S3 prefix the export was requested with (ends with "/"); the one export under it is
   * read. Give this or `manifestSummaryKey`.
   */
  readonly prefix?: string;
  /** The key of the export's `manifest-summary.json`, to choose among several exports. */
  readonly manifestSummaryKey?: string;
  /**
   * A DynamoDB client: for the progress table when it is given by name, and to read the
   * table's key schema when `keySchema` is not given.
   */
  readonly dynamodb?: DynamoDBClient;
  /** The table's key attributes, partition key first. @default DescribeTable of the exported table */
  readonly keySchema?: readonly string[];
  /** The table's name on the records. @default the name in the export's `tableArn` */
  readonly table?: string;
  /** Data files read at once. @default 4 */
  readonly fileConcurrency?: number;
  /** Items per delivered batch (progress is saved after each). @default 500 */
  readonly batchSize?: number;
}

/** What a finished export bootstrap reports. */
export interface ExportBootstrapResult extends BootstrapResult {
  /** The point in time the export shows the table at, epoch ms: start the stream there. */
  readonly exportTimeMs: number;
  /**
   * Where a Kinesis Data Streams consumer starts so that no change after the export is missed:
   * `AT_TIMESTAMP` the export time (the worker's `initialPosition`). A DynamoDB Streams consumer
   * starts at TRIM_HORIZON, which holds 24 hours: see `streamRetentionExceeded`.
   */
  readonly kinesisInitialPosition: { readonly type: 'AT_TIMESTAMP'; readonly timestamp: Date };
  /**
   * True when the export is older than DynamoDB Streams' 24-hour retention: changes made between
   * the export and the stream's trim horizon are in neither. Take a newer export (or Scan).
   */
  readonly streamRetentionExceeded: boolean;
}

/** Defaults of {@link readTableExport}. */
export const DEFAULT_EXPORT_READ = { fileConcurrency: 4, batchSize: 500 } as const;

const DYNAMODB_STREAMS_RETENTION_MS = 24 * 3_600_000;

/**
 * Backfills from an existing export of the table to S3 (`ExportTableToPointInTime`, DYNAMODB_JSON)
 * instead of a Scan: no read capacity of the table is used. Reads `manifest-summary.json` and
 * `manifest-files.json`, then each gzip data file (one `{"Item":{…}}` per line), and delivers
 * every item as a bootstrap record (`bootstrap: true`, read at the export time) through the same
 * pipeline as stream batches. Each file's item count is checked against the manifest.
 *
 * Resume: the lines of each file delivered so far are saved in the progress table after every
 * batch; a rerun with the same `bootstrapId` skips them. Several processes share the files.
 *
 * Handover: the export shows the table at `exportTimeMs`; start the stream consumer before this
 * bootstrap at a position no later than that (DynamoDB Streams: TRIM_HORIZON, while the export
 * is under 24 hours old; Kinesis Data Streams: `kinesisInitialPosition`), so every later change
 * comes from the stream, and a sink that honours `bootstrap` keeps the newer one.
 *
 * @example
 * const result = await readTableExport({
 *   s3, dynamodb, bucket: 'exports', prefix: 'users/', sink, progressTable: 'users-sync',
 * });
 */
export async function readTableExport(
  options: ReadTableExportOptions,
): Promise<ExportBootstrapResult> {
  const started = Date.now();
  if (!options?.s3) throw new ConfigurationError('readTableExport needs s3: new S3Client({}).');
  if (!options.bucket) {
    throw new ConfigurationError('readTableExport needs bucket: the bucket the export is in.');
  }
  if (!options.prefix && !options.manifestSummaryKey && options.prefix !== '') {
    throw new ConfigurationError(
      'readTableExport needs prefix (the S3 prefix the export was requested with) or manifestSummaryKey.',
    );
  }
  const fileConcurrency = wholeNumberIn(
    'fileConcurrency',
    options.fileConcurrency,
    DEFAULT_EXPORT_READ.fileConcurrency,
    1,
    1000,
  );
  const batchSize = wholeNumberIn(
    'batchSize',
    options.batchSize,
    DEFAULT_EXPORT_READ.batchSize,
    1,
    100_000,
  );
  const { logger, processor } = createDelivery(options);
  const summaryKey = await findExportSummaryKey(options.s3, options.bucket, options);
  const manifest = await readExportManifest(options.s3, options.bucket, summaryKey);
  const table = options.table ?? manifest.tableName;
  if (!table) {
    throw new ConfigurationError(
      `The export at s3://${options.bucket}/${summaryKey} names no table (tableArn); give table.`,
    );
  }
  const keySchema = options.keySchema ?? (await describeKeySchema(options.dynamodb, table));
  if (!(options.progressTable instanceof DynamoDBBootstrapStore) && !options.dynamodb) {
    throw new ConfigurationError(
      'readTableExport needs dynamodb (a DynamoDBClient) to keep progress in the progress table.',
    );
  }
  const store = progressStore(options.progressTable, options.dynamodb as DynamoDBClient);
  const bootstrapId = options.bootstrapId ?? `export-${table}`;
  const source = `s3://${options.bucket}/${summaryKey}`;
  const session = await openRun(store, options, {
    bootstrapId,
    kind: 'export',
    tableName: table,
    parts: manifest.files.length,
    startedAtMs: started,
    source,
    exportTimeMs: manifest.exportTimeMs,
  });
  if (session.run.source !== source) {
    throw new ConfigurationError(
      `Bootstrap "${bootstrapId}" was recorded for the export ${String(session.run.source)}, not ${source}; give another bootstrapId, or restart: true to forget it.`,
    );
  }
  const counters = new RunCounters(session.itemsBefore, session.partsDoneBefore);
  const report = (): void =>
    options.onProgress?.(
      counters.progress(
        bootstrapId,
        session.run.parts,
        manifest.summary.itemCount,
        undefined,
        started,
      ),
    );

  await runParts({
    store,
    run: session.run,
    owner: session.owner,
    claimDurationMs: session.claimDurationMs,
    concurrency: fileConcurrency,
    logger,
    signal: options.signal,
    readPart: async (part, signal) => {
      const partId = part.progress.partId;
      const file = manifest.files[Number(partId.slice('export-'.length))]!;
      let { linesDone, items, pages } = part.progress;
      const skip = linesDone;
      let line = 0;
      let batch: ChangeRecord[] = [];
      const flush = async (done: boolean): Promise<boolean> => {
        await deliverPage(processor, batch, partId, signal);
        items += batch.length;
        pages += 1;
        linesDone = line;
        const delivered = batch.length;
        batch = [];
        const kept = await part.save({ linesDone, items, pages, consumedRcu: 0, done });
        counters.page(delivered, 0, done);
        report();
        return kept;
      };
      for await (const text of dataFileLines(options.s3, manifest, file.dataFileS3Key, signal)) {
        if (text.trim() === '') continue;
        line += 1;
        if (line <= skip) continue;
        batch.push(
          bootstrapRecord(itemOfLine(text, file.dataFileS3Key, line), {
            tableName: table,
            keySchema,
            bootstrapId,
            shardId: partId,
            readAtMs: manifest.exportTimeMs,
          }),
        );
        if (batch.length >= batchSize && !(await flush(false))) return;
      }
      if (line !== file.itemCount) {
        throw new BootstrapIncompleteError(
          partId,
          `s3://${manifest.bucket}/${file.dataFileS3Key} holds ${line} item(s), but manifest-files.json says ${file.itemCount}: the file is truncated or not this export's. Nothing past line ${linesDone} was recorded as done.`,
        );
      }
      await flush(true);
    },
  });
  await store.finishRun(bootstrapId);
  const parts = await store.listParts(session.run);
  return {
    bootstrapId,
    items: counters.items,
    itemsTotal: parts.reduce((sum, p) => sum + p.items, 0),
    pages: counters.pages,
    consumedRcu: 0,
    parts: session.run.parts,
    resumed: session.resumed,
    startedAtMs: session.run.startedAtMs,
    durationMs: Date.now() - started,
    exportTimeMs: manifest.exportTimeMs,
    kinesisInitialPosition: { type: 'AT_TIMESTAMP', timestamp: new Date(manifest.exportTimeMs) },
    streamRetentionExceeded: Date.now() - manifest.exportTimeMs > DYNAMODB_STREAMS_RETENTION_MS,
  };
}

/** The lines of a gzip data file, streamed. */
async function* dataFileLines(
  s3: S3Client,
  manifest: ExportManifest,
  key: string,
  signal: AbortSignal,
): AsyncGenerator<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: manifest.bucket, Key: key }), {
    abortSignal: signal,
  });
  const body = out.Body as Readable;
  const lines = createInterface({ input: body.pipe(createGunzip()), crlfDelay: Infinity });
  try {
    for await (const line of lines) yield line;
  } finally {
    lines.close();
    body.destroy();
  }
}

/** The item of one data file line: `{"Item":{…}}` in DynamoDB JSON. */
function itemOfLine(text: string, key: string, line: number): MarshalledItem {
  let parsed: { Item?: MarshalledItem };
  try {
    parsed = JSON.parse(text) as { Item?: MarshalledItem };
  } catch (error) {
    throw new ConfigurationError(`Line ${line} of ${key} is not JSON: ${text.slice(0, 80)}`, {
      cause: error,
    });
  }
  if (!parsed.Item || typeof parsed.Item !== 'object') {
    throw new ConfigurationError(
      `Line ${line} of ${key} has no "Item": not a DYNAMODB_JSON export data file.`,
    );
  }
  return parsed.Item;
}

async function describeKeySchema(
  client: DynamoDBClient | undefined,
  table: string,
): Promise<string[]> {
  if (!client) {
    throw new ConfigurationError(
      `readTableExport needs keySchema (the key attributes of ${table}, partition key first) or dynamodb to read it with DescribeTable.`,
    );
  }
  const out = await client.send(new DescribeTableCommand({ TableName: table }));
  return orderedKeySchema(out.Table!);
}
