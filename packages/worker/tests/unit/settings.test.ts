import { ConfigurationError } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadWorkerSettings } from '../../src/index.js';

describe('loadWorkerSettings', () => {
  it('reads and converts SHARDLINE_* variables, ignoring others', () => {
    // arrange
    const env = {
      SHARDLINE_APP: 'orders-consumer',
      SHARDLINE_LEASE_DURATION_MS: '5000',
      SHARDLINE_HTTP_PORT: '8080',
      SHARDLINE_INITIAL_POSITION: 'LATEST',
      AWS_REGION: 'eu-west-1',
    };
    // act
    const settings = loadWorkerSettings(env);
    // assert
    expect(settings).toEqual({
      applicationName: 'orders-consumer',
      leaseDurationMs: 5000,
      httpPort: 8080,
      initialPosition: 'LATEST',
      extra: {},
    });
  });

  it('reads the application from SHARDLINE_APP without a warning', () => {
    // arrange
    const warnings: string[] = [];
    const logger = { warn: (_: object, msg?: string) => warnings.push(msg ?? '') };
    // act
    const settings = loadWorkerSettings({ SHARDLINE_APP: 'orders' }, undefined, { logger });
    // assert
    expect(settings.applicationName).toBe('orders');
    expect(warnings).toEqual([]);
  });

  it('accepts the deprecated SHARDLINE_APPLICATION_NAME and warns to rename it', () => {
    // arrange
    const warnings: string[] = [];
    const logger = { warn: (_: object, msg?: string) => warnings.push(msg ?? '') };
    // act
    const settings = loadWorkerSettings({ SHARDLINE_APPLICATION_NAME: 'orders' }, undefined, {
      logger,
    });
    // assert
    expect(settings.applicationName).toBe('orders');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      'SHARDLINE_APPLICATION_NAME is deprecated: rename it to SHARDLINE_APP',
    );
  });

  it('rejects SHARDLINE_APP and SHARDLINE_APPLICATION_NAME naming different applications', () => {
    expect(() =>
      loadWorkerSettings(
        { SHARDLINE_APP: 'orders', SHARDLINE_APPLICATION_NAME: 'payments' },
        undefined,
        { logger: { warn() {} } },
      ),
    ).toThrow(/name different applications; remove SHARDLINE_APPLICATION_NAME/);
  });

  it('reads an AT_TIMESTAMP initial position with its time', () => {
    const settings = loadWorkerSettings({
      SHARDLINE_APP: 'app',
      SHARDLINE_INITIAL_POSITION: 'AT_TIMESTAMP',
      SHARDLINE_INITIAL_TIMESTAMP: '2026-12-01T06:30:00Z',
    });
    expect(settings.initialPosition).toEqual({
      type: 'AT_TIMESTAMP',
      timestamp: new Date('2026-12-01T06:30:00Z'),
    });
  });

  it.each([
    [
      { SHARDLINE_INITIAL_POSITION: 'AT_TIMESTAMP' },
      /SHARDLINE_INITIAL_POSITION=AT_TIMESTAMP needs SHARDLINE_INITIAL_TIMESTAMP/,
    ],
    [
      { SHARDLINE_INITIAL_TIMESTAMP: '2026-12-01T00:00:00Z' },
      /SHARDLINE_INITIAL_TIMESTAMP is set but SHARDLINE_INITIAL_POSITION is not AT_TIMESTAMP/,
    ],
    [
      { SHARDLINE_INITIAL_POSITION: 'AT_TIMESTAMP', SHARDLINE_INITIAL_TIMESTAMP: 'yesterday' },
      /SHARDLINE_INITIAL_TIMESTAMP="yesterday" is invalid: must be an ISO 8601 time/,
    ],
  ])('rejects an AT_TIMESTAMP setting that does not add up: %o', (env, message) => {
    expect(() => loadWorkerSettings({ SHARDLINE_APP: 'app', ...env })).toThrow(message);
  });

  it.each([
    [
      { SHARDLINE_APP: 'app', SHARDLINE_LEASE_DURATION: '1' },
      /SHARDLINE_LEASE_DURATION is not a Shardline setting \(did you mean SHARDLINE_LEASE_DURATION_MS\?\)/,
    ],
    [
      { SHARDLINE_APP: 'app', SHARDLINE_LEASE_DURATION_MS: '10s' },
      /SHARDLINE_LEASE_DURATION_MS="10s" is invalid: must be a whole number of milliseconds/,
    ],
    [
      { SHARDLINE_APP: 'app', SHARDLINE_HTTP_PORT: '70000' },
      /SHARDLINE_HTTP_PORT="70000" is invalid/,
    ],
    [{}, /SHARDLINE_APP is required/],
  ])('rejects %j with an error naming the variable', (env, message) => {
    expect(() => loadWorkerSettings(env)).toThrow(ConfigurationError);
    expect(() => loadWorkerSettings(env)).toThrow(message);
  });

  it('reads SHARDLINE_FILTERS (a FilterCriteria object, as JSON) and SHARDLINE_TTL_DELETES', () => {
    // arrange
    const criteria = { Filters: [{ Pattern: '{"eventName":["INSERT"]}' }] };
    const env = {
      SHARDLINE_APP: 'app',
      SHARDLINE_FILTERS: JSON.stringify(criteria),
      SHARDLINE_TTL_DELETES: 'skip',
    };
    // act
    const settings = loadWorkerSettings(env);
    // assert
    expect(settings).toMatchObject({ filters: criteria, ttlDeletes: 'skip' });
  });

  it.each([
    [
      { SHARDLINE_FILTERS: '{eventName:' },
      /SHARDLINE_FILTERS=.* is invalid: must be a FilterCriteria/,
    ],
    [
      { SHARDLINE_FILTERS: '[{"eventName":"INSERT"}]' },
      /SHARDLINE_FILTERS=.* is invalid: .*a field takes a rule list/,
    ],
    [{ SHARDLINE_TTL_DELETES: 'archive' }, /SHARDLINE_TTL_DELETES="archive" is invalid/],
  ])('rejects a malformed %j naming the variable and the pattern problem', (env, message) => {
    expect(() => loadWorkerSettings({ SHARDLINE_APP: 'app', ...env })).toThrow(message);
  });

  it("validates a service's own SHARDLINE_* variables the same way", () => {
    const settings = loadWorkerSettings(
      { SHARDLINE_APP: 'app', SHARDLINE_SOURCE_TABLE: 'orders' },
      { SHARDLINE_SOURCE_TABLE: z.string().min(3) },
    );
    expect(settings.extra.SHARDLINE_SOURCE_TABLE).toBe('orders');
  });
});
