import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError } from '@shardline/core';
import {
  type DynamoDBLocalServer,
  type S3rverServer,
  startDynamoDBLocal,
  startS3rver,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTableExport } from '../../src/export.js';
import { BootstrapIncompleteError } from '../../src/index.js';
import { CollectingSink, createLeaseTable, keyOf, tableName } from '../helpers/tables.js';

const BUCKET = 'exports';
const EXPORT_TIME = '2026-12-07T10:00:00.000Z';

let ddb: DynamoDBLocalServer;
let s3server: S3rverServer;
let dynamodb: DynamoDBClient;
let s3: S3Client;

beforeAll(async () => {
  [ddb, s3server] = await Promise.all([startDynamoDBLocal(), startS3rver({ buckets: [BUCKET] })]);
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  s3 = new S3Client(s3server.clientConfig);
});

afterAll(async () => {
  dynamodb?.destroy();
  s3?.destroy();
  await Promise.all([ddb?.stop(), s3server?.stop()]);
});

interface ExportLayout {
  /** Items per data file (an empty array: an empty partition's empty file). */
  readonly files: readonly number[][];
  readonly prefix: string;
  /** Write manifest keys without the export's prefix, as the documentation's example shows. */
  readonly relativeKeys?: boolean;
  /** Overrides of the summary's fields. */
  readonly summary?: Record<string, unknown>;
  /** Overrides of a file's manifest item count, by file index. */
  readonly listedCounts?: Record<number, number>;
}

/**
 * Writes an export as ExportTableToPointInTime lays it out (DynamoDB's "Table export output
 * format"): `<prefix>AWSDynamoDB/<ExportId>/manifest-summary.json`, `manifest-files.json` (one
 * JSON object per line) and gzip data files of `{"Item":{…}}` lines under `data/`.
 */
async function writeExport(layout: ExportLayout): Promise<string> {
  const exportId = `0170000000000${layout.prefix.length}-a1b2c3d4`;
  const s3Prefix = layout.prefix.replace(/\/$/, '');
  const base = `${layout.prefix}AWSDynamoDB/${exportId}`;
  const rel = (key: string) => (layout.relativeKeys ? key.slice(layout.prefix.length) : key);
  const put = (key: string, body: string | Uint8Array) =>
    s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  const manifestLines: string[] = [];
  for (const [index, ids] of layout.files.entries()) {
    const key = `${base}/data/file-${index}-x7k2m9q4.json.gz`;
    const lines = ids.map((i) =>
      JSON.stringify({
        Item: {
          pk: { S: keyOf(i) },
          n: { N: String(i) },
          tags: { SS: ['a', `t${i}`] },
          profile: { M: { name: { S: `user ${i}` }, active: { BOOL: i % 2 === 0 } } },
        },
      }),
    );
    await put(key, gzipSync(lines.length ? `${lines.join('\n')}\n` : ''));
    manifestLines.push(
      JSON.stringify({
        itemCount: layout.listedCounts?.[index] ?? ids.length,
        md5Checksum: 'q3Pm5Y0mQlFJ0yKxZ0u2Ig==',
        etag: '0aa8fcd6a2ec4c03c3c2c3e0a9d9e1e9-1',
        dataFileS3Key: rel(key),
      }),
    );
  }
  await put(`${base}/manifest-files.json`, `${manifestLines.join('\n')}\n`);
  await put(`${base}/_started`, '');
  const itemCount = layout.files.reduce((sum, ids) => sum + ids.length, 0);
  await put(
    `${base}/manifest-summary.json`,
    JSON.stringify({
      version: '2020-06-30',
      exportArn: `arn:aws:dynamodb:us-east-1:123456789012:table/Users/export/${exportId}`,
      startTime: EXPORT_TIME,
      endTime: '2026-12-07T10:05:00.000Z',
      tableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/Users',
      tableId: '12345a12-abcd-123a-ab12-1234abc12345',
      exportTime: EXPORT_TIME,
      s3Bucket: BUCKET,
      s3Prefix,
      s3SseAlgorithm: 'AES256',
      s3SseKmsKeyId: null,
      manifestFilesS3Key: rel(`${base}/manifest-files.json`),
      billedSizeBytes: 0,
      itemCount,
      outputFormat: 'DYNAMODB_JSON',
      exportType: 'FULL_EXPORT',
      ...layout.summary,
    }),
  );
  return `${base}/manifest-summary.json`;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function progressTable(): Promise<string> {
  const name = tableName('export-leases');
  await createLeaseTable(dynamodb, name);
  return name;
}

describe('readTableExport', () => {
  it('delivers every item of every data file as a bootstrap record of the export time, with no read capacity', async () => {
    // arrange: three files, one of them an empty partition's
    await writeExport({ prefix: 'users/full/', files: [range(0, 40), [], range(40, 65)] });
    const sink = new CollectingSink();

    // act
    const result = await readTableExport({
      s3,
      dynamodb,
      bucket: BUCKET,
      prefix: 'users/full/',
      keySchema: ['pk'],
      sink,
      progressTable: await progressTable(),
      batchSize: 10,
    });

    // assert
    expect(result.exportTimeMs).toBe(Date.parse(EXPORT_TIME));
    expect(result.kinesisInitialPosition.timestamp.toISOString()).toBe(EXPORT_TIME);
    expect(result.consumedRcu).toBe(0);
    expect(result.parts).toBe(3);
    expect(result.itemsTotal).toBe(65);
    expect(sink.counts().size).toBe(65);
    expect([...sink.counts().values()].every((n) => n === 1)).toBe(true);
    const record = sink.records.find((r) => r.keys?.pk === keyOf(3))!;
    expect(record.bootstrap).toBe(true);
    expect(record.tableName).toBe('Users');
    expect(record.approximateCreationTimeMs).toBe(Date.parse(EXPORT_TIME));
    expect(record.newImage).toEqual({
      pk: keyOf(3),
      n: 3,
      tags: new Set(['a', 't3']),
      profile: { name: 'user 3', active: false },
    });
  });

  it('reads manifests whose keys leave out the export prefix, as the documented example does', async () => {
    // arrange
    const summaryKey = await writeExport({
      prefix: 'users/relative/',
      files: [range(0, 5), range(5, 9)],
      relativeKeys: true,
    });
    const sink = new CollectingSink();

    // act
    const result = await readTableExport({
      s3,
      dynamodb,
      bucket: BUCKET,
      manifestSummaryKey: summaryKey,
      keySchema: ['pk'],
      sink,
      progressTable: await progressTable(),
    });

    // assert
    expect(result.itemsTotal).toBe(9);
    expect(sink.counts().size).toBe(9);
  });

  it('resumes each file after its last delivered batch when a run stops', async () => {
    // arrange: item 57 refused once, with no failure destination: the run stops there
    await writeExport({ prefix: 'users/resume/', files: [range(0, 30), range(30, 80)] });
    const sink = new CollectingSink();
    sink.failKeys.add(keyOf(57));
    const options = {
      s3,
      dynamodb,
      bucket: BUCKET,
      prefix: 'users/resume/',
      keySchema: ['pk'],
      sink,
      progressTable: await progressTable(),
      batchSize: 5,
      fileConcurrency: 1,
      retry: { maxAttempts: 1 },
    };

    // act
    const error = await readTableExport(options).catch((e: unknown) => e);
    sink.failKeys.clear();
    const second = await readTableExport(options);

    // assert: the second run read the rest of the second file only (from its batch at 55)
    expect(error).toBeInstanceOf(BootstrapIncompleteError);
    expect((error as BootstrapIncompleteError).partId).toBe('export-1');
    expect(second.resumed).toBe(true);
    expect(second.items).toBe(80 - 55);
    expect(second.itemsTotal).toBe(80);
    expect(new Set(sink.records.map((r) => r.keys?.pk)).size).toBe(80);
  });

  it('refuses a data file whose item count differs from the manifest, and is not done with it', async () => {
    // arrange: the manifest says 12 for a file of 10
    await writeExport({
      prefix: 'users/short/',
      files: [range(0, 10), range(10, 14)],
      listedCounts: { 0: 12 },
      summary: { itemCount: 16 },
    });
    const table = await progressTable();
    const sink = new CollectingSink();

    // act
    const error = await readTableExport({
      s3,
      dynamodb,
      bucket: BUCKET,
      prefix: 'users/short/',
      keySchema: ['pk'],
      sink,
      progressTable: table,
      fileConcurrency: 1,
    }).catch((e: unknown) => e);

    // assert
    expect(error).toBeInstanceOf(BootstrapIncompleteError);
    expect((error as Error).message).toMatch(/holds 10 item\(s\), but manifest-files.json says 12/);
  });

  it('refuses manifests that disagree, ION exports, and a prefix with no export', async () => {
    const table = await progressTable();
    const sink = new CollectingSink();
    const common = { s3, dynamodb, bucket: BUCKET, keySchema: ['pk'], sink, progressTable: table };
    await writeExport({ prefix: 'bad/count/', files: [range(0, 3)], summary: { itemCount: 4 } });
    await writeExport({
      prefix: 'bad/ion/',
      files: [range(0, 3)],
      summary: { outputFormat: 'ION' },
    });
    await expect(readTableExport({ ...common, prefix: 'bad/count/' })).rejects.toThrow(
      /lists 3 item\(s\) in its data files but 4 in its summary/,
    );
    await expect(readTableExport({ ...common, prefix: 'bad/ion/' })).rejects.toThrow(
      /in ION; a bootstrap reads DYNAMODB_JSON/,
    );
    await expect(readTableExport({ ...common, prefix: 'nothing/' })).rejects.toThrow(
      ConfigurationError,
    );
  });
});
