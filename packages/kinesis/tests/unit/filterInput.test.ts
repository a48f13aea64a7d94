import { compileFilterPattern, filterInputOf } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import { decodeKinesisSdkRecord } from '../../src/index.js';

const context = {
  streamId: 'arn:aws:kinesis:us-east-1:123456789012:stream/s',
  shardId: 'shardId-000000000000',
};
const arrived = new Date('2026-12-04T03:00:00.000Z');

/** A GetRecords record as the SDK v3 Kinesis client returns it. */
function sdkRecord(payload: unknown, partitionKey = 'pk-1') {
  return {
    SequenceNumber: '49590338271490256608559692538361571095921575989136588898',
    PartitionKey: partitionKey,
    ApproximateArrivalTimestamp: arrived,
    Data: new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload)),
  };
}

describe('filterInputOf on records read with GetRecords (the worker path)', () => {
  it('gives a plain Kinesis record its Lambda filter shape: metadata and data parsed as JSON', () => {
    // arrange
    const [record] = decodeKinesisSdkRecord(sdkRecord({ temperature: 31 }), {
      ...context,
      payload: 'json',
    });
    // act
    const input = filterInputOf(record!);
    // assert
    expect(input).toEqual({
      partitionKey: 'pk-1',
      sequenceNumber: record!.sequenceNumber,
      approximateArrivalTimestamp: arrived.getTime() / 1000,
      data: { temperature: 31 },
    });
  });

  it('parses the payload of a raw-format record too, and leaves data out when it is not JSON', () => {
    // arrange
    const [json] = decodeKinesisSdkRecord(sdkRecord({ a: 1 }), context);
    const [text] = decodeKinesisSdkRecord(sdkRecord('plain text'), context);
    // act / assert
    expect(filterInputOf(json!).data).toEqual({ a: 1 });
    expect('data' in filterInputOf(text!)).toBe(false);
  });

  it('puts a "Kinesis Data Streams for DynamoDB" payload under data, as Lambda filters see it', () => {
    // arrange
    const payload = {
      awsRegion: 'us-east-1',
      eventID: 'e1',
      eventName: 'INSERT',
      userIdentity: null,
      recordFormat: 'application/json',
      tableName: 'Orders',
      dynamodb: {
        ApproximateCreationDateTime: 1764817200000,
        Keys: { id: { S: 'a' } },
        NewImage: { id: { S: 'a' }, status: { S: 'paid' } },
        SizeBytes: 30,
      },
      eventSource: 'aws:dynamodb',
    };
    const [record] = decodeKinesisSdkRecord(sdkRecord(payload, 'ABC'), {
      ...context,
      payload: 'dynamodb',
    });
    const paid = compileFilterPattern({
      data: { dynamodb: { NewImage: { status: { S: ['paid'] } } } },
    });
    // act
    const input = filterInputOf(record!);
    // assert
    expect(input.partitionKey).toBe('ABC');
    expect(input.approximateArrivalTimestamp).toBe(arrived.getTime() / 1000);
    expect(paid(input)).toBe(true);
  });
});
