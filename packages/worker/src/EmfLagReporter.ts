import { Metrics as EmfMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ConfigurationError, errorMessage, type Logger, silentLogger } from '@shardline/core';
import type { Registry } from 'prom-client';
import { prometheusMetricName } from './PrometheusMetrics.js';

/**
 * The CloudWatch metric {@link EmfLagReporter} writes, for alarms and autoscaling: the ECS
 * example's Terraform scales the service on exactly this namespace, name and dimension.
 */
export const EMF_LAG_METRIC = {
  /** The CloudWatch namespace. */
  namespace: 'Shardline',
  /**
   * Core's lag gauge (`millisBehindLatest` of a shard, in ms), under the same name as in core's
   * `Metrics` (served at `/metrics` as `shardline_iterator_age_milliseconds`).
   */
  metricName: 'iterator_age_ms',
  /** The one dimension (Powertools' `service`), whose value is the application name. */
  dimension: 'service',
  /** The CloudWatch unit. */
  unit: MetricUnit.Milliseconds,
} as const;

/** Default time between two reports: CloudWatch's standard one-minute resolution. */
export const DEFAULT_EMF_LAG_INTERVAL_MS = 60_000;

/** Options of {@link EmfLagReporter}. */
export interface EmfLagReporterOptions {
  /** The registry the worker serves at `/metrics` (`worker.metrics.registry`). */
  readonly registry: Registry;
  /** The application name: the value of the {@link EMF_LAG_METRIC} dimension. */
  readonly applicationName: string;
  /** The worker's id, written on each line as a property (not a dimension). */
  readonly workerId?: string;
  /** Time between two reports, in ms. @default DEFAULT_EMF_LAG_INTERVAL_MS */
  readonly intervalMs?: number;
  /** Where problems of a report are logged. @default silentLogger */
  readonly logger?: Logger;
}

/**
 * Publishes the worker's lag to CloudWatch in the Embedded Metric Format: every `intervalMs`,
 * one JSON line on stdout per shard the worker reads, carrying {@link EMF_LAG_METRIC} with the
 * application as its only dimension and the shard, its stream (when the gauge is labelled with
 * it) and the worker id as properties. On ECS the
 * `awslogs` log driver ships stdout to CloudWatch Logs, which turns each line into a data point,
 * so no agent and no `PutMetricData` permission are needed.
 *
 * Why one dimension: shard ids change as shards roll over (every few hours on DynamoDB
 * Streams), and a dimension per shard would make a new metric each time and could not be named
 * in an alarm. The `Maximum` statistic of the one metric is the lag of the slowest shard across
 * the whole fleet, which is what autoscaling and alarms need; the `shard` property tells which
 * one in CloudWatch Logs Insights. The values are read from the worker's Prometheus registry at
 * report time, so `/metrics` and CloudWatch always show the same lag. A worker that holds no
 * shard writes nothing (its lag is unknown, not zero).
 *
 * @example
 * const reporter = new EmfLagReporter({
 *   registry: worker.metrics.registry,
 *   applicationName: 'orders-consumer',
 *   workerId: worker.workerId,
 * });
 * reporter.start();
 */
export class EmfLagReporter {
  readonly #registry: Registry;
  readonly #workerId: string | undefined;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  readonly #emf: EmfMetrics;
  readonly #gaugeName = prometheusMetricName(EMF_LAG_METRIC.metricName);
  #timer: NodeJS.Timeout | undefined;

  constructor(options: EmfLagReporterOptions) {
    const intervalMs = options.intervalMs ?? DEFAULT_EMF_LAG_INTERVAL_MS;
    if (!Number.isInteger(intervalMs) || intervalMs < 1) {
      throw new ConfigurationError(
        `EmfLagReporter intervalMs must be a whole number of milliseconds of at least 1, e.g. ${DEFAULT_EMF_LAG_INTERVAL_MS}; got ${String(options.intervalMs)}.`,
      );
    }
    if (typeof options.applicationName !== 'string' || options.applicationName === '') {
      throw new ConfigurationError(
        `EmfLagReporter needs applicationName (the value of the "${EMF_LAG_METRIC.dimension}" dimension); got ${String(options.applicationName)}.`,
      );
    }
    this.#registry = options.registry;
    this.#workerId = options.workerId;
    this.#intervalMs = intervalMs;
    this.#logger = options.logger ?? silentLogger;
    const log = this.#logger;
    this.#emf = new EmfMetrics({
      namespace: EMF_LAG_METRIC.namespace,
      serviceName: options.applicationName,
      logger: {
        debug: (...content: unknown[]) => log.debug({ content }, 'emf'),
        info: (...content: unknown[]) => log.info({ content }, 'emf'),
        warn: (...content: unknown[]) => log.warn({ content }, 'emf'),
        error: (...content: unknown[]) => log.error({ content }, 'emf'),
      },
    });
  }

  /** Reports every `intervalMs` until {@link stop}; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.report().catch((error: unknown) =>
        this.#logger.warn(
          { err: error },
          `Could not report the lag to CloudWatch: ${errorMessage(error)}; trying again in ${this.#intervalMs} ms.`,
        ),
      );
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops reporting. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Writes one line per shard now; returns how many lines were written. */
  async report(): Promise<number> {
    const gauge = this.#registry.getSingleMetric(this.#gaugeName);
    if (!gauge) return 0;
    const { values } = await gauge.get();
    let lines = 0;
    for (const { labels, value } of values) {
      const shard = labels.shard;
      if (shard === undefined || !Number.isFinite(value)) continue;
      this.#emf.addMetric(EMF_LAG_METRIC.metricName, EMF_LAG_METRIC.unit, value);
      this.#emf.addMetadata('shard', String(shard));
      if (labels.stream !== undefined) this.#emf.addMetadata('stream', String(labels.stream));
      if (this.#workerId !== undefined) this.#emf.addMetadata('workerId', this.#workerId);
      this.#emf.publishStoredMetrics();
      lines++;
    }
    return lines;
  }
}
