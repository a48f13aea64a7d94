/** Labels of one metric sample. */
export type MetricLabels = Readonly<Record<string, string>>;

/**
 * Where Shardline's components record metrics. The worker maps it to prom-client; the Lambda
 * runtime maps it to CloudWatch Embedded Metric Format (`@shardline/lambda/emf`); tests use
 * {@link InMemoryMetrics}.
 *
 * Names used by Shardline, every per-shard one labelled `stream` (the stream ARN) and `shard`
 * (the shard id): `records_read_total`, `records_in_total`, `records_out_total`,
 * `records_failed_total`, `records_parked_total`, `records_retried_total`,
 * `records_duplicate_total`, `records_filtered_total` (also `reason`: `filter`, `ttl-delete`,
 * `replication`, `other-region`), `batch_duration_ms` (observe), `batch_retries_total`,
 * `read_throttled_total`, `iterator_reacquired_total`, `shard_data_trimmed_total` (also
 * `policy`), `iterator_age_ms` (gauge, in ms: the lag defined on `ShardLag`, tracked while the
 * shard is read here and removed when it stops), `batch_item_failures_total` (Lambda), `fan_out_subscriptions_renewed_total` (also `reason`),
 * `kpl_user_records_out_of_range_total` (also `action`: `delivered` or `skipped`). Listings:
 * `describe_throttled_total`, `list_shards_throttled_total` (label `stream` only).
 *
 * No label carries a sequence number, a key or any other per-record value: every label value is
 * a time series of its own. Those are in the events and the log lines.
 */
export interface Metrics {
  increment(name: string, value?: number, labels?: MetricLabels): void;
  observe(name: string, value: number, labels?: MetricLabels): void;
  gauge(name: string, value: number, labels?: MetricLabels): void;
  /**
   * A gauge read when the metrics are collected (a Prometheus scrape) instead of when a value is
   * pushed: `sample` gives the value then, or `undefined` for no value. Returns a function that
   * removes the series (a shard that ended or went to another worker keeps no gauge here).
   * Optional: metrics written once per invocation (EMF) push with {@link gauge} instead.
   */
  track?(name: string, labels: MetricLabels, sample: () => number | undefined): () => void;
  /**
   * Writes what is buffered (EMF). The Lambda handler calls it once at the end of every
   * invocation; the worker never needs it (Prometheus is pulled).
   */
  flush?(): void;
}

/** Metrics that go nowhere. */
export const noopMetrics: Metrics = {
  increment() {},
  observe() {},
  gauge() {},
};

/** Metrics kept in memory, for tests and for the CLI's live view. */
export class InMemoryMetrics implements Metrics {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  readonly observations = new Map<string, number[]>();
  readonly #tracked = new Map<string, () => number | undefined>();

  increment(name: string, value = 1, labels?: MetricLabels): void {
    const key = metricKey(name, labels);
    this.counters.set(key, (this.counters.get(key) ?? 0) + value);
  }

  observe(name: string, value: number, labels?: MetricLabels): void {
    const key = metricKey(name, labels);
    let list = this.observations.get(key);
    if (!list) {
      list = [];
      this.observations.set(key, list);
    }
    list.push(value);
  }

  gauge(name: string, value: number, labels?: MetricLabels): void {
    this.gauges.set(metricKey(name, labels), value);
  }

  track(name: string, labels: MetricLabels, sample: () => number | undefined): () => void {
    const key = metricKey(name, labels);
    this.#tracked.set(key, sample);
    return () => {
      if (this.#tracked.get(key) === sample) this.#tracked.delete(key);
    };
  }

  /** The gauge's value now: a tracked gauge sampled, else the last value pushed. */
  gaugeValue(name: string, labels?: MetricLabels): number | undefined {
    const key = metricKey(name, labels);
    const sample = this.#tracked.get(key);
    return sample ? sample() : this.gauges.get(key);
  }

  /** Whether a tracked gauge with these labels exists (removed when its shard stopped). */
  isTracked(name: string, labels?: MetricLabels): boolean {
    return this.#tracked.has(metricKey(name, labels));
  }

  /** The counter's value, 0 when never incremented. */
  counter(name: string, labels?: MetricLabels): number {
    return this.counters.get(metricKey(name, labels)) ?? 0;
  }
}

function metricKey(name: string, labels?: MetricLabels): string {
  if (!labels) return name;
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
  return `${name}{${parts.join(',')}}`;
}
