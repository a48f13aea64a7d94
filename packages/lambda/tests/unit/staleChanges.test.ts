import { type ChangeRecord, type Sink, type SinkRecordResult, silentLogger } from '@shardline/core';
import { makeKinesisDynamoDBRecord, makeKinesisEvent } from '@shardline/testing';
import { describe, expect, it } from 'vitest';
import { createKinesisHandler } from '../../src/kinesis.js';
import { DeltaCountSink, fakeContext } from '../helpers/lambda.js';

// One item's three changes, each adding 1 to n, delivered newest first, as "Kinesis Data Streams
// for DynamoDB" may: distinct changes (no duplicate among them), only out of creation order.
function reorderedEvent() {
  const at = 1_764_000_000_000;
  return makeKinesisEvent([
    makeKinesisDynamoDBRecord({
      keys: { id: 'a' },
      oldImage: { id: 'a', n: 2 },
      newImage: { id: 'a', n: 3 },
      approximateCreationDateTime: at + 3,
    }),
    makeKinesisDynamoDBRecord({
      keys: { id: 'a' },
      newImage: { id: 'a', n: 1 },
      approximateCreationDateTime: at + 1,
    }),
    makeKinesisDynamoDBRecord({
      keys: { id: 'a' },
      oldImage: { id: 'a', n: 1 },
      newImage: { id: 'a', n: 2 },
      approximateCreationDateTime: at + 2,
    }),
  ]);
}

/** Keeps each item's latest image: a last-writer-wins target. */
class ReplicaSink implements Sink {
  readonly name = 'replica';
  readonly effect = 'last-writer-wins' as const;
  readonly items = new Map<string, unknown>();
  readonly applied: number[] = [];

  async write(records: readonly ChangeRecord[]): Promise<SinkRecordResult[]> {
    return records.map((r) => {
      this.items.set(r.orderingKey, r.newImage);
      this.applied.push(Number(r.newImage?.n));
      return { status: 'ok' } as const;
    });
  }
}

describe('Lambda, Kinesis Data Streams for DynamoDB changes out of order', () => {
  it('gives a delta sink every change, so a count loses none', async () => {
    // arrange
    const sink = new DeltaCountSink();
    const handler = createKinesisHandler({ logger: silentLogger, payload: 'dynamodb', sink });
    // act
    const response = await handler(reorderedEvent(), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect([...sink.totals.values()]).toEqual([3]);
  });

  it('gives a handler every change unless it says it is last-writer-wins', async () => {
    // arrange
    const every: number[] = [];
    const latest: number[] = [];
    const everyHandler = createKinesisHandler({
      logger: silentLogger,
      payload: 'dynamodb',
      handler: (r) => void every.push(Number(r.newImage?.n)),
    });
    const latestHandler = createKinesisHandler({
      logger: silentLogger,
      payload: 'dynamodb',
      effect: 'last-writer-wins',
      handler: (r) => void latest.push(Number(r.newImage?.n)),
    });
    // act
    await everyHandler(reorderedEvent(), fakeContext(10_000));
    await latestHandler(reorderedEvent(), fakeContext(10_000));
    // assert
    expect(every).toEqual([3, 1, 2]);
    expect(latest).toEqual([3]);
  });

  it("drops the older changes for a last-writer-wins sink, from the sink's own effect", async () => {
    // arrange
    const sink = new ReplicaSink();
    const handler = createKinesisHandler({ logger: silentLogger, payload: 'dynamodb', sink });
    // act
    const response = await handler(reorderedEvent(), fakeContext(10_000));
    // assert
    expect(response.batchItemFailures).toEqual([]);
    expect(sink.applied).toEqual([3]);
    expect([...sink.items.values()]).toEqual([{ id: 'a', n: 3 }]);
  });
});
