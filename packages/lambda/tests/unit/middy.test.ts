import middy from '@middy/core';
import { silentLogger } from '@shardline/core';
import { makeDynamoDBEvent, makeDynamoDBRecord } from '@shardline/testing';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createDynamoDBHandler } from '../../src/dynamodb.js';
import type { StreamBatchResponse } from '../../src/index.js';
import { fakeContext, permanentError } from '../helpers/lambda.js';

describe('under Middy', () => {
  it('runs through middlewares and returns the partial batch response', async () => {
    // arrange
    const records = [
      makeDynamoDBRecord({ keys: { id: 'a' }, newImage: { id: 'a' } }),
      makeDynamoDBRecord({ keys: { id: 'b' }, newImage: { id: 'b' } }),
    ];
    const phases: string[] = [];
    const handler = middy<DynamoDBStreamEvent, StreamBatchResponse>(
      createDynamoDBHandler({
        logger: silentLogger,
        retry: { maxAttempts: 1 },
        handler: (r) => {
          if (r.keys?.id === 'b') throw permanentError();
        },
      }),
    ).use({
      before: () => {
        phases.push('before');
      },
      after: (request) => {
        phases.push(`after ${request.response?.batchItemFailures.length}`);
      },
    });
    const context = { ...fakeContext(10_000), awsRequestId: 'r-1' } as unknown as Context;
    // act
    const response = await handler(makeDynamoDBEvent(records), context);
    // assert
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }],
    });
    expect(phases).toEqual(['before', 'after 1']);
  });
});
