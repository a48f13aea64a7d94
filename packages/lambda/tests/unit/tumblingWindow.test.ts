import { type ChangeRecord, InMemoryFailureDestination, silentLogger } from '@shardline/core';
import { makeDynamoDBRecord } from '@shardline/testing';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import type { StreamEvent, TumblingWindow } from '../../src/index.js';
import { fakeContext, loadFixture, permanentError } from '../helpers/lambda.js';

type Tally = Record<string, number>;

function ballot(user: string, candidate: string): DynamoDBRecord {
  return makeDynamoDBRecord({ keys: { UserID: user }, newImage: { UserID: user, candidate } });
}

function windowEvent(
  records: DynamoDBRecord[],
  state: Tally | undefined,
  isFinalInvokeForWindow = false,
): StreamEvent<Tally> {
  return {
    Records: records,
    window: { start: '2026-11-23T10:00:00Z', end: '2026-11-23T10:05:00Z' },
    ...(state ? { state } : {}),
    shardId: 'shardId-00000001',
    eventSourceARN:
      records[0]?.eventSourceARN ?? 'arn:aws:dynamodb:us-east-1:1:table/Votes/stream/x',
    isFinalInvokeForWindow,
    isWindowTerminatedEarly: false,
  };
}

/** Counts ballots per candidate; writes the tally out on the final invoke. */
function tallyHandler(written: Tally[]) {
  return (records: readonly ChangeRecord[], window: TumblingWindow<Tally>): Tally => {
    const state = { ...window.state };
    for (const r of records) {
      const candidate = String(r.newImage?.candidate);
      state[candidate] = (state[candidate] ?? 0) + 1;
    }
    if (window.isFinalInvoke) written.push(state);
    return state;
  };
}

describe('tumbling windows', () => {
  it('carries the state across invocations of a window and returns it every time', async () => {
    // arrange
    const written: Tally[] = [];
    const handler = createDynamoDBHandler<Tally>({
      logger: silentLogger,
      windowHandler: tallyHandler(written),
    });
    // act
    const first = await handler(
      windowEvent([ballot('u1', 'A'), ballot('u2', 'B'), ballot('u3', 'A')], undefined),
      fakeContext(10_000),
    );
    const second = await handler(
      windowEvent([ballot('u4', 'B')], first.state),
      fakeContext(10_000),
    );
    const final = await handler(windowEvent([], second.state, true), fakeContext(10_000));
    // assert
    expect(first).toEqual({ state: { A: 2, B: 1 }, batchItemFailures: [] });
    expect(second).toEqual({ state: { A: 2, B: 2 }, batchItemFailures: [] });
    expect(final).toEqual({ state: { A: 2, B: 2 }, batchItemFailures: [] });
    expect(written).toEqual([{ A: 2, B: 2 }]);
  });

  it('keeps the state and reports the batch from its first record when the fold fails', async () => {
    // arrange
    const records = [ballot('u1', 'A'), ballot('u2', 'B')];
    const handler = createDynamoDBHandler<Tally>({
      logger: silentLogger,
      retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
      windowHandler: (_records, window) => {
        window.state.A = 999; // a mutation before the throw must not leak
        throw permanentError();
      },
    });
    // act
    const response = await handler(windowEvent(records, { A: 5 }), fakeContext(10_000));
    // assert
    expect(response).toEqual({
      state: { A: 5 },
      batchItemFailures: [{ itemIdentifier: records[0]!.dynamodb!.SequenceNumber }],
    });
  });

  it('folds up to an undecodable record and resumes there when it cannot be parked', async () => {
    // arrange
    const broken = ballot('u2', 'B');
    delete broken.dynamodb!.Keys;
    const records = [ballot('u1', 'A'), broken, ballot('u3', 'A')];
    const handler = createDynamoDBHandler<Tally>({
      logger: silentLogger,
      windowHandler: tallyHandler([]),
    });
    // act
    const response = await handler(windowEvent(records, {}), fakeContext(10_000));
    // assert
    expect(response).toEqual({
      state: { A: 1 },
      batchItemFailures: [{ itemIdentifier: broken.dynamodb!.SequenceNumber }],
    });
  });

  it('parks an undecodable record and folds the rest when a failure destination is set', async () => {
    // arrange
    const broken = ballot('u2', 'B');
    delete broken.dynamodb!.Keys;
    const destination = new InMemoryFailureDestination();
    const handler = createDynamoDBHandler<Tally>({
      logger: silentLogger,
      failureDestination: destination,
      windowHandler: tallyHandler([]),
    });
    // act
    const response = await handler(
      windowEvent([ballot('u1', 'A'), broken, ballot('u3', 'A')], {}),
      fakeContext(10_000),
    );
    // assert
    expect(response).toEqual({ state: { A: 2 }, batchItemFailures: [] });
    expect(destination.records.map((f) => f.record)).toEqual([broken]);
  });

  it('hands the state back unchanged to a record handler given a window event (sample event)', async () => {
    // arrange
    const event = loadFixture<StreamEvent>('dynamodb-tumbling-window-event.json');
    const seen: string[] = [];
    const handler = createDynamoDBHandler({
      logger: silentLogger,
      handler: (r) => {
        seen.push(`${r.shardId} ${r.sequenceNumber} ${String(r.approximateCreationTimeMs)}`);
      },
    });
    // act
    const response = await handler(event, fakeContext(10_000));
    // assert
    expect(response).toEqual({ state: { '1': 'state1' }, batchItemFailures: [] });
    expect(seen).toEqual(['shard123456789 111 1693997155000']);
  });

  it('fails the invoke when the final flush of an empty batch fails, so Lambda calls again', async () => {
    // arrange
    const handler = createDynamoDBHandler<Tally>({
      logger: silentLogger,
      retry: { maxAttempts: 1 },
      windowHandler: () => {
        throw permanentError('summary table unavailable');
      },
    });
    // act
    const call = handler(windowEvent([], { A: 1 }, true), fakeContext(10_000));
    // assert
    await expect(call).rejects.toThrow('summary table unavailable');
  });

  it('rejects a window handler whose event source mapping has no tumbling window', async () => {
    // arrange
    const handler = createDynamoDBHandler<Tally>({
      logger: silentLogger,
      windowHandler: tallyHandler([]),
    });
    // act
    const call = handler({ Records: [ballot('u1', 'A')] });
    // assert
    await expect(call).rejects.toThrow(/TumblingWindowInSeconds/);
  });
});
