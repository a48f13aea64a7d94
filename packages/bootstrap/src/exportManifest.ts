import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError } from '@shardline/core';

/**
 * The fields of an export's `manifest-summary.json` that a bootstrap reads (DynamoDB's
 * "Table export output format"; version 2020-06-30).
 */
export interface ExportSummary {
  readonly exportArn?: string;
  readonly tableArn?: string;
  /** The point in time the export shows the table at (ISO 8601). */
  readonly exportTime: string;
  readonly s3Bucket?: string;
  readonly s3Prefix?: string | null;
  readonly manifestFilesS3Key: string;
  readonly itemCount: number;
  /** `DYNAMODB_JSON` or `ION`; only the first is read. */
  readonly outputFormat: string;
  /** `FULL_EXPORT` or `INCREMENTAL_EXPORT`; only full exports are read. @default FULL_EXPORT */
  readonly exportType?: string;
}

/** One line of `manifest-files.json`: a gzip data file and the items in it. */
export interface ExportDataFile {
  readonly itemCount: number;
  readonly dataFileS3Key: string;
  readonly md5Checksum?: string;
  readonly etag?: string;
}

/** An export located in S3, its summary checked against its file list. */
export interface ExportManifest {
  readonly bucket: string;
  readonly summaryKey: string;
  readonly summary: ExportSummary;
  /** The data files, in manifest order, their keys resolved to full object keys. */
  readonly files: readonly ExportDataFile[];
  readonly exportTimeMs: number;
  /** The table's name, from `tableArn`. */
  readonly tableName: string | undefined;
}

const SUMMARY_FILE = 'manifest-summary.json';

/**
 * Finds an export's `manifest-summary.json`: `summaryKey` as given, else the one export under
 * `prefix` (`<prefix>AWSDynamoDB/<ExportId>/manifest-summary.json`, the layout
 * `ExportTableToPointInTime` writes). Several exports under one prefix are refused: say which.
 */
export async function findExportSummaryKey(
  s3: S3Client,
  bucket: string,
  location: { readonly prefix?: string; readonly manifestSummaryKey?: string },
): Promise<string> {
  if (location.manifestSummaryKey) return location.manifestSummaryKey;
  const prefix = location.prefix ?? '';
  const found: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `${prefix}AWSDynamoDB/`,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key?.endsWith(`/${SUMMARY_FILE}`)) found.push(object.Key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    throw new ConfigurationError(
      `No export under s3://${bucket}/${prefix}: no ${prefix}AWSDynamoDB/<ExportId>/${SUMMARY_FILE}. Give the S3 prefix the export was requested with (it ends with "/"), or manifestSummaryKey; an export still running has no summary yet.`,
    );
  }
  throw new ConfigurationError(
    `${found.length} exports under s3://${bucket}/${prefix} (${found.join(', ')}); give manifestSummaryKey to choose one.`,
  );
}

/**
 * Reads and checks an export's manifests: the summary must describe a finished full export in
 * DYNAMODB_JSON, and the item counts of `manifest-files.json` must add up to the summary's.
 */
export async function readExportManifest(
  s3: S3Client,
  bucket: string,
  summaryKey: string,
): Promise<ExportManifest> {
  const summary = JSON.parse(await getText(s3, bucket, summaryKey)) as ExportSummary;
  const where = `s3://${bucket}/${summaryKey}`;
  if (summary.outputFormat !== 'DYNAMODB_JSON') {
    throw new ConfigurationError(
      `The export at ${where} is in ${String(summary.outputFormat)}; a bootstrap reads DYNAMODB_JSON exports. Export again with --export-format DYNAMODB_JSON.`,
    );
  }
  if (summary.exportType !== undefined && summary.exportType !== 'FULL_EXPORT') {
    throw new ConfigurationError(
      `The export at ${where} is a ${summary.exportType}; a bootstrap reads a full export (an incremental one holds changes, not the table).`,
    );
  }
  const exportTimeMs = Date.parse(summary.exportTime);
  if (!Number.isFinite(exportTimeMs) || !summary.manifestFilesS3Key) {
    throw new ConfigurationError(
      `${where} is not an export summary (exportTime ${String(summary.exportTime)}, manifestFilesS3Key ${String(summary.manifestFilesS3Key)}).`,
    );
  }
  const resolve = (key: string): string => resolveKey(key, summary.s3Prefix);
  const files = (await getText(s3, bucket, resolve(summary.manifestFilesS3Key)))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const file = JSON.parse(line) as ExportDataFile;
      return { ...file, dataFileS3Key: resolve(file.dataFileS3Key) };
    });
  const listed = files.reduce((sum, f) => sum + f.itemCount, 0);
  if (listed !== summary.itemCount) {
    throw new ConfigurationError(
      `The export at ${where} lists ${listed} item(s) in its data files but ${summary.itemCount} in its summary: the manifests do not belong together, or the export is incomplete.`,
    );
  }
  const tableName = summary.tableArn ? /:table\/([^/]+)/.exec(summary.tableArn)?.[1] : undefined;
  return { bucket, summaryKey, summary, files, exportTimeMs, tableName };
}

/**
 * An object key of the manifests as a full key: DynamoDB writes them with the export's
 * `s3Prefix` in front; a key that lacks it is taken as relative to it.
 */
function resolveKey(key: string, s3Prefix: string | null | undefined): string {
  if (!s3Prefix) return key;
  const prefix = s3Prefix.endsWith('/') ? s3Prefix : `${s3Prefix}/`;
  return key.startsWith(prefix) ? key : `${prefix}${key}`;
}

async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body!.transformToString('utf8');
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') {
      throw new ConfigurationError(
        `s3://${bucket}/${key} does not exist; is the export finished?`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}
