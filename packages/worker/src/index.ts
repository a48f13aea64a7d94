export { type MonotonicClock, monotonicNow } from './clock.js';
export { createRootLogger, type RootLoggerOptions } from './createRootLogger.js';
export {
  DEFAULT_EMF_LAG_INTERVAL_MS,
  EMF_LAG_METRIC,
  EmfLagReporter,
  type EmfLagReporterOptions,
} from './EmfLagReporter.js';
export { type HealthProbe, HealthServer } from './HealthServer.js';
export {
  InMemoryLeaseStore,
  type InMemoryLeaseStoreOptions,
  type LeaseStoreCallCounts,
} from './InMemoryLeaseStore.js';
export {
  DEFAULT_FULL_SCAN_INTERVAL_MS,
  DEFAULT_LEASE_DURATION_MS,
  LeaseCoordinator,
  type LeaseCoordinatorOptions,
  type LeaseListener,
} from './LeaseCoordinator.js';
export { PrometheusMetrics, prometheusMetricName } from './PrometheusMetrics.js';
export { parentsDone } from './parentsDone.js';
export {
  type BalanceInput,
  type BalancePlan,
  planBalance,
  type WorkerLoad,
} from './planBalance.js';
export {
  type LoadWorkerSettingsOptions,
  loadWorkerSettings,
  WORKER_ENV_VARIABLES,
  type WorkerSettings,
} from './settings.js';
export {
  createWorker,
  DEFAULT_WORKER,
  type InitialPosition,
  Worker,
  type WorkerOptions,
} from './Worker.js';
