import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { countBy, isRetriableWriteError, planSummaryUpdates } from '../../src/index.js';
import { asBootstrap, userChange } from '../helpers/projection.js';

const metadata = { $metadata: {}, message: 'from the service' };

describe('isRetriableWriteError', () => {
  it('reads DynamoDB throttling as retriable, though the SDK models it as a client fault', () => {
    // arrange
    const throttles = [
      new ProvisionedThroughputExceededException(metadata),
      new ThrottlingException(metadata),
      new RequestLimitExceeded(metadata),
    ];
    // assert
    for (const error of throttles) {
      expect(error.$fault).toBe('client');
      expect(isRetriableWriteError(error)).toBe(true);
    }
  });

  it('reads a failed condition as permanent', () => {
    expect(isRetriableWriteError(new ConditionalCheckFailedException(metadata))).toBe(false);
  });
});

describe('the delta summary sink and bootstrap records', () => {
  it('refuses a bootstrap record, not retriable, naming the ledger sink', () => {
    // arrange
    const mapping = countBy({ attribute: 'name', counter: 'num' });
    const records = [
      asBootstrap(userChange({ id: 'u1', image: { name: 'a' }, order: 1, source: 'streams' })),
      userChange({ id: 'u2', image: { name: 'a' }, order: 2, source: 'streams', insert: true }),
    ];
    // act
    const plan = planSummaryUpdates(records, { mapping, watermarkPrefix: '_wm:' });
    // assert
    expect(plan.failures.get(0)?.retriable).toBe(false);
    expect(plan.failures.get(0)?.message).toMatch(/DynamoDBLedgerSummarySink/);
    expect(plan.failures.has(1)).toBe(false);
  });
});
