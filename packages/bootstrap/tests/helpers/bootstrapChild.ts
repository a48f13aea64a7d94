// A bootstrap in its own process, for the crash tests: reads TABLE into a sink that appends
// each delivered key to OUT_FILE (synchronously, so a key is on disk before its page counts as
// delivered), prints one JSON line per page and one with the result.
import { appendFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ChangeRecord, Sink, SinkRecordResult } from '@shardline/core';
import { localClientConfig } from '@shardline/testing';
import { bootstrapTable } from '../../src/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`bootstrapChild needs ${name}`);
  return value;
};

const outFile = env('OUT_FILE');
const sink: Sink = {
  name: 'file',
  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    appendFileSync(outFile, records.map((r) => `${String(r.keys?.pk)}\n`).join(''));
    return records.map(() => ({ status: 'ok' }));
  },
};

const client = new DynamoDBClient(localClientConfig(env('ENDPOINT')));
const result = await bootstrapTable({
  client,
  table: env('TABLE'),
  sink,
  progressTable: env('LEASES'),
  bootstrapId: 'crash-test',
  owner: env('OWNER'),
  segments: 4,
  maxPageItems: 10,
  readCapacityUnits: 10,
  claimDurationMs: 2_000,
  onProgress: (p) => console.log(JSON.stringify({ event: 'page', items: p.items })),
});
console.log(JSON.stringify({ event: 'done', ...result, budget: undefined }));
client.destroy();
