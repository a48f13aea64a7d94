import { describe, expect, it } from 'vitest';
import {
  BatchProcessor,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecordSafely,
  InMemoryFailureDestination,
} from '../../src/index.js';

const context = { streamId: 'arn:aws:dynamodb:us-east-1:1:table/T/stream/x', shardId: 'shard-1' };

function change(
  sequenceNumber: number,
  keys: Record<string, unknown>,
  eventName = 'MODIFY',
): DynamoDBStreamRecordLike {
  return {
    eventID: `e${sequenceNumber}`,
    eventName,
    dynamodb: {
      Keys: keys as never,
      SequenceNumber: String(sequenceNumber),
      StreamViewType: 'KEYS_ONLY',
    },
  };
}

// Key values that pass the decoder's shallow check (one of S, N, B is present) but from which no
// canonical key can be built: the record is malformed, and must be parked with its reason like
// any undecodable record, never fail the batch (a batch that throws is sent again for ever).
const malformed: [string, Record<string, unknown>][] = [
  ['binary key that is null', { id: { B: null } }],
  ['binary key that is an object', { id: { B: { not: 'bytes' } } }],
  ['composite key with a null string', { pk: { S: null }, sk: { N: '1' } }],
];

describe('a DynamoDB change whose default ordering key cannot be built', () => {
  it.each(malformed)(
    'is parked with its reason, not thrown (%s), async handler',
    async (_, keys) => {
      // arrange: a good change, the malformed one, a good change of another key
      const records = [
        decodeDynamoDBRecordSafely(change(1, { id: { S: 'a' } }), context),
        decodeDynamoDBRecordSafely(change(2, keys), context),
        decodeDynamoDBRecordSafely(change(3, { id: { S: 'b' } }), context),
      ];
      const destination = new InMemoryFailureDestination();
      const applied: string[] = [];
      const processor = new BatchProcessor({
        handler: async (r) => {
          applied.push(r.sequenceNumber);
        },
        failureDestination: destination,
        retry: { maxAttempts: 1 },
      });
      // act
      const result = await processor.process(records);
      // assert
      expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'parked', 'succeeded']);
      expect(applied).toEqual(['1', '3']);
      expect(destination.records.map((f) => f.sequenceNumber)).toEqual(['2']);
    },
  );

  it.each(malformed)('is parked with its reason, not thrown (%s), sink', async (_, keys) => {
    const records = [
      decodeDynamoDBRecordSafely(change(1, { id: { S: 'a' } }), context),
      decodeDynamoDBRecordSafely(change(2, keys), context),
    ];
    const destination = new InMemoryFailureDestination();
    const processor = new BatchProcessor({
      sink: {
        name: 'keyed',
        // A sink that keys its writes by the ordering key (OpenSearch's document id, SNS's group).
        write: async (batch) => {
          const documentIds = batch.map((r) => r.orderingKey);
          return documentIds.map(() => ({ status: 'ok' as const }));
        },
      },
      failureDestination: destination,
      retry: { maxAttempts: 1 },
    });
    const result = await processor.process(records);
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'parked']);
    expect(destination.records.map((f) => f.sequenceNumber)).toEqual(['2']);
  });
});
