import { createRequire } from 'node:module';
import type { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { ConfigurationError, type MetricLabels, type Metrics } from '@shardline/core';
import { UNKNOWN_SHARD_ID } from './constants.js';

/** Options of {@link EmfMetrics}. */
export interface EmfMetricsOptions {
  /** The CloudWatch namespace of every metric (Powertools' `POWERTOOLS_METRICS_NAMESPACE` otherwise). */
  readonly namespace?: string;
  /** The `service` dimension (Powertools' `POWERTOOLS_SERVICE_NAME` otherwise). */
  readonly serviceName?: string;
  /**
   * A Powertools `Metrics` of your own (namespace, default dimensions, cold-start metric): the
   * handler's figures are published through it. Give it or `namespace`, not both.
   */
  readonly metrics?: PowertoolsMetrics;
}

/** How core metric names show in CloudWatch, with their EMF unit. */
const EMF_NAMES: Readonly<Record<string, { readonly name: string; readonly unit: EmfUnit }>> = {
  records_in_total: { name: 'RecordsIn', unit: 'Count' },
  records_out_total: { name: 'RecordsProcessed', unit: 'Count' },
  records_failed_total: { name: 'RecordsFailed', unit: 'Count' },
  records_parked_total: { name: 'RecordsParked', unit: 'Count' },
  records_retried_total: { name: 'RecordsRetried', unit: 'Count' },
  records_duplicate_total: { name: 'RecordsDuplicate', unit: 'Count' },
  records_filtered_total: { name: 'RecordsFiltered', unit: 'Count' },
  batch_item_failures_total: { name: 'BatchItemFailures', unit: 'Count' },
  batch_duration_ms: { name: 'BatchDuration', unit: 'Milliseconds' },
  iterator_age_ms: { name: 'IteratorAge', unit: 'Milliseconds' },
};

type EmfUnit = 'Count' | 'Milliseconds';

interface Series {
  readonly dimensions: Readonly<Record<string, string>>;
  /** Metric name → values: one sum for a counter, the last value for a gauge, all observations. */
  readonly values: Map<string, { unit: EmfUnit; values: number[]; kind: 'sum' | 'last' | 'all' }>;
}

/**
 * Core {@link Metrics} written as CloudWatch Embedded Metric Format through Powertools for AWS
 * Lambda's `Metrics`: the Lambda handler records into it during an invocation and calls
 * {@link flush} once at its end, which prints one EMF document per stream and shard to stdout,
 * where Lambda's log agent turns it into CloudWatch metrics (no API call, no latency).
 *
 * Metrics: `RecordsIn`, `RecordsProcessed`, `RecordsFailed`, `RecordsParked`, `RecordsRetried`,
 * `RecordsDuplicate`, `RecordsFiltered`, `BatchItemFailures` (Count); `BatchDuration`,
 * `IteratorAge` (Milliseconds: now − the arrival of the batch's newest record, Lambda's own
 * definition). Dimensions: `service`, `Stream` (the table name of a DynamoDB stream ARN, the
 * Kinesis stream name), and `Shard` for Kinesis, whose `eventID` names the shard. DynamoDB
 * Lambda records carry no shard id, so their figures are per stream (and function) only; other
 * labels (a filter reason) are summed, never turned into dimensions (each value would be a
 * metric of its own, billed as such).
 *
 * `@aws-lambda-powertools/metrics` is an optional peer dependency: install it to use this entry
 * point (`@shardline/lambda/emf`); nothing else of the package loads it.
 *
 * @example
 * import { EmfMetrics } from '@shardline/lambda/emf';
 * export const handler = createDynamoDBHandler({ handler, metrics: new EmfMetrics({ namespace: 'Orders' }) });
 */
export class EmfMetrics implements Metrics {
  readonly #powertools: PowertoolsMetrics;
  readonly #series = new Map<string, Series>();

  constructor(options: EmfMetricsOptions = {}) {
    if (options.metrics && (options.namespace || options.serviceName)) {
      throw new ConfigurationError(
        'EmfMetrics takes a Powertools metrics instance or namespace/serviceName, not both: set the namespace and service on the instance you pass.',
      );
    }
    this.#powertools =
      options.metrics ??
      new (loadPowertools())({
        ...(options.namespace ? { namespace: options.namespace } : {}),
        ...(options.serviceName ? { serviceName: options.serviceName } : {}),
      });
  }

  increment(name: string, value = 1, labels?: MetricLabels): void {
    this.#record(name, value, labels, 'sum');
  }

  observe(name: string, value: number, labels?: MetricLabels): void {
    this.#record(name, value, labels, 'all');
  }

  gauge(name: string, value: number, labels?: MetricLabels): void {
    this.#record(name, value, labels, 'last');
  }

  /** Prints what was recorded since the last flush, one EMF document per stream and shard. */
  flush(): void {
    for (const series of this.#series.values()) {
      for (const [key, value] of Object.entries(series.dimensions)) {
        this.#powertools.addDimension(key, value);
      }
      for (const [name, metric] of series.values) {
        for (const v of metric.values) this.#powertools.addMetric(name, metric.unit, v);
      }
      this.#powertools.publishStoredMetrics();
    }
    this.#series.clear();
  }

  #record(
    name: string,
    value: number,
    labels: MetricLabels | undefined,
    kind: 'sum' | 'last' | 'all',
  ): void {
    const dimensions = dimensionsOf(labels);
    const key = JSON.stringify(dimensions);
    let series = this.#series.get(key);
    if (!series) {
      series = { dimensions, values: new Map() };
      this.#series.set(key, series);
    }
    const known = EMF_NAMES[name];
    const metricName = known?.name ?? emfName(name);
    const unit = known?.unit ?? (name.endsWith('_ms') ? 'Milliseconds' : 'Count');
    const metric = series.values.get(metricName);
    if (!metric) {
      series.values.set(metricName, { unit, values: [value], kind });
    } else if (kind === 'sum') {
      metric.values[0] = (metric.values[0] ?? 0) + value;
    } else if (kind === 'last') {
      metric.values[0] = value;
    } else {
      metric.values.push(value);
    }
  }
}

// An optional peer: loaded when an EmfMetrics is built, so that importing this entry point
// without it fails only where it is used, with the fix.
const POWERTOOLS_METRICS = '@aws-lambda-powertools/metrics';

function loadPowertools(): typeof PowertoolsMetrics {
  try {
    const module = createRequire(import.meta.url)(POWERTOOLS_METRICS) as {
      Metrics: typeof PowertoolsMetrics;
    };
    return module.Metrics;
  } catch (error) {
    throw new ConfigurationError(
      `EmfMetrics writes through Powertools for AWS Lambda, which is not installed (${(error as Error).message.split('\n')[0]}). Install it: npm i @aws-lambda-powertools/metrics`,
    );
  }
}

/** `Stream` (a short name, from the ARN) and, when the records name one, `Shard`. */
function dimensionsOf(labels: MetricLabels | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (labels?.stream) out.Stream = streamName(labels.stream);
  const shard = labels?.shard;
  // Lambda's DynamoDB records name no shard: their figures are per stream.
  if (shard && shard !== UNKNOWN_SHARD_ID) out.Shard = shard;
  return out;
}

/** The table of a DynamoDB stream ARN, the stream of a Kinesis one; anything else as it is. */
function streamName(streamId: string): string {
  const dynamodb = /:table\/([^/]+)\/stream\//.exec(streamId);
  if (dynamodb) return dynamodb[1]!;
  const kinesis = /:stream\/([^/]+)$/.exec(streamId);
  return kinesis ? kinesis[1]! : streamId;
}

/** `opensearch_bulk_requests_total` → `OpensearchBulkRequests`. */
function emfName(name: string): string {
  return name
    .replace(/_(total|ms)$/, '')
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}
