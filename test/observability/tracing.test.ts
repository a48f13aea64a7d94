/**
 * OpenTelemetry spans per batch, in both runtimes, with `@opentelemetry/api` installed and a
 * provider registered as an application would (`@opentelemetry/sdk-trace-base`, an in-memory
 * exporter): the Lambda handler on Lambda Kinesis events, and the worker on kinesalite.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { BATCH_SPAN_NAME, ShardlineError, silentLogger } from '@shardline/core';
import { KinesisSource } from '@shardline/kinesis';
import { createKinesisHandler } from '@shardline/lambda/kinesis';
import {
  type KinesaliteServer,
  makeKinesisEvent,
  makeKinesisRecord,
  startKinesalite,
} from '@shardline/testing';
import { createWorker, InMemoryLeaseStore } from '@shardline/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../guarantees/helpers/fleet.js';

const exporter = new InMemorySpanExporter();
let kinesalite: KinesaliteServer;

beforeAll(async () => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  kinesalite = await startKinesalite();
});

beforeEach(() => {
  exporter.reset();
});

afterAll(async () => {
  trace.disable();
  await kinesalite?.stop();
});

const batchSpans = (): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.name === BATCH_SPAN_NAME);

describe('a span per batch (shardline.batch)', () => {
  it('Lambda: shard, first and last sequence numbers, record count and failures, error status', async () => {
    // arrange
    const handler = createKinesisHandler({
      logger: silentLogger,
      retry: { maxAttempts: 1 },
      handler: (record) => {
        if (record.partitionKey === 'bad') throw new ShardlineError('bad record');
      },
    });
    const records = ['a', 'bad', 'c'].map((key) =>
      makeKinesisRecord({ data: key, partitionKey: key, shardId: 'shardId-000000000003' }),
    );
    // act
    await handler(makeKinesisEvent(records));
    // assert
    const spans = batchSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes).toMatchObject({
      'shardline.stream': records[0]!.eventSourceARN,
      'shardline.shard': 'shardId-000000000003',
      'shardline.first_sequence_number': records[0]!.kinesis.sequenceNumber,
      'shardline.last_sequence_number': records[2]!.kinesis.sequenceNumber,
      'shardline.records': 3,
      'shardline.succeeded': 2,
      'shardline.failed': 1,
    });
    expect(spans[0]!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('worker: one span per page read from kinesalite, covering every record once', async () => {
    // arrange
    const client = new KinesisClient(kinesalite.clientConfig);
    try {
      await client.send(new CreateStreamCommand({ StreamName: 'traced', ShardCount: 1 }));
      await until(async () => {
        const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'traced' }));
        return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
      });
      const sequenceNumbers: string[] = [];
      for (let i = 0; i < 6; i++) {
        const out = await client.send(
          new PutRecordCommand({
            StreamName: 'traced',
            PartitionKey: `k${i}`,
            Data: Buffer.from('x'),
          }),
        );
        sequenceNumbers.push(out.SequenceNumber!);
      }
      let processed = 0;
      const worker = createWorker({
        applicationName: 'traced',
        sources: await KinesisSource.create({ client, streamName: 'traced' }),
        leaseStore: new InMemoryLeaseStore(),
        handler: () => {
          processed++;
        },
        logger: silentLogger,
        takeIntervalMs: 100,
        idlePollIntervalMs: 100,
      });
      // act
      await worker.start();
      await until(() => processed === 6, 30_000, 'the records processed');
      await worker.stop();
      // assert: the spans' ranges cover the records written, once, in order
      const spans = batchSpans();
      expect(spans.length).toBeGreaterThanOrEqual(1);
      const covered = spans.map((s) => [
        s.attributes['shardline.first_sequence_number'],
        s.attributes['shardline.last_sequence_number'],
      ]);
      expect(covered[0]![0]).toBe(sequenceNumbers[0]);
      expect(covered[covered.length - 1]![1]).toBe(sequenceNumbers[5]);
      expect(spans.reduce((n, s) => n + Number(s.attributes['shardline.records']), 0)).toBe(6);
      for (const span of spans) {
        expect(span.attributes).toMatchObject({
          'shardline.shard': 'shardId-000000000000',
          'shardline.failed': 0,
        });
        expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
      }
    } finally {
      client.destroy();
    }
  });
});
