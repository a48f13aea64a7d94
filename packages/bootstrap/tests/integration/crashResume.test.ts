import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBBootstrapStore } from '@shardline/store-dynamodb';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLeaseTable,
  createSourceTable,
  fillTable,
  keyOf,
  tableName,
} from '../helpers/tables.js';

const CHILD = fileURLToPath(new URL('../helpers/bootstrapChild.ts', import.meta.url));
const ITEMS = 400;

let server: DynamoDBLocalServer;
let client: DynamoDBClient;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startDynamoDBLocal();
  client = new DynamoDBClient(server.clientConfig);
  dir = await mkdtemp(join(tmpdir(), 'shardline-bootstrap-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  client?.destroy();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Child {
  readonly process: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** Starts a bootstrap process; `--conditions=source` loads the workspace's TypeScript via tsx. */
function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith('{')) lines.push(JSON.parse(line));
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) console.error(`bootstrap child stderr: ${stderr}`);
      resolve(code);
    }),
  );
  return { process: child, lines, exited };
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('bootstrap after kill -9', () => {
  it('resumes from the saved segment positions, and every item is delivered at least once', async () => {
    // arrange: 400 small items in pages of 10 over 4 segments, at 5 RCU/s (a few seconds)
    const table = tableName('crash-src');
    const leases = tableName('crash-leases');
    await createSourceTable(client, table);
    await createLeaseTable(client, leases);
    await fillTable(client, table, ITEMS, 100);
    const outFile = join(dir, 'delivered.txt');
    const env = { ENDPOINT: server.endpoint, TABLE: table, LEASES: leases, OUT_FILE: outFile };

    // act: kill the first process mid-scan, with no chance to release or save anything
    const first = startChild({ ...env, OWNER: 'first' });
    await until(() => first.lines.filter((l) => l.event === 'page').length >= 12, '12 pages');
    first.process.kill('SIGKILL');
    await first.exited;
    const store = new DynamoDBBootstrapStore({ client, tableName: leases });
    const run = await store.getRun('crash-test');
    const saved = await store.listParts(run!);
    const savedItems = saved.reduce((sum, p) => sum + p.items, 0);
    const second = startChild({ ...env, OWNER: 'second' });
    const code = await second.exited;

    // assert: the first run stopped mid-scan with progress saved and its claims left behind
    expect(saved.every((p) => p.done)).toBe(false);
    // each page line is printed after its progress was saved
    const reported = Math.max(...first.lines.map((l) => Number(l.items ?? 0)));
    expect(savedItems).toBeGreaterThanOrEqual(reported);
    expect(savedItems).toBeLessThan(ITEMS);
    expect(saved.some((p) => p.owner === 'first')).toBe(true);
    // the second took the dead process's segments over (after their claims expired) and
    // resumed them: it read what was not saved, not the whole table
    expect(code).toBe(0);
    const done = second.lines.find((l) => l.event === 'done')!;
    expect(done.resumed).toBe(true);
    expect(done.itemsTotal).toBe(ITEMS);
    expect(done.items).toBe(ITEMS - savedItems);
    const delivered = (await readFile(outFile, 'utf8')).split('\n').filter(Boolean);
    const distinct = new Set(delivered);
    for (let i = 0; i < ITEMS; i++) expect(distinct.has(keyOf(i))).toBe(true);
    expect(distinct.size).toBe(ITEMS);
    // redelivered at most what the killed process delivered after its last saved pages
    expect(delivered.length - ITEMS).toBeLessThanOrEqual(4 * 10);
  }, 120_000);
});
