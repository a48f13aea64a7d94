export { type MonotonicClock, monotonicNow } from './clock.js';
export { buildConsoleState, type ConsoleStateInput } from './console/buildConsoleState.js';
export { ConsoleHistory, type ShardSample } from './console/ConsoleHistory.js';
export { ConsoleJournal, type ConsoleJournalOptions } from './console/ConsoleJournal.js';
export type {
  ConsoleErrorEntry,
  ConsoleHistoryState,
  ConsoleParkedRecord,
  ConsoleSample,
  ConsoleSeries,
  ConsoleShard,
  ConsoleState,
  ConsoleWorker,
} from './console/ConsoleState.js';
export {
  type ConsoleRequestHandler,
  consoleRequestHandler,
} from './console/consoleRequestHandler.js';
export {
  type LeaseTableSnapshot,
  LeaseTableView,
  type LeaseTableViewOptions,
  type ObservedWorker,
} from './console/LeaseTableView.js';
export { SampleTimer, type SampleTimerOptions } from './console/SampleTimer.js';
export {
  type ConsoleOptions,
  DEFAULT_CONSOLE,
  WorkerConsole,
  type WorkerConsoleOptions,
} from './console/WorkerConsole.js';
export { createRootLogger, type RootLoggerOptions } from './createRootLogger.js';
export {
  DEFAULT_EMF_LAG_INTERVAL_MS,
  EMF_LAG_METRIC,
  EmfLagReporter,
  type EmfLagReporterOptions,
} from './EmfLagReporter.js';
export { defaultHttpHost, type HealthProbe, HealthServer } from './HealthServer.js';
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
