import { ConfigurationError } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TABLE_REPLICA_CONFIG, readTableReplicaConfig } from '../../src/config.js';

describe('readTableReplicaConfig', () => {
  it('defaults to the Terraform names, the state tables after their tables, every attribute', () => {
    // act
    const config = readTableReplicaConfig({});

    // assert
    expect(config).toEqual(DEFAULT_TABLE_REPLICA_CONFIG);
    expect(config.replicaStateTable).toBe('Users-replica-state');
    expect(config.replicaAttributes).toBeUndefined();
  });

  it('reads the variables, REPLICA_ATTRIBUTES as a trimmed comma list', () => {
    // act
    const config = readTableReplicaConfig({
      SOURCE_TABLE: 'Accounts',
      REPLICA_TABLE: 'Accounts-copy',
      DERIVED_TABLE: 'AccountsByCountry',
      SHARDLINE_APP: 'accounts-copy',
      REPLICA_ATTRIBUTES: ' name, email ,country',
      FAILURE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/accounts-failures',
    });

    // assert
    expect(config).toEqual({
      sourceTable: 'Accounts',
      replicaTable: 'Accounts-copy',
      replicaStateTable: 'Accounts-copy-state',
      derivedTable: 'AccountsByCountry',
      derivedStateTable: 'AccountsByCountry-state',
      leaseTable: 'accounts-copy',
      applicationName: 'accounts-copy',
      replicaAttributes: ['name', 'email', 'country'],
      failureQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/accounts-failures',
    });
  });

  it.each([
    [{ REPLICA_TABLE: 'x' }, /REPLICA_TABLE="x" is not a valid DynamoDB table name/],
    [{ REPLICA_TABLE: 'Users' }, /SOURCE_TABLE and REPLICA_TABLE are both "Users"/],
    [
      { DERIVED_STATE_TABLE: 'Users-replica-state' },
      /REPLICA_STATE_TABLE and DERIVED_STATE_TABLE are both "Users-replica-state"/,
    ],
    [{ REPLICA_ATTRIBUTES: 'name,,email' }, /REPLICA_ATTRIBUTES="name,,email" has an empty/],
    [{ FAILURE_QUEUE_URL: 'failures' }, /FAILURE_QUEUE_URL="failures" is not an SQS queue URL/],
  ])('refuses %j, naming the variable and the fix', (env, message) => {
    // act
    const read = () => readTableReplicaConfig(env);

    // assert
    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(message);
  });
});
