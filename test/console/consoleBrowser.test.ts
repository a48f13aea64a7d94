/**
 * The console in a real browser: Debian's Chromium, headless, driven by playwright-core, loads
 * the page from a running Worker (DynamoDB Local's stream over three shards) while orders flow,
 * waits until the tables and the chart show the shards, checks the DOM (shard ids, worker id,
 * lag values, parked records) and checks screenshots decoded with pngjs: the right size, not
 * blank, the chart drawn in the shards' colours, and the chart changing as data arrives.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from '@shardline/worker';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleWorld, SECRET, startConsoleWorld, until } from './helpers/consoleWorld.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `SKIPPED the console browser test: no Chromium at ${CHROMIUM}. Install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`,
  );
}
const VIEWPORT = { width: 1280, height: 1100 };
// The first series colour of the page (app.js COLORS[0]), drawn as a chart line.
const FIRST_LINE = [0x2f, 0x6f, 0xdf] as const;

let world: ConsoleWorld;
let worker: Worker;
let browser: BrowserContext;
let profile: string;

describe.runIf(hasChromium)('console page in headless Chromium', () => {
  beforeAll(async () => {
    world = await startConsoleWorld(3);
    worker = await world.startWorker('browser-worker');
    profile = mkdtempSync(join(tmpdir(), 'shardline-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: VIEWPORT,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await world?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('renders live data: the leases, the lineage, lag, throughput and parked records', async () => {
    // arrange: the page is open on the running worker before any record exists
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${worker.httpPort}/console/`);
    const shardIds = world.streams.shards().map((s) => s.shardId);
    await until(async () => (await ownedRows(page)) === shardIds.length);
    await until(async () => (await page.locator('#chart-rate polyline').count()) === 3);
    const before = decode(await page.locator('#charts').screenshot());
    // act: orders flow; three are refused and parked
    await world.put(0, 60, (n) => n % 20 === 7);
    await until(() => world.parked.records.length === 3 && world.applied.length === 57);
    await until(
      async () => (await page.locator('#parked tbody tr[data-sequence-number]').count()) === 3,
    );
    const read = [...new Set(world.parked.records.map((r) => r.shardId))];
    await until(async () => {
      for (const id of read) {
        const lag = await page
          .locator(`#shards tr[data-shard-id="${id}"] td.lag`)
          .getAttribute('data-lag-ms');
        if (!lag) return false;
      }
      return (await page.locator('#chart-lag polyline').count()) >= read.length;
    });
    await until(async () => (await page.locator('body').getAttribute('data-updates')) !== null);
    // The chart is redrawn at each sample: wait for one that shows the first shard's line (in a
    // full CI run one screenshot came before it was drawn: 47 of its pixels, where 100 is asked).
    const after = await until(async () => {
      const shot = decode(await page.locator('#charts').screenshot());
      return near(shot, FIRST_LINE) > 100 ? shot : undefined;
    });
    const screenshot = await page.screenshot();
    // Kept where CONSOLE_SCREENSHOT says, to look at it (the profile folder is removed).
    if (process.env.CONSOLE_SCREENSHOT) writeFileSync(process.env.CONSOLE_SCREENSHOT, screenshot);
    // assert: the DOM names every shard, its owner and its lag
    const rows = await page.locator('#shards tbody tr[data-shard-id]').evaluateAll((trs) =>
      trs.map((tr) => ({
        id: tr.getAttribute('data-shard-id'),
        owner: tr.querySelector('td.owner')?.textContent,
        lag: tr.querySelector('td.lag')?.textContent,
        lagMs: tr.querySelector('td.lag')?.getAttribute('data-lag-ms'),
      })),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...shardIds].sort());
    for (const row of rows) expect(row.owner).toBe('browser-worker');
    for (const id of read) {
      const row = rows.find((r) => r.id === id)!;
      expect(Number(row.lagMs)).toBeGreaterThanOrEqual(0);
      expect(row.lag).toMatch(/^\d+(\.\d)? (ms|s)$/);
    }
    const workerRow = page.locator('#workers tr[data-worker-id="browser-worker"]');
    expect(await workerRow.textContent()).toContain('browser-worker (this worker)');
    // the parked records: their sequence numbers and keys, the error, no image
    const parkedText = await page.locator('#parked tbody').textContent();
    for (const r of world.parked.records) {
      expect(parkedText).toContain(r.sequenceNumber);
      expect(parkedText).toContain(r.orderingKey);
    }
    expect(parkedText).toMatch(/order o\d*7 refused/);
    const html = await page.content();
    expect(html).not.toContain(SECRET);
    expect(html).not.toMatch(/NewImage|OldImage/);
    // the screenshot: the viewport's size, not blank, the chart drawn in the shards' colours
    const png = decode(screenshot);
    expect([png.width, png.height]).toEqual([VIEWPORT.width, VIEWPORT.height]);
    expect(distinctColours(png)).toBeGreaterThan(40);
    expect(differentFrom(png, pixelAt(png, 0, png.height - 1))).toBeGreaterThan(0.05);
    expect(near(after, FIRST_LINE)).toBeGreaterThan(100);
    // and the chart changed as the data arrived
    expect([after.width, after.height]).toEqual([before.width, before.height]);
    expect(changedPixels(before, after)).toBeGreaterThan(1000);
    // act: a shard rolls over; assert: its child is drawn right under it, one level deeper
    const parent = shardIds[0]!;
    const [child] = world.streams.rollover(parent);
    await world.put(100, 103);
    const tree = await until(async () => {
      const order = await page
        .locator('#shards tbody tr[data-shard-id]')
        .evaluateAll((trs) =>
          trs.map((tr) => [
            tr.getAttribute('data-shard-id'),
            tr.getAttribute('data-depth'),
            tr.getAttribute('data-status'),
          ]),
        );
      const at = order.findIndex(([id]) => id === child);
      return at > 0 && order[at - 1]![2] === 'closed' && order;
    });
    const at = tree.findIndex(([id]) => id === child);
    expect(tree[at - 1]).toEqual([parent, '0', 'closed']);
    expect(tree[at]).toEqual([child, '1', 'active']);
    expect(await page.locator(`#shards tr[data-shard-id="${child}"] .tree`).textContent()).toBe(
      '└─ ',
    );
  });
});

/** Shard rows whose owner cell names the worker. */
async function ownedRows(page: Page): Promise<number> {
  return page
    .locator('#shards tbody tr[data-shard-id] td.owner', { hasText: 'browser-worker' })
    .count();
}

function decode(buffer: Buffer): PNG {
  return PNG.sync.read(buffer);
}

function pixelAt(png: PNG, x: number, y: number): [number, number, number] {
  const i = (y * png.width + x) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
}

function distinctColours(png: PNG): number {
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) {
    colours.add((png.data[i]! << 16) | (png.data[i + 1]! << 8) | png.data[i + 2]!);
  }
  return colours.size;
}

/** Share of pixels that differ from a background colour. */
function differentFrom(png: PNG, background: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (
      png.data[i] !== background[0] ||
      png.data[i + 1] !== background[1] ||
      png.data[i + 2] !== background[2]
    ) {
      n++;
    }
  }
  return n / (png.data.length / 4);
}

/** Pixels within a small distance of a colour (anti-aliasing blends line edges). */
function near(png: PNG, colour: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const d =
      Math.abs(png.data[i]! - colour[0]!) +
      Math.abs(png.data[i + 1]! - colour[1]!) +
      Math.abs(png.data[i + 2]! - colour[2]!);
    if (d < 30) n++;
  }
  return n;
}

function changedPixels(a: PNG, b: PNG): number {
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (
      a.data[i] !== b.data[i] ||
      a.data[i + 1] !== b.data[i + 1] ||
      a.data[i + 2] !== b.data[i + 2]
    ) {
      n++;
    }
  }
  return n;
}
