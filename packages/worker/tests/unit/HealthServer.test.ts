import { afterEach, describe, expect, it } from 'vitest';
import { createWorker, InMemoryLeaseStore, type Worker } from '../../src/index.js';
import { FakeShardSource, fakeStream } from '../helpers/FakeShardSource.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

describe('health and metrics over HTTP', () => {
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop();
  });

  it('serves /healthz, /readyz and Prometheus /metrics with per-shard figures', async () => {
    // arrange
    let processed = 0;
    worker = createWorker({
      applicationName: 'app',
      sources: new FakeShardSource(fakeStream('s', 2, 30)),
      leaseStore: new InMemoryLeaseStore(),
      handler: () => {
        processed++;
      },
      httpPort: 0,
      leaseDurationMs: 600,
      takeIntervalMs: 50,
      commitIntervalMs: 20,
      minReadIntervalMs: 5,
      logger: silent,
    });
    await worker.start();
    const base = `http://127.0.0.1:${worker.httpPort}`;
    while (processed < 60) await new Promise((r) => setTimeout(r, 20));
    // act
    const health = await fetch(`${base}/healthz`);
    const ready = await fetch(`${base}/readyz`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    // assert
    expect(health.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, leases: 2 });
    expect(metrics).toContain('shardline_leases_held 2');
    expect(metrics).toMatch(
      /shardline_records_processed_total\{stream="s",shard="shardId-000000000000"\} 30/,
    );
    expect(metrics).toMatch(
      /shardline_iterator_age_milliseconds\{stream="s",shard="shardId-000000000001"\} \d+/,
    );
    expect(metrics).toContain(
      'shardline_checkpoint_age_seconds{stream="s",shard="shardId-000000000000"}',
    );
    // after stop, the worker is no longer ready
    await worker.stop();
    expect(worker.isReady()).toBe(false);
  });
});
