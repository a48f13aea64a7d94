import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createWorker,
  EMF_LAG_METRIC,
  EmfLagReporter,
  InMemoryLeaseStore,
  PrometheusMetrics,
  type Worker,
} from '../../src/index.js';
import { FakeShardSource, fakeStream } from '../helpers/FakeShardSource.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

interface EmfLine {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

/** Runs `act` and returns the EMF lines it wrote to stdout (other lines pass through). */
async function emfLinesOf(act: () => Promise<unknown>): Promise<EmfLine[]> {
  const lines: EmfLine[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) {
      for (const line of text.split('\n').filter(Boolean)) lines.push(JSON.parse(line) as EmfLine);
      return true;
    }
    return write(chunk as string, ...(rest as []));
  });
  try {
    await act();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe('EmfLagReporter', () => {
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  it('writes one EMF line per shard a running worker reads, with the lag of /metrics', async () => {
    // arrange: a worker reading two shards (the fake source reports millisBehindLatest)
    let processed = 0;
    worker = createWorker({
      applicationName: 'orders-consumer',
      sources: new FakeShardSource(fakeStream('s', 2, 30)),
      leaseStore: new InMemoryLeaseStore(),
      handler: () => {
        processed++;
      },
      leaseDurationMs: 600,
      takeIntervalMs: 50,
      commitIntervalMs: 20,
      minReadIntervalMs: 5,
      logger: silent,
    });
    await worker.start();
    while (processed < 60) await new Promise((r) => setTimeout(r, 20));
    const reporter = new EmfLagReporter({
      registry: worker.metrics.registry,
      applicationName: 'orders-consumer',
      workerId: worker.workerId,
    });
    const served = await worker.metrics.registry
      .getSingleMetric('shardline_iterator_age_milliseconds')
      ?.get();

    // act
    let written = 0;
    const lines = await emfLinesOf(async () => {
      written = await reporter.report();
    });

    // assert: the namespace, name and dimension the Terraform scales on, one line per shard
    expect(written).toBe(2);
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      const [directive] = line._aws.CloudWatchMetrics;
      expect(directive?.Namespace).toBe(EMF_LAG_METRIC.namespace);
      expect(directive?.Dimensions).toEqual([[EMF_LAG_METRIC.dimension]]);
      expect(directive?.Metrics).toEqual([
        { Name: EMF_LAG_METRIC.metricName, Unit: EMF_LAG_METRIC.unit },
      ]);
      expect(line[EMF_LAG_METRIC.dimension]).toBe('orders-consumer');
      expect(line.workerId).toBe(worker.workerId);
      // the value is the one /metrics serves for that shard
      const series = served?.values.find((v) => v.labels.shard === line.shard);
      expect(line[EMF_LAG_METRIC.metricName]).toBe(series?.value);
    }
    expect(lines.map((l) => l.shard).sort()).toEqual([
      'shardId-000000000000',
      'shardId-000000000001',
    ]);
  });

  it('writes nothing while no shard is read (lag unknown, not zero)', async () => {
    // arrange
    const reporter = new EmfLagReporter({
      registry: new PrometheusMetrics().registry,
      applicationName: 'orders-consumer',
    });
    // act
    let written = -1;
    const lines = await emfLinesOf(async () => {
      written = await reporter.report();
    });
    // assert
    expect(written).toBe(0);
    expect(lines).toEqual([]);
  });

  it('reports on its interval once started, and stops', async () => {
    // arrange
    const metrics = new PrometheusMetrics();
    metrics.gauge('iterator_age_ms', 4200, { shard: 'shardId-1' });
    const reporter = new EmfLagReporter({
      registry: metrics.registry,
      applicationName: 'app',
      intervalMs: 10,
    });
    // act
    const lines = await emfLinesOf(async () => {
      reporter.start();
      await vi.waitFor(() => expect(process.stdout.write).toHaveBeenCalled());
      while (
        (process.stdout.write as unknown as { mock: { calls: unknown[] } }).mock.calls.length < 2
      )
        await new Promise((r) => setTimeout(r, 5));
      reporter.stop();
    });
    // assert
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.every((l) => l.iterator_age_ms === 4200 && l.shard === 'shardId-1')).toBe(true);
  });

  it('rejects a bad interval or a missing application, naming the fix', () => {
    const registry = new PrometheusMetrics().registry;
    expect(() => new EmfLagReporter({ registry, applicationName: 'a', intervalMs: 0 })).toThrow(
      /intervalMs must be a whole number of milliseconds of at least 1, e\.g\. 60000; got 0/,
    );
    expect(() => new EmfLagReporter({ registry, applicationName: '' })).toThrow(
      /needs applicationName/,
    );
  });
});
