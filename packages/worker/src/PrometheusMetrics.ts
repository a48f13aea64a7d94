import type { EventBus, MetricLabels, Metrics } from '@shardline/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How core metric names map onto Prometheus ones (`shardline_` prefix, unit suffixes). */
const NAMES: Record<string, { name: string; help: string }> = {
  records_read_total: { name: 'shardline_records_read_total', help: 'Records read from shards.' },
  records_in_total: { name: 'shardline_records_in_total', help: 'Records given to the pipeline.' },
  records_out_total: {
    name: 'shardline_records_processed_total',
    help: 'Records applied successfully.',
  },
  records_failed_total: {
    name: 'shardline_records_failed_total',
    help: 'Records that failed after the retry policy (the shard retries them).',
  },
  records_parked_total: {
    name: 'shardline_records_parked_total',
    help: 'Records sent to the failure destination.',
  },
  records_retried_total: { name: 'shardline_records_retried_total', help: 'Record retries.' },
  records_duplicate_total: {
    name: 'shardline_records_duplicate_total',
    help: 'Redelivered or stale records dropped.',
  },
  records_filtered_total: {
    name: 'shardline_records_filtered_total',
    help: 'Records left out before the handler (label reason: filter, ttl-delete, replication, other-region).',
  },
  batch_retries_total: {
    name: 'shardline_batch_retries_total',
    help: 'Pages whose unfinished records were tried again.',
  },
  read_throttled_total: {
    name: 'shardline_read_throttled_total',
    help: 'Shard reads that backed off after a retriable error.',
  },
  batch_duration_ms: {
    name: 'shardline_batch_duration_seconds',
    help: 'Time to process one page of records.',
  },
  iterator_age_ms: {
    name: 'shardline_iterator_age_milliseconds',
    help: 'How far behind the newest record of the shard the reader is (millisBehindLatest).',
  },
};

/**
 * Core {@link Metrics} on a prom-client registry, plus the worker's own gauges (leases held,
 * checkpoint age per shard) fed from core events. Served at `/metrics`.
 */
export class PrometheusMetrics implements Metrics {
  /** The registry `/metrics` serves. */
  readonly registry: Registry;
  readonly #counters = new Map<string, Counter<string>>();
  readonly #gauges = new Map<string, Gauge<string>>();
  readonly #histograms = new Map<string, Histogram<string>>();
  readonly #leasesHeld: Gauge<string>;
  readonly #lastCheckpointAt = new Map<string, number>();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    this.#leasesHeld = new Gauge({
      name: 'shardline_leases_held',
      help: 'Leases this worker holds.',
      registers: [registry],
    });
    const lastCheckpointAt = this.#lastCheckpointAt;
    new Gauge({
      name: 'shardline_checkpoint_age_seconds',
      help: 'Time since the shard last committed a checkpoint (checkpoint lag).',
      labelNames: ['shard'],
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const [shard, at] of lastCheckpointAt) this.set({ shard }, (now - at) / 1000);
      },
    });
  }

  /** Subscribes the worker's gauges to core events. */
  subscribe(events: EventBus, leasesHeld: () => number): void {
    const update = () => this.#leasesHeld.set(leasesHeld());
    events.on('lease.acquired', update);
    events.on('lease.lost', update);
    events.on('lease.released', update);
    events.on('shard.started', (e) => this.#lastCheckpointAt.set(e.shardId, Date.now()));
    events.on('checkpoint.committed', (e) => this.#lastCheckpointAt.set(e.shardId, Date.now()));
    events.on('shard.ended', (e) => this.#lastCheckpointAt.delete(e.shardId));
    events.on('lease.lost', (e) => this.#lastCheckpointAt.delete(shardOf(e.leaseKey)));
    events.on('lease.released', (e) => this.#lastCheckpointAt.delete(shardOf(e.leaseKey)));
  }

  increment(name: string, value = 1, labels?: MetricLabels): void {
    let counter = this.#counters.get(name);
    if (!counter) {
      const meta = describe(name, '_total');
      counter = new Counter({
        name: meta.name,
        help: meta.help,
        labelNames: Object.keys(labels ?? {}),
        registers: [this.registry],
      });
      this.#counters.set(name, counter);
    }
    if (labels) counter.inc(labels, value);
    else counter.inc(value);
  }

  observe(name: string, value: number, labels?: MetricLabels): void {
    let histogram = this.#histograms.get(name);
    const inSeconds = name.endsWith('_ms');
    if (!histogram) {
      const meta = describe(name, '');
      histogram = new Histogram({
        name: meta.name,
        help: meta.help,
        labelNames: Object.keys(labels ?? {}),
        buckets: inSeconds
          ? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
          : undefined,
        registers: [this.registry],
      });
      this.#histograms.set(name, histogram);
    }
    const v = inSeconds ? value / 1000 : value;
    if (labels) histogram.observe(labels, v);
    else histogram.observe(v);
  }

  gauge(name: string, value: number, labels?: MetricLabels): void {
    let gauge = this.#gauges.get(name);
    if (!gauge) {
      const meta = describe(name, '');
      gauge = new Gauge({
        name: meta.name,
        help: meta.help,
        labelNames: Object.keys(labels ?? {}),
        registers: [this.registry],
      });
      this.#gauges.set(name, gauge);
    }
    if (labels) gauge.set(labels, value);
    else gauge.set(value);
  }
}

/**
 * The Prometheus name a core metric is served under at `/metrics`, e.g. `iterator_age_ms` →
 * `shardline_iterator_age_milliseconds`. `suffix` is `_total` for counters, `''` otherwise.
 */
export function prometheusMetricName(coreName: string, suffix = ''): string {
  return describe(coreName, suffix).name;
}

function describe(name: string, suffix: string): { name: string; help: string } {
  const known = NAMES[name];
  if (known) return known;
  const clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return {
    name: `shardline_${clean.endsWith(suffix) ? clean : clean + suffix}`,
    help: `Shardline ${name}.`,
  };
}

function shardOf(leaseKey: string): string {
  return leaseKey.slice(leaseKey.lastIndexOf(':') + 1);
}
