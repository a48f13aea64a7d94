export {
  type BootstrapCommonOptions,
  type BootstrapDeliveryOptions,
  type BootstrapProgress,
  type BootstrapProgressTable,
  type BootstrapResult,
  type BootstrapTableOptions,
  bootstrapTable,
  DEFAULT_BOOTSTRAP,
} from './bootstrapTable.js';
export { BootstrapIncompleteError } from './errors.js';
export { pageLimitFor, ReadBudget, type ReadBudgetOptions } from './ReadBudget.js';
export {
  DEFAULT_READ_PERCENT,
  MAX_READ_PERCENT,
  ON_DEMAND_ASSUMED_RCU,
  type ReadCapacityBudget,
  readCapacityBudget,
} from './readCapacityBudget.js';
