import {
  type ChangeRecord,
  ConfigurationError,
  InMemoryFailureDestination,
  silentLogger,
} from '@shardline/core';
import {
  makeDynamoDBEvent,
  makeDynamoDBRecord,
  makeKinesisEvent,
  makeKinesisRecord,
} from '@shardline/testing';
import { describe, expect, it } from 'vitest';
import { createLambdaHandler, replayFailures } from '../../src/index.js';
import { kplAggregate, permanentError, VersionedMemorySink } from '../helpers/lambda.js';

describe('replayFailures', () => {
  it('applies parked DynamoDB records in order and removes them from the destination', async () => {
    // arrange
    const destination = new InMemoryFailureDestination();
    const records = [1, 2, 3].map((n) =>
      makeDynamoDBRecord({ keys: { UserID: 'a' }, newImage: { UserID: 'a', n } }),
    );
    const parkAll = createLambdaHandler({
      logger: silentLogger,
      failureDestination: destination,
      retry: { maxAttempts: 1 },
      handler: () => {
        throw permanentError('downstream rejected it');
      },
    });
    await parkAll(makeDynamoDBEvent(records));
    const sink = new VersionedMemorySink();
    // act
    const result = await replayFailures({ destination, sink, logger: silentLogger });
    // assert
    expect(result).toEqual({ received: 3, acknowledged: 3, failed: 0 });
    expect(destination.records).toHaveLength(0);
    expect(sink.applied).toEqual(records.map((r) => r.dynamodb!.SequenceNumber));
    expect([...sink.items.values()].map((item) => item.image)).toEqual([{ UserID: 'a', n: 3 }]);
  });

  it('replays the parked user record of a KPL aggregate, not its neighbours', async () => {
    // arrange
    const destination = new InMemoryFailureDestination();
    const aggregate = await kplAggregate([
      { partitionKey: 'a', data: 'fine' },
      { partitionKey: 'b', data: 'poison' },
    ]);
    const record = makeKinesisRecord({
      partitionKey: aggregate.partitionKey,
      data: aggregate.data,
    });
    const handler = createLambdaHandler({
      logger: silentLogger,
      failureDestination: destination,
      retry: { maxAttempts: 1 },
      handler: (r: ChangeRecord) => {
        if (Buffer.from(r.data!).toString() === 'poison') throw permanentError();
      },
    });
    await handler(makeKinesisEvent([record]));
    const replayed: string[] = [];
    // act
    const result = await replayFailures({
      destination,
      logger: silentLogger,
      handler: (r) => {
        replayed.push(
          `${r.partitionKey} ${Buffer.from(r.data!).toString()} ${r.subSequenceNumber}`,
        );
      },
    });
    // assert
    expect(result.acknowledged).toBe(1);
    expect(replayed).toEqual(['b poison 1']);
  });

  it('leaves records that fail again in the destination and stops', async () => {
    // arrange
    const destination = new InMemoryFailureDestination();
    const failing = createLambdaHandler({
      logger: silentLogger,
      failureDestination: destination,
      retry: { maxAttempts: 1 },
      handler: () => {
        throw permanentError();
      },
    });
    await failing(
      makeDynamoDBEvent([
        makeDynamoDBRecord({ keys: { id: 'x' }, newImage: { id: 'x' } }),
        makeDynamoDBRecord({ keys: { id: 'y' }, newImage: { id: 'y' } }),
      ]),
    );
    // act
    const result = await replayFailures({
      destination,
      logger: silentLogger,
      retry: { maxAttempts: 1 },
      maxRecords: 1,
      handler: (r) => {
        if (r.keys?.id === 'x') throw permanentError();
      },
    });
    // assert
    expect(result).toEqual({ received: 2, acknowledged: 1, failed: 1 });
    expect(destination.records.map((f) => f.record)).toEqual([
      expect.objectContaining({ dynamodb: expect.objectContaining({ Keys: { id: { S: 'x' } } }) }),
    ]);
  });

  it('reads up to maxBufferedRecords before applying, then applies the rest in later chunks', async () => {
    // arrange: an item's three changes, parked and handed back newest first
    const records = [1, 2, 3].map((n) =>
      makeDynamoDBRecord({ keys: { UserID: 'a' }, newImage: { UserID: 'a', n } }),
    );
    const parked = new InMemoryFailureDestination();
    await createLambdaHandler({
      logger: silentLogger,
      failureDestination: parked,
      retry: { maxAttempts: 1 },
      handler: () => {
        throw permanentError();
      },
    })(makeDynamoDBEvent(records));
    const destination = new InMemoryFailureDestination();
    await destination.send([...parked.records].reverse());
    const sink = new VersionedMemorySink();
    const [first, second, third] = records.map((r) => r.dynamodb!.SequenceNumber);
    // act
    const result = await replayFailures({
      destination,
      sink,
      maxRecords: 1,
      maxBufferedRecords: 2,
      logger: silentLogger,
    });
    // assert: the first chunk (3, 2) in order; the last change, older, is refused by the
    // sink's version, so the item keeps its newest state
    expect(result).toEqual({ received: 3, acknowledged: 3, failed: 0 });
    expect(sink.applied).toEqual([second, third]);
    expect(sink.applied).not.toContain(first);
    expect([...sink.items.values()].map((item) => item.image)).toEqual([{ UserID: 'a', n: 3 }]);
  });

  it('names a bad maxBufferedRecords or maxRecords in its error', async () => {
    const destination = new InMemoryFailureDestination();
    const replay = (options: { maxBufferedRecords?: number; maxRecords?: number }) =>
      replayFailures({ destination, handler: () => {}, ...options });
    await expect(replay({ maxBufferedRecords: 0 })).rejects.toThrow(ConfigurationError);
    await expect(replay({ maxBufferedRecords: 1.5 })).rejects.toThrow(
      /maxBufferedRecords must be a whole number of 1 or more, got 1.5/,
    );
    await expect(replay({ maxRecords: 0 })).rejects.toThrow(/maxRecords must be a whole number/);
  });
});
