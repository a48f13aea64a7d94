import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { ChangeRecord } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import {
  createRootLogger,
  createWorker,
  EmfLagReporter,
  loadWorkerSettings,
  type Worker,
} from '@shardline/worker';
import { z } from 'zod';

const tableName = z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name');

/** The service's own variables, validated with the worker's (unknown SHARDLINE_* are errors). */
const SERVICE_VARIABLES = {
  /** The table whose stream is consumed. */
  SHARDLINE_SOURCE_TABLE: tableName,
  /** Where each change is recorded (the sink). */
  SHARDLINE_AUDIT_TABLE: tableName,
  /**
   * Publish the lag to CloudWatch (EMF lines on stdout) every this many ms; unset or 0: off.
   * The Terraform's autoscaling policy scales on that metric.
   */
  SHARDLINE_EMF_LAG_INTERVAL_MS: z
    .string()
    .regex(/^\d+$/, 'must be a whole number of milliseconds, e.g. 60000 (0: off)')
    .transform(Number)
    .optional(),
};

/**
 * Builds and starts the consumer from the environment: `SHARDLINE_*` for Shardline, and the
 * standard `AWS_*` variables (region, credentials, `AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`) read by the AWS SDK itself.
 */
export async function startConsumer(
  env: Record<string, string | undefined> = process.env,
): Promise<Worker> {
  const settings = loadWorkerSettings(env, SERVICE_VARIABLES);
  const {
    SHARDLINE_SOURCE_TABLE: sourceTable,
    SHARDLINE_AUDIT_TABLE: auditTable,
    SHARDLINE_EMF_LAG_INTERVAL_MS: lagIntervalMs,
  } = settings.extra;
  const logger = createRootLogger({
    level: settings.logLevel ?? 'info',
    bindings: { applicationName: settings.applicationName },
  });
  const dynamodb = new DynamoDBClient({});
  const source = await DynamoDBStreamsSource.fromTable({
    dynamodb,
    tableName: sourceTable,
    client: new DynamoDBStreamsClient({}),
    logger: logger.child({ component: 'dynamodb-streams' }),
  });
  const { extra: _extra, logLevel: _level, ...workerSettings } = settings;
  const worker = createWorker({
    ...workerSettings,
    sources: source,
    dynamoDBClient: dynamodb,
    handleSignals: true,
    httpPort: settings.httpPort ?? 8080,
    logger,
    // The sink: one idempotent put per change (keyed by event id), so a replay rewrites the
    // same audit item.
    handler: (record: ChangeRecord, { signal }) =>
      dynamodb.send(
        new PutItemCommand({
          TableName: auditTable,
          Item: {
            eventId: { S: record.eventId },
            key: { S: record.orderingKey },
            eventName: { S: record.eventName },
            sequenceNumber: { S: record.sequenceNumber },
            shardId: { S: record.shardId },
          },
        }),
        { abortSignal: signal },
      ),
  });
  await worker.start();
  if (lagIntervalMs) {
    new EmfLagReporter({
      registry: worker.metrics.registry,
      applicationName: settings.applicationName,
      workerId: worker.workerId,
      intervalMs: lagIntervalMs,
      logger: logger.child({ component: 'emf-lag' }),
    }).start();
  }
  return worker;
}
