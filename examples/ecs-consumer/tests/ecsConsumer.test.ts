import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBLocalServer,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynamoDBLocal,
} from '@shardline/testing';
import { EMF_LAG_METRIC } from '@shardline/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let server: DynamoDBLocalServer;
let client: DynamoDBClient;

function runService(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_NO_WARNINGS: '1',
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: server.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: server.endpoint,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, output: () => output };
}

interface EmfDirective {
  CloudWatchMetrics: unknown[];
}

function emfLines(output: string): number {
  return output.split('\n').filter((l) => l.startsWith('{"_aws"')).length;
}

async function count(table: string): Promise<number> {
  const out = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT' }));
  return out.Count ?? 0;
}

beforeAll(async () => {
  server = await startDynamoDBLocal();
  client = new DynamoDBClient(server.clientConfig);
  await client.send(
    new CreateTableCommand({
      TableName: 'orders',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await client.send(
    new CreateTableCommand({
      TableName: 'orders-audit',
      AttributeDefinitions: [{ AttributeName: 'eventId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'eventId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('ecs-consumer service', () => {
  it('consumes the table stream, and on SIGTERM exits 0 with its leases released', async () => {
    // arrange
    for (let i = 0; i < 20; i++) {
      await client.send(
        new PutItemCommand({
          TableName: 'orders',
          Item: { id: { S: `order-${i}` }, n: { N: String(i) } },
        }),
      );
    }
    const service = runService({
      SHARDLINE_APP: 'orders-consumer',
      SHARDLINE_SOURCE_TABLE: 'orders',
      SHARDLINE_AUDIT_TABLE: 'orders-audit',
      SHARDLINE_HTTP_PORT: '0',
      SHARDLINE_LEASE_DURATION_MS: '3000',
      SHARDLINE_COMMIT_INTERVAL_MS: '200',
      SHARDLINE_EMF_LAG_INTERVAL_MS: '200',
    });
    const deadline = Date.now() + 45_000;
    while ((await count('orders-audit').catch(() => 0)) < 20 || emfLines(service.output()) < 1) {
      if (Date.now() > deadline || service.child.exitCode !== null)
        throw new Error(service.output());
      await new Promise((r) => setTimeout(r, 200));
    }
    // act
    service.child.kill('SIGTERM');
    const code = await service.exited;
    // assert
    expect(code).toBe(0);
    const leases = await client.send(new ScanCommand({ TableName: 'orders-consumer' }));
    const shardLeases = (leases.Items ?? []).filter((i) => i.leaseKey?.S !== '__shardline_fleet__');
    expect(shardLeases.length).toBeGreaterThan(0);
    expect(shardLeases.every((i) => i.leaseOwner === undefined)).toBe(true);
    expect(shardLeases.every((i) => /^\d+$/.test(i.checkpoint?.S ?? ''))).toBe(true);
    expect(await count('orders-audit')).toBe(20);
    // the lag reaches stdout as CloudWatch EMF, under the name the Terraform scales on
    const emf = service
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: EmfDirective });
    expect(emf.length).toBeGreaterThan(0);
    for (const line of emf) {
      expect(line._aws.CloudWatchMetrics).toEqual([
        {
          Namespace: EMF_LAG_METRIC.namespace,
          Dimensions: [[EMF_LAG_METRIC.dimension]],
          Metrics: [{ Name: EMF_LAG_METRIC.metricName, Unit: EMF_LAG_METRIC.unit }],
        },
      ]);
      expect(line[EMF_LAG_METRIC.dimension]).toBe('orders-consumer');
      expect(typeof line[EMF_LAG_METRIC.metricName]).toBe('number');
      expect(shardLeases.some((l) => l.leaseKey?.S?.endsWith(String(line.shard)))).toBe(true);
    }
  });

  it('refuses to start on an unknown SHARDLINE_ variable, naming it and the fix', async () => {
    const service = runService({
      SHARDLINE_APP: 'orders-consumer',
      SHARDLINE_SOURCE_TABLE: 'orders',
      SHARDLINE_AUDIT_TABLE: 'orders-audit',
      SHARDLINE_LEASE_DURATION: '3000',
    });
    const code = await service.exited;
    expect(code).toBe(78);
    expect(service.output()).toContain(
      'SHARDLINE_LEASE_DURATION is not a Shardline setting (did you mean SHARDLINE_LEASE_DURATION_MS?)',
    );
  });
});
