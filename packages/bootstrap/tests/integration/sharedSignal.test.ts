import { DynamoDBClient, GetItemCommand, type GetItemCommandInput } from '@aws-sdk/client-dynamodb';
import { type DynamoDBLocalServer, startDynamoDBLocal } from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapTable } from '../../src/index.js';
import { createLeaseTable, createSourceTable, fillTable, tableName } from '../helpers/tables.js';

// One bootstrap hands one signal to every segment's scans and to every handler call of every
// page at once (`concurrency` keys in flight per segment), and the AWS SDK adds an abort
// listener to it for the life of each request: with more than 10 at once, Node warns
// "MaxListenersExceededWarning: Possible EventTarget memory leak detected" with nothing leaking,
// as the worker's shard signal did before aee6efe.

let server: DynamoDBLocalServer;
let client: DynamoDBClient;

beforeAll(async () => {
  server = await startDynamoDBLocal();
  client = new DynamoDBClient(server.clientConfig);
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describe('bootstrapTable with a handler that calls AWS with its signal', () => {
  it('sets off no MaxListenersExceededWarning', async () => {
    // arrange: 2 segments, 10 keys in flight each, every call a GetItem under context.signal
    const table = tableName('src');
    const leases = tableName('leases');
    await createSourceTable(client, table);
    await createLeaseTable(client, leases);
    await fillTable(client, table, 200, 10);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning);
    };
    process.on('warning', onWarning);
    let calls = 0;
    try {
      // act
      const result = await bootstrapTable({
        client,
        table,
        progressTable: leases,
        segments: 2,
        concurrency: 10,
        handler: async (record, context) => {
          await client.send(
            new GetItemCommand({
              TableName: table,
              Key: record.marshalledKeys as GetItemCommandInput['Key'],
            }),
            {
              abortSignal: context.signal,
            },
          );
          calls++;
        },
      });
      await new Promise((resolve) => setImmediate(resolve));
      // assert
      expect(result.items).toBe(200);
    } finally {
      process.off('warning', onWarning);
    }
    expect(calls).toBe(200);
    expect(warnings.map((w) => w.message)).toEqual([]);
  });
});
