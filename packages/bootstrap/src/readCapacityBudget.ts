import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { ConfigurationError } from '@shardline/core';

/** Defaults of the read-capacity budget (see {@link readCapacityBudget}). */
export const DEFAULT_READ_PERCENT = 0.5;

/**
 * The read capacity assumed for an on-demand table when `readCapacityUnits` is not given:
 * 4,000 RCU, so the default budget is 2,000 RCU/s. On-demand tables serve at least 12,000 RCU
 * from creation on (twice a previous peak thereafter) before they throttle, so a third of that
 * leaves the table's own traffic the larger share. AWS Glue assumes 40,000 for on-demand
 * tables, which a new table would not serve without throttling; give `readCapacityUnits` (the
 * table's observed peak, from CloudWatch's ConsumedReadCapacityUnits) to use more.
 */
export const ON_DEMAND_ASSUMED_RCU = 4_000;

/** The highest `readPercent` (as AWS Glue's `dynamodb.throughput.read.percent`). */
export const MAX_READ_PERCENT = 1.5;

/** The budget a bootstrap reads within, and where it came from. */
export interface ReadCapacityBudget {
  /** RCU per second the Scan may consume: `readPercent × baseUnits`. */
  readonly unitsPerSecond: number;
  /** The capacity the percent applies to. */
  readonly baseUnits: number;
  /** Where `baseUnits` came from. */
  readonly basis: 'provisioned' | 'given' | 'on-demand-assumed' | 'on-demand-max';
  readonly readPercent: number;
}

/**
 * The budget of a Scan of `table`: `readPercent` (0 < p ≤ 1.5, default 0.5) of the table's
 * provisioned read capacity; for an on-demand table, of `readCapacityUnits` when given, else of
 * the table's `OnDemandThroughput.MaxReadRequestUnits` when set, else of
 * {@link ON_DEMAND_ASSUMED_RCU}. `readCapacityUnits` overrides the table's figure in every mode.
 */
export function readCapacityBudget(
  table: TableDescription,
  options: { readonly readPercent?: number; readonly readCapacityUnits?: number },
): ReadCapacityBudget {
  const readPercent = options.readPercent ?? DEFAULT_READ_PERCENT;
  if (!(Number.isFinite(readPercent) && readPercent > 0 && readPercent <= MAX_READ_PERCENT)) {
    throw new ConfigurationError(
      `readPercent must be above 0 and at most ${MAX_READ_PERCENT} (the share of the table's read capacity the bootstrap may use), got ${String(options.readPercent)}; e.g. 0.25 for a quarter.`,
    );
  }
  const given = options.readCapacityUnits;
  if (given !== undefined && !(Number.isFinite(given) && given > 0)) {
    throw new ConfigurationError(
      `readCapacityUnits must be a number above 0 (the table's read capacity per second), got ${String(given)}; leave it unset to read it from DescribeTable.`,
    );
  }
  const budget = (baseUnits: number, basis: ReadCapacityBudget['basis']): ReadCapacityBudget => ({
    unitsPerSecond: readPercent * baseUnits,
    baseUnits,
    basis,
    readPercent,
  });
  if (given !== undefined) return budget(given, 'given');
  const onDemand = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST';
  const provisioned = table.ProvisionedThroughput?.ReadCapacityUnits ?? 0;
  if (!onDemand && provisioned > 0) return budget(provisioned, 'provisioned');
  const max = table.OnDemandThroughput?.MaxReadRequestUnits;
  if (max !== undefined && max > 0) {
    return budget(Math.min(max, ON_DEMAND_ASSUMED_RCU), 'on-demand-max');
  }
  return budget(ON_DEMAND_ASSUMED_RCU, 'on-demand-assumed');
}
