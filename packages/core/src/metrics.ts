/** Labels of one metric sample. */
export type MetricLabels = Readonly<Record<string, string>>;

/**
 * Where Shardline's components record metrics. The worker maps it to prom-client; the Lambda
 * runtime may map it to CloudWatch EMF; tests use {@link InMemoryMetrics}.
 *
 * Names used by Shardline: `records_in_total`, `records_out_total`, `records_failed_total`,
 * `records_parked_total`, `records_retried_total`, `records_duplicate_total`,
 * `records_filtered_total` (labels `shard`, `reason`: `filter`, `ttl-delete`, `replication`,
 * `other-region`),
 * `batch_duration_ms` (observe), `iterator_age_ms` (gauge, label `shard`),
 * `kpl_user_records_out_of_range_total` (labels `shard`, `action`: `delivered` or `skipped`;
 * the sequence and sub-sequence numbers are in the `record.outOfRange` event and the log line,
 * never in labels, whose every value is a time series of its own).
 */
export interface Metrics {
  increment(name: string, value?: number, labels?: MetricLabels): void;
  observe(name: string, value: number, labels?: MetricLabels): void;
  gauge(name: string, value: number, labels?: MetricLabels): void;
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
