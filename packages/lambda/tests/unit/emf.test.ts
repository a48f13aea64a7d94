import { InMemoryFailureDestination, ShardlineError, silentLogger } from '@shardline/core';
import {
  makeDynamoDBEvent,
  makeDynamoDBRecord,
  makeKinesisEvent,
  makeKinesisRecord,
  streamArnFor,
} from '@shardline/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import { EmfMetrics } from '../../src/emf.js';
import { createKinesisHandler } from '../../src/kinesis.js';

/** Captures what is written to stdout (Powertools writes EMF there, one JSON document a line). */
function captureStdout(): string[] {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) {
      lines.push(...text.split('\n').filter(Boolean));
      return true;
    }
    return write(chunk as string, ...(rest as []));
  }) as typeof process.stdout.write);
  return lines;
}

type EmfDocument = Record<string, unknown> & {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit?: string }[];
    }[];
  };
};

/**
 * Checks a document against the Embedded Metric Format specification (CloudWatch User Guide,
 * "Specification: Embedded metric format"): a root `_aws` with an integer `Timestamp` and
 * `CloudWatchMetrics` directives, each with a `Namespace` (1…255 chars), `Dimensions` (arrays of
 * up to 30 names, each a string member of the root), and `Metrics` (1…100 definitions whose
 * `Name` is a number or an array of up to 100 numbers at the root, with a standard unit).
 */
function expectEmf(line: string): EmfDocument {
  const doc = JSON.parse(line) as EmfDocument;
  expect(Number.isInteger(doc._aws.Timestamp)).toBe(true);
  expect(doc._aws.CloudWatchMetrics.length).toBeGreaterThan(0);
  for (const directive of doc._aws.CloudWatchMetrics) {
    expect(directive.Namespace).toMatch(/^[^:].{0,254}$/);
    for (const set of directive.Dimensions) {
      expect(set.length).toBeLessThanOrEqual(30);
      for (const name of set) expect(typeof doc[name]).toBe('string');
    }
    expect(directive.Metrics.length).toBeGreaterThan(0);
    expect(directive.Metrics.length).toBeLessThanOrEqual(100);
    for (const metric of directive.Metrics) {
      const value = doc[metric.Name];
      const values = Array.isArray(value) ? value : [value];
      expect(values.length).toBeLessThanOrEqual(100);
      for (const v of values) expect(typeof v).toBe('number');
      expect(['Count', 'Milliseconds', undefined]).toContain(metric.Unit);
    }
  }
  return doc;
}

/** Dimension names of a document (its first directive's first set, the one Powertools writes). */
const dimensionsOf = (doc: EmfDocument) => doc._aws.CloudWatchMetrics[0]!.Dimensions[0]!;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('EMF metrics of the Lambda handler (@shardline/lambda/emf)', () => {
  it('Kinesis: records, retries, parked records, batch failures and iterator age per stream and shard', async () => {
    // arrange: one record retried then parked, one that fails for good (no destination for it)
    const lines = captureStdout();
    const parkedTo = new InMemoryFailureDestination();
    const handler = createKinesisHandler({
      logger: silentLogger,
      metrics: new EmfMetrics({ namespace: 'ShardlineTest', serviceName: 'orders' }),
      retry: { maxAttempts: 2, baseDelayMs: 1 },
      failureDestination: parkedTo,
      handler: (record) => {
        if (record.partitionKey === 'bad') {
          throw new ShardlineError('bad record', { retriable: true });
        }
      },
    });
    const arrived = Date.now() / 1000 - 5;
    const records = ['a', 'bad', 'c'].map((key) =>
      makeKinesisRecord({
        data: key,
        partitionKey: key,
        shardId: 'shardId-000000000007',
        approximateArrivalTimestamp: arrived,
      }),
    );
    // act
    const before = Date.now();
    await handler(makeKinesisEvent(records));
    // assert
    expect(lines).toHaveLength(1);
    const doc = expectEmf(lines[0]!);
    expect(doc._aws.CloudWatchMetrics[0]!.Namespace).toBe('ShardlineTest');
    expect(dimensionsOf(doc)).toEqual(expect.arrayContaining(['service', 'Stream', 'Shard']));
    expect(doc).toMatchObject({
      service: 'orders',
      Stream: 'shardline-test',
      Shard: 'shardId-000000000007',
      RecordsIn: 3,
      RecordsProcessed: 2,
      RecordsParked: 1,
      RecordsRetried: 1,
      BatchItemFailures: 0,
    });
    expect(doc.IteratorAge).toBeGreaterThanOrEqual(5000);
    expect(doc.IteratorAge).toBeLessThanOrEqual(Date.now() - arrived * 1000);
    expect(doc._aws.Timestamp).toBeGreaterThanOrEqual(before);
  });

  it('DynamoDB: per stream only (Lambda records carry no shard id), batch failures counted', async () => {
    // arrange: no failure destination, so the failed record is reported back to Lambda
    const lines = captureStdout();
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      metrics: new EmfMetrics({ namespace: 'ShardlineTest', serviceName: 'votes' }),
      retry: { maxAttempts: 1 },
      handler: (record) => {
        if (record.keys?.id === 'bad') throw new ShardlineError('bad record');
      },
    });
    const records = ['a', 'bad', 'c'].map((id, i) =>
      makeDynamoDBRecord({
        keys: { id },
        newImage: { id, n: i },
        sequenceNumber: String(100 + i),
        streamArn: streamArnFor('Votes'),
      }),
    );
    // act
    const response = await handler(makeDynamoDBEvent(records));
    // assert
    expect(response).toMatchObject({ batchItemFailures: [{ itemIdentifier: '101' }] });
    expect(lines).toHaveLength(1);
    const doc = expectEmf(lines[0]!);
    expect(dimensionsOf(doc)).toEqual(['service', 'Stream']);
    expect(doc).not.toHaveProperty('Shard');
    expect(doc).toMatchObject({
      service: 'votes',
      Stream: 'Votes',
      RecordsIn: 3,
      RecordsProcessed: 2, // other keys go on: order is per key
      RecordsFailed: 1,
      BatchItemFailures: 1,
    });
    expect(typeof doc.IteratorAge).toBe('number');
  });

  it('writes nothing more on an invocation with nothing recorded, and one document per flush', async () => {
    // arrange
    const lines = captureStdout();
    const handler = createKinesisHandler({
      logger: silentLogger,
      metrics: new EmfMetrics({ namespace: 'ShardlineTest' }),
      handler: () => {},
    });
    // act
    await handler(makeKinesisEvent([]));
    await handler(makeKinesisEvent([makeKinesisRecord({ data: 'x', partitionKey: 'x' })]));
    await handler(makeKinesisEvent([makeKinesisRecord({ data: 'y', partitionKey: 'y' })]));
    // assert: one document per invocation with records, each with that invocation's counts only
    expect(lines.map((l) => expectEmf(l).RecordsIn)).toEqual([1, 1]);
  });
});
