import { SUCCEEDED, silentLogger } from '@shardline/core';
import { makeKinesisEvent, makeKinesisRecord } from '@shardline/testing';
import { describe, expect, it } from 'vitest';
import { resolveBatchItemFailures } from '../../src/index.js';
import { createKinesisHandler } from '../../src/kinesis.js';
import { permanentError } from '../helpers/lambda.js';

const FAILED = { status: 'failed', error: new Error('x'), attempts: 1 } as const;

describe('resolveBatchItemFailures', () => {
  it('reports nothing when every record is done', () => {
    // act
    const failures = resolveBatchItemFailures(['1', '2'], undefined, [SUCCEEDED, SUCCEEDED]);
    // assert
    expect(failures).toEqual([]);
  });

  it('compares sequence numbers as numbers, not text', () => {
    // act
    const failures = resolveBatchItemFailures(['900', '1000'], undefined, [FAILED, FAILED]);
    // assert
    expect(failures).toEqual([{ itemIdentifier: '900' }]);
  });

  it('reports a record without a usable sequence number, failing the whole batch', () => {
    // act
    const failures = resolveBatchItemFailures(['5', ''], undefined, [FAILED, FAILED]);
    // assert
    expect(failures).toEqual([{ itemIdentifier: '' }]);
  });

  it('reports one item per shard when an event holds several shards', async () => {
    // arrange
    const records = [
      makeKinesisRecord({ shardId: 'shardId-000000000001', partitionKey: 'a', data: 'a1' }),
      makeKinesisRecord({ shardId: 'shardId-000000000002', partitionKey: 'b', data: 'b1' }),
      makeKinesisRecord({ shardId: 'shardId-000000000001', partitionKey: 'a', data: 'a2' }),
      makeKinesisRecord({ shardId: 'shardId-000000000002', partitionKey: 'c', data: 'c1' }),
    ];
    const handler = createKinesisHandler({
      logger: silentLogger,
      retry: { maxAttempts: 1 },
      handler: (r) => {
        const text = Buffer.from(r.data!).toString();
        if (text === 'a2' || text === 'c1') throw permanentError();
      },
    });
    // act
    const response = await handler(makeKinesisEvent(records));
    // assert
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: records[2]!.kinesis.sequenceNumber },
      { itemIdentifier: records[3]!.kinesis.sequenceNumber },
    ]);
  });
});
