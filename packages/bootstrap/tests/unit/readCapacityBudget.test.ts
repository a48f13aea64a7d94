import { describe, expect, it } from 'vitest';
import { ON_DEMAND_ASSUMED_RCU, readCapacityBudget } from '../../src/index.js';

describe('readCapacityBudget', () => {
  it('takes readPercent (default 0.5) of the provisioned read capacity', () => {
    const table = { ProvisionedThroughput: { ReadCapacityUnits: 400 } };
    expect(readCapacityBudget(table, {})).toMatchObject({
      unitsPerSecond: 200,
      basis: 'provisioned',
    });
    expect(readCapacityBudget(table, { readPercent: 0.25 }).unitsPerSecond).toBe(100);
  });

  it('assumes a documented capacity for an on-demand table, capped by its maximum', () => {
    const onDemand = {
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' as const },
      ProvisionedThroughput: { ReadCapacityUnits: 0 },
    };
    expect(readCapacityBudget(onDemand, {})).toMatchObject({
      unitsPerSecond: ON_DEMAND_ASSUMED_RCU / 2,
      basis: 'on-demand-assumed',
    });
    expect(
      readCapacityBudget({ ...onDemand, OnDemandThroughput: { MaxReadRequestUnits: 300 } }, {}),
    ).toMatchObject({ unitsPerSecond: 150, basis: 'on-demand-max' });
    expect(readCapacityBudget(onDemand, { readCapacityUnits: 10_000 })).toMatchObject({
      unitsPerSecond: 5_000,
      basis: 'given',
    });
  });

  it('refuses a percent outside (0, 1.5] and a capacity that is not above 0', () => {
    expect(() => readCapacityBudget({}, { readPercent: 0 })).toThrow(/readPercent/);
    expect(() => readCapacityBudget({}, { readPercent: 1.6 })).toThrow(/at most 1.5/);
    expect(() => readCapacityBudget({}, { readCapacityUnits: -1 })).toThrow(/readCapacityUnits/);
  });
});
