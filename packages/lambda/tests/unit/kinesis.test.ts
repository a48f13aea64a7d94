import { type ChangeRecord, InMemoryFailureDestination, silentLogger } from '@shardline/core';
import {
  makeDynamoDBEvent,
  makeKinesisDynamoDBRecord,
  makeKinesisEvent,
  makeKinesisRecord,
} from '@shardline/testing';
import type { DynamoDBStreamEvent, KinesisStreamEvent, KinesisStreamHandler } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../src/index.js';
import { createKinesisHandler } from '../../src/kinesis.js';
import { fakeContext, kplAggregate, loadFixture, permanentError } from '../helpers/lambda.js';

describe('Kinesis events', () => {
  it('decodes the documented sample Kinesis event and keeps order within the partition key', async () => {
    // arrange
    const event = loadFixture<KinesisStreamEvent>('kinesis-sample-event.json');
    const seen: string[] = [];
    const handler = createLambdaHandler({
      logger: silentLogger,
      handler: (record) => {
        seen.push(`${record.shardId} ${Buffer.from(record.data!).toString('utf8')}`);
      },
    });
    // act
    const response = await handler(event, fakeContext(10_000));
    // assert
    expect(response).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([
      'shardId-000000000006 Hello, this is a test.',
      'shardId-000000000006 This is only a test.',
    ]);
  });

  it('reports the Kinesis sequence number of the first failed record', async () => {
    // arrange
    const event = loadFixture<KinesisStreamEvent>('kinesis-sample-event.json');
    const handler = createKinesisHandler({
      logger: silentLogger,
      retry: { maxAttempts: 1 },
      handler: (record) => {
        if (Buffer.from(record.data!).toString().startsWith('Hello')) throw permanentError();
      },
    });
    // act
    const response = await handler(event);
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: event.Records[0]!.kinesis.sequenceNumber },
    ]);
  });

  it('reports a KPL aggregate whole when one of its user records is not done', async () => {
    // arrange
    const aggregate = await kplAggregate([
      { partitionKey: 'a', data: 'a1' },
      { partitionKey: 'b', data: 'b1' },
      { partitionKey: 'a', data: 'a2' },
    ]);
    const before = makeKinesisRecord({ partitionKey: 'c', data: 'c1' });
    const aggregated = makeKinesisRecord({
      partitionKey: aggregate.partitionKey,
      data: aggregate.data,
    });
    const after = makeKinesisRecord({ partitionKey: 'b', data: 'b2' });
    const event = makeKinesisEvent([before, aggregated, after]);
    const applied: string[] = [];
    let failB1 = true;
    const handler = createKinesisHandler({
      logger: silentLogger,
      retry: { maxAttempts: 1 },
      handler: (record) => {
        const text = Buffer.from(record.data!).toString();
        if (text === 'b1' && failB1) throw permanentError();
        applied.push(text);
      },
    });
    // act
    const first = await handler(event, fakeContext(10_000));
    failB1 = false;
    const redelivered = makeKinesisEvent([aggregated, after]);
    const second = await handler(redelivered, fakeContext(10_000));
    // assert
    expect(first.batchItemFailures).toEqual([
      { itemIdentifier: aggregated.kinesis.sequenceNumber },
    ]);
    expect(second.batchItemFailures).toEqual([]);
    expect([...applied].sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);
    expect(applied.indexOf('b1')).toBeLessThan(applied.indexOf('b2'));
  });

  it('parks one user record of an aggregate with the whole Lambda record and its sub-sequence', async () => {
    // arrange
    const aggregate = await kplAggregate([
      { partitionKey: 'a', data: 'ok' },
      { partitionKey: 'b', data: 'poison' },
    ]);
    const record = makeKinesisRecord({
      partitionKey: aggregate.partitionKey,
      data: aggregate.data,
    });
    const destination = new InMemoryFailureDestination();
    const handler = createKinesisHandler({
      logger: silentLogger,
      failureDestination: destination,
      retry: { maxAttempts: 1 },
      handler: (r) => {
        if (Buffer.from(r.data!).toString() === 'poison') throw permanentError();
      },
    });
    // act
    const response = await handler(makeKinesisEvent([record]));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(destination.records).toHaveLength(1);
    expect(destination.records[0]).toMatchObject({
      record,
      source: 'kinesis',
      sequenceNumber: record.kinesis.sequenceNumber,
      subSequenceNumber: 1,
      orderingKey: 'b',
    });
  });

  it('decodes "Kinesis Data Streams for DynamoDB" payloads into keys and images', async () => {
    // arrange
    const payload = loadFixture<object>('kds-dynamodb-payload.json');
    const record = makeKinesisRecord({
      partitionKey: '859F7C064A4818874FA67ABEC9BF2AF1',
      data: payload,
    });
    const seen: unknown[] = [];
    const handler = createLambdaHandler({
      logger: silentLogger,
      payload: 'dynamodb',
      handler: (r) => {
        seen.push([
          r.source,
          r.eventName,
          r.tableName,
          r.keys,
          r.newImage,
          r.approximateCreationTimeMs,
        ]);
      },
    });
    // act
    const response = await handler(makeKinesisEvent([record]));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([
      [
        'kinesis-dynamodb',
        'INSERT',
        'PowertoolsEventsStack-DynamoDBTable',
        { id: 'record-1qit2y819gi' },
        { id: 'record-1qit2y819gi', data: 'data-x6aq7ckdpgk' },
        1731924555370,
      ],
    ]);
  });

  it.each(['handler', 'keyBatchHandler', 'sink'] as const)(
    'drops a "Kinesis Data Streams for DynamoDB" duplicate in the same batch and in a later one (%s)',
    async (mode) => {
      // arrange: one change, sent as three Kinesis records (own sequence numbers, one eventID)
      const change = {
        eventId: 'f07f0d3e1a0b4c2d9e8f7a6b5c4d3e2f',
        keys: { id: 'a' },
        newImage: { id: 'a', n: 1 },
        approximateCreationDateTime: 1_764_000_000_000,
      };
      const applied: string[] = [];
      const apply = (records: readonly ChangeRecord[]) => {
        for (const r of records) applied.push(r.eventId);
      };
      const handler = createKinesisHandler({
        logger: silentLogger,
        payload: 'dynamodb',
        ...(mode === 'handler'
          ? { handler: (record: ChangeRecord) => apply([record]) }
          : mode === 'keyBatchHandler'
            ? { keyBatchHandler: apply }
            : {
                sink: {
                  name: 'memory',
                  write: async (records: readonly ChangeRecord[]) => {
                    apply(records);
                    return records.map(() => ({ status: 'ok' as const }));
                  },
                },
              }),
      });
      // act: both invocations finish whole, which 'redelivered' would not remember on its own
      const first = await handler(
        makeKinesisEvent([makeKinesisDynamoDBRecord(change), makeKinesisDynamoDBRecord(change)]),
        fakeContext(10_000),
      );
      const second = await handler(
        makeKinesisEvent([makeKinesisDynamoDBRecord(change)]),
        fakeContext(10_000),
      );
      // assert
      expect(first.batchItemFailures).toEqual([]);
      expect(second.batchItemFailures).toEqual([]);
      expect(applied).toEqual([change.eventId]);
    },
  );

  it('tells TTL deletes from user deletes in "Kinesis Data Streams for DynamoDB" payloads, with the Region', async () => {
    // arrange
    const at = 1_764_000_000_000;
    const event = makeKinesisEvent([
      makeKinesisDynamoDBRecord({
        keys: { id: 'a' },
        oldImage: { id: 'a' },
        approximateCreationDateTime: at,
        ttl: true,
        region: 'eu-west-1',
      }),
      makeKinesisDynamoDBRecord({
        keys: { id: 'b' },
        oldImage: { id: 'b' },
        approximateCreationDateTime: at + 1,
      }),
    ]);
    const seen: unknown[] = [];
    const handler = createKinesisHandler({
      logger: silentLogger,
      payload: 'dynamodb',
      handler: (r) => {
        seen.push([r.keys, r.eventName, r.isTtlDelete, r.region]);
      },
    });
    // act
    const response = await handler(event, fakeContext(30_000));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([
      [{ id: 'a' }, 'REMOVE', true, 'eu-west-1'],
      [{ id: 'b' }, 'REMOVE', false, 'us-east-1'],
    ]);
  });

  it('handles the documented DynamoDB sample event with the same factory', async () => {
    // arrange
    const event = loadFixture<DynamoDBStreamEvent>('dynamodb-sample-event.json');
    const seen: unknown[] = [];
    const handler = createLambdaHandler({
      logger: silentLogger,
      handler: (r) => {
        seen.push([r.eventName, r.tableName, r.keys, r.newImage?.Message, r.oldImage?.Message]);
      },
    });
    // act
    const response = await handler(event);
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([
      ['INSERT', 'TestTable', { Id: 101 }, 'New item!', undefined],
      ['MODIFY', 'TestTable', { Id: 101 }, 'This item has changed', 'New item!'],
      ['REMOVE', 'TestTable', { Id: 101 }, undefined, 'This item has changed'],
    ]);
  });

  it('rejects a DynamoDB event given to the Kinesis-only handler', async () => {
    // arrange
    const handler = createKinesisHandler({ logger: silentLogger, handler: () => {} });
    const event = loadFixture<DynamoDBStreamEvent>('dynamodb-sample-event.json');
    // act
    const call = handler(makeDynamoDBEvent(event.Records));
    // assert
    await expect(call).rejects.toThrow(/reads aws:kinesis events, got eventSource "aws:dynamodb"/);
  });

  it('is assignable to the @types/aws-lambda Kinesis stream handler type', () => {
    // arrange
    const handler: KinesisStreamHandler = createKinesisHandler({ handler: () => {} });
    // assert
    expect(typeof handler).toBe('function');
  });
});

describe('KPL user records outside the shard hash key range, in Lambda', () => {
  it("refuses outOfRangeRecordPolicy: 'skip' without hashKeyRanges (the event has no range)", () => {
    expect(() =>
      createKinesisHandler({ outOfRangeRecordPolicy: 'skip', handler: () => {} }),
    ).toThrow(/outOfRangeRecordPolicy: 'skip' needs hashKeyRanges/);
  });

  it("fails the invocation (retried) when 'skip' cannot look the range up", async () => {
    // arrange
    const aggregate = await kplAggregate([
      { partitionKey: 'a', data: 'a1' },
      { partitionKey: 'b', data: 'b1' },
    ]);
    const record = makeKinesisRecord({ partitionKey: 'a', data: aggregate.data });
    const applied: string[] = [];
    const handler = createKinesisHandler({
      logger: silentLogger,
      outOfRangeRecordPolicy: 'skip',
      hashKeyRanges: async () => {
        throw new Error('AccessDeniedException: not authorized to perform kinesis:ListShards');
      },
      handler: (r) => void applied.push(Buffer.from(r.data!).toString()),
    });
    // act
    const call = handler(makeKinesisEvent([record]), fakeContext(10_000));
    // assert
    await expect(call).rejects.toThrow(
      /could not look up the hash key range of shardId-000000000000/,
    );
    expect(applied).toEqual([]);
  });
});
