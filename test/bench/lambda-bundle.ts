/**
 * Bundle size of a Lambda handler, minified and gzipped, as esbuild builds it for a Node 20
 * Lambda: Shardline's DynamoDB-only entry point, the auto-detecting entry point, and the same
 * handler written with Powertools' batch processor (the peer), side by side.
 *
 * Also checks that the DynamoDB-only bundle holds none of the Kinesis/KPL code.
 *
 * Run: npx tsx test/bench/lambda-bundle.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { table } from './harness.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const handlers = {
  'shardline @shardline/lambda/dynamodb': `
    import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';
    export const handler = createDynamoDBHandler({
      handler: async (record) => { console.log(record.keys, record.newImage); },
    });`,
  'shardline @shardline/lambda (both)': `
    import { createLambdaHandler } from '@shardline/lambda';
    export const handler = createLambdaHandler({
      handler: async (record) => { console.log(record.keys, record.newImage); },
    });`,
  'powertools batch (peer)': `
    import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
    import { unmarshall } from '@aws-sdk/util-dynamodb';
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    const recordHandler = async (record) => { console.log(record.dynamodb.Keys, unmarshall(record.dynamodb.NewImage)); };
    export const handler = (event, context) => processPartialResponse(event, recordHandler, processor, { context });`,
};

/** Strings found only in the Kinesis decoding code and the KPL library. */
const KINESIS_MARKERS = ['corrupt KPL aggregate', 'deaggregateSync', 'protobufjs'];

async function bundle(source: string, externalSdk: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'shardline-bundle-'));
  try {
    const entry = join(root, `.bundle-entry-${process.pid}.mjs`);
    writeFileSync(entry, source);
    try {
      const result = await build({
        entryPoints: [entry],
        bundle: true,
        minify: true,
        platform: 'node',
        target: 'node20',
        format: 'esm',
        // Workspace packages resolve to their TypeScript sources: no build needed.
        conditions: ['source'],
        external: externalSdk ? ['@aws-sdk/*', '@smithy/*'] : [],
        write: false,
        logLevel: 'silent',
        outdir: dir,
      });
      const code = result.outputFiles[0]!.contents;
      const text = Buffer.from(code).toString('utf8');
      return {
        bytes: code.byteLength,
        gzipped: gzipSync(code, { level: 9 }).byteLength,
        kinesisMarkers: KINESIS_MARKERS.filter((m) => text.includes(m)),
      };
    } finally {
      rmSync(entry, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  console.log('Lambda handler bundles (esbuild, minified, ESM, node20); gzip level 9');
  const rows = [['handler', 'min', 'min+gzip', 'min+gzip, SDK external', 'Kinesis/KPL code']];
  const sizes = new Map<string, number>();
  for (const [name, source] of Object.entries(handlers)) {
    const full = await bundle(source, false);
    const lean = await bundle(source, true);
    sizes.set(name, full.gzipped);
    rows.push([
      name,
      kb(full.bytes),
      kb(full.gzipped),
      kb(lean.gzipped),
      full.kinesisMarkers.length ? `yes (${full.kinesisMarkers.join(', ')})` : 'none',
    ]);
  }
  table(rows);
  const ddb = sizes.get('shardline @shardline/lambda/dynamodb')!;
  const peer = sizes.get('powertools batch (peer)')!;
  console.log(`DynamoDB-only handler / Powertools handler, min+gzip: ${(ddb / peer).toFixed(2)}x`);
  const check = await bundle(handlers['shardline @shardline/lambda/dynamodb'], false);
  if (check.kinesisMarkers.length) {
    console.error(
      `The DynamoDB-only bundle holds Kinesis code: ${check.kinesisMarkers.join(', ')}`,
    );
    process.exit(1);
  }
}

await main();
