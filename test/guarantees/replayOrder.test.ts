/**
 * Guarantee: `replayFailures` applies an item's parked changes in stream order even when the
 * failure destination hands them back in another order, as an SQS standard queue may, one
 * receive at a time. The end state equals applying the same changes in order.
 */
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchProcessor,
  ChangeEffect,
  type ChangeRecord,
  compareSequenceNumbers,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
  type FailedRecord,
  InMemoryFailureDestination,
  ShardlineError,
  type Sink,
  type SinkRecordResult,
  silentLogger,
} from '@shardline/core';
import { SqsFailureDestination } from '@shardline/failure-sqs';
import { createLambdaHandler, replayFailures } from '@shardline/lambda';
import {
  localClientConfig,
  makeDynamoDBEvent,
  makeDynamoDBRecord,
  type SqsDouble,
  startSqsDouble,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A replica that writes each change over the item as it comes: last writer wins, no versions. */
class ReplicaSink implements Sink {
  readonly name = 'replica';
  readonly effect = ChangeEffect.LastWriterWins;
  readonly items = new Map<string, unknown>();

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    for (const r of records) this.items.set(r.orderingKey, r.newImage);
    return records.map(() => ({ status: 'ok' }));
  }
}

/**
 * A summary that adds each change's delta once, guarded by a per-item watermark of the last
 * position applied, as `DynamoDBSummarySink` is: a change at or below the watermark counts as
 * already applied, so it is acknowledged and adds nothing.
 */
class WatermarkCountSink implements Sink {
  readonly name = 'watermark-count';
  readonly effect = ChangeEffect.Delta;
  readonly totals = new Map<string, number>();
  readonly #watermarks = new Map<string, string>();

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    for (const r of records) {
      const mark = this.#watermarks.get(r.orderingKey);
      if (mark !== undefined && compareSequenceNumbers(r.sequenceNumber, mark) <= 0) continue;
      this.#watermarks.set(r.orderingKey, r.sequenceNumber);
      const delta = Number(r.newImage?.n ?? 0) - Number(r.oldImage?.n ?? 0);
      this.totals.set(r.orderingKey, (this.totals.get(r.orderingKey) ?? 0) + delta);
    }
    return records.map(() => ({ status: 'ok' }));
  }
}

let sqs: SqsDouble;
let client: SQSClient;
let queues = 0;

beforeAll(async () => {
  sqs = await startSqsDouble();
  client = new SQSClient(localClientConfig(sqs.endpoint, { maxAttempts: 1 }));
});

afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

/** Two items' changes (a: n 1→2→3, b: n 1→2), parked by a handler that rejects them all. */
async function parkedChanges(): Promise<FailedRecord[]> {
  const records = [
    makeDynamoDBRecord({ keys: { id: 'a' }, newImage: { id: 'a', n: 1 } }),
    makeDynamoDBRecord({ keys: { id: 'b' }, newImage: { id: 'b', n: 1 } }),
    makeDynamoDBRecord({
      keys: { id: 'a' },
      oldImage: { id: 'a', n: 1 },
      newImage: { id: 'a', n: 2 },
    }),
    makeDynamoDBRecord({
      keys: { id: 'a' },
      oldImage: { id: 'a', n: 2 },
      newImage: { id: 'a', n: 3 },
    }),
    makeDynamoDBRecord({
      keys: { id: 'b' },
      oldImage: { id: 'b', n: 1 },
      newImage: { id: 'b', n: 2 },
    }),
  ];
  const memory = new InMemoryFailureDestination();
  const parkAll = createLambdaHandler({
    logger: silentLogger,
    failureDestination: memory,
    retry: { maxAttempts: 1 },
    handler: () => {
      throw new ShardlineError('downstream rejected it', { retriable: false });
    },
  });
  await parkAll(makeDynamoDBEvent(records));
  expect(memory.records).toHaveLength(records.length);
  return [...memory.records];
}

/** The state the sink reaches when the parked changes are applied once each, in stream order. */
async function inOrder<S extends Sink>(parked: readonly FailedRecord[], sink: S): Promise<S> {
  const records = parked.map((f) =>
    decodeDynamoDBRecord(f.record as DynamoDBStreamRecordLike, {
      streamId: f.streamId,
      shardId: f.shardId,
    }),
  );
  await new BatchProcessor({ sink, deduper: false }).process(records);
  return sink;
}

/** An SQS failure destination holding `parked`, newest first: the order a queue may return. */
async function queueNewestFirst(parked: readonly FailedRecord[]): Promise<SqsFailureDestination> {
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: `replay-order-${++queues}` }),
  );
  const destination = new SqsFailureDestination({ client, queueUrl: QueueUrl! });
  await destination.send([...parked].reverse());
  return destination;
}

describe('replayFailures from an SQS queue that returns later changes first', () => {
  it('leaves a last-writer-wins replica in the state of in-order application', async () => {
    // arrange
    const parked = await parkedChanges();
    const destination = await queueNewestFirst(parked);
    const expected = await inOrder(parked, new ReplicaSink());
    const sink = new ReplicaSink();
    // act: one record per receive, so each comes in a receive of its own
    const result = await replayFailures({ destination, sink, maxRecords: 1, logger: silentLogger });
    // assert
    expect(result).toEqual({ received: 5, acknowledged: 5, failed: 0 });
    expect(sink.items).toEqual(expected.items);
    expect(expected.items.get('id=S:a')).toEqual({ id: 'a', n: 3 });
    expect(await destination.receive({ maxRecords: 10 })).toHaveLength(0);
  });

  it('counts every change in a watermark summary, none dropped as already applied', async () => {
    // arrange
    const parked = await parkedChanges();
    const destination = await queueNewestFirst(parked);
    const expected = await inOrder(parked, new WatermarkCountSink());
    const sink = new WatermarkCountSink();
    // act
    await replayFailures({ destination, sink, maxRecords: 1, logger: silentLogger });
    // assert
    expect(sink.totals).toEqual(expected.totals);
    expect(Object.fromEntries(sink.totals)).toEqual({ 'id=S:a': 3, 'id=S:b': 2 });
  });
});
