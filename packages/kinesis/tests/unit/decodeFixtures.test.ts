import { readFileSync } from 'node:fs';
import { InMemoryFailureDestination, toFailedRecord } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import {
  decodeKinesisLambdaRecord,
  decodeKinesisSdkRecord,
  type KinesisPayloadFormat,
  type KinesisSdkRecord,
} from '../../src/index.js';

interface WireRecord {
  PartitionKey: string;
  Data: string;
  ApproximateArrivalTimestamp: number;
  SequenceNumber: string;
}

// A raw GetRecords body captured from kinesalite by test/fixtures/capture.ts: plain text, JSON,
// binary, a KPL aggregate of three user records, and a "Kinesis Data Streams for DynamoDB" change.
const fixture = JSON.parse(
  readFileSync(
    new URL('../../../../test/fixtures/kinesalite.getrecords.json', import.meta.url),
    'utf8',
  ),
) as {
  streamArn: string;
  shardId: string;
  hashKeyRange: { StartingHashKey: string; EndingHashKey: string };
  getRecords: { Records: WireRecord[] };
};
const [text, json, binary, aggregate, kdsDynamoDB] = fixture.getRecords.Records as [
  WireRecord,
  WireRecord,
  WireRecord,
  WireRecord,
  WireRecord,
];

/** What the SDK v3 makes of a wire record: bytes and a Date. */
function sdk(record: WireRecord): KinesisSdkRecord {
  return {
    SequenceNumber: record.SequenceNumber,
    PartitionKey: record.PartitionKey,
    Data: new Uint8Array(Buffer.from(record.Data, 'base64')),
    ApproximateArrivalTimestamp: new Date(record.ApproximateArrivalTimestamp * 1000),
  };
}

function decode(record: WireRecord, payload: KinesisPayloadFormat = 'raw') {
  return decodeKinesisSdkRecord(sdk(record), {
    streamId: fixture.streamArn,
    shardId: fixture.shardId,
    payload,
    hashKeyRange: {
      startingHashKey: fixture.hashKeyRange.StartingHashKey,
      endingHashKey: fixture.hashKeyRange.EndingHashKey,
    },
  });
}

describe('decoding records captured from kinesalite', () => {
  it('keeps raw payloads as bytes, keyed by partition key, with the arrival time', () => {
    // act
    const [plain] = decode(text);
    const [bytes] = decode(binary);
    // assert
    expect(Buffer.from(plain!.data!).toString()).toBe('plain text');
    expect(plain!.orderingKey).toBe('text-key');
    expect(plain!.eventName).toBe('RECORD');
    expect(plain!.sequenceNumber).toBe(text.SequenceNumber);
    expect(plain!.eventId).toBe(`${fixture.shardId}:${text.SequenceNumber}`);
    expect(plain!.approximateCreationTimeMs).toBe(
      Math.round(text.ApproximateArrivalTimestamp * 1000),
    );
    expect([...bytes!.data!]).toEqual([0, 159, 146, 150, 255]);
    expect(JSON.parse(JSON.stringify(plain!.raw))).toEqual({
      SequenceNumber: text.SequenceNumber,
      PartitionKey: 'text-key',
      ApproximateArrivalTimestamp: new Date(text.ApproximateArrivalTimestamp * 1000).toISOString(),
      Data: text.Data,
    });
    expect(bytes!.sizeBytes).toBe(5);
  });

  it('parks a polled record whole: the in-memory destination keeps its base64 Data and arrival time', async () => {
    // arrange: `raw` of a GetRecords record computes Data and the ISO arrival time on read
    const [plain] = decode(text);
    const destination = new InMemoryFailureDestination();
    // act
    await destination.send([toFailedRecord(plain!, new Error('handler failed'), 3)]);
    // assert: what a replay decodes again, as the SQS, SNS and S3 destinations keep it
    expect(destination.records[0]!.record).toEqual({
      SequenceNumber: text.SequenceNumber,
      PartitionKey: 'text-key',
      ApproximateArrivalTimestamp: new Date(text.ApproximateArrivalTimestamp * 1000).toISOString(),
      Data: text.Data,
    });
  });

  it('parses JSON payloads into newImage, and parks non-JSON ones with a decode error', () => {
    // act
    const [parsed] = decode(json, 'json');
    const [notJson] = decode(binary, 'json');
    // assert
    expect(parsed!.newImage).toEqual({ id: 7, price: 12.5, tags: ['a'] });
    expect(notJson!.decodeError?.message).toMatch(/payload is not JSON/);
    expect(notJson!.sequenceNumber).toBe(binary.SequenceNumber);
  });

  it('de-aggregates a KPL record into user records with sub-sequence numbers', () => {
    // act
    const users = decode(aggregate);
    // assert
    expect(users.map((u) => Buffer.from(u.data!).toString())).toEqual(['first', 'second', 'third']);
    expect(users.map((u) => u.partitionKey)).toEqual(['agg-a', 'agg-b', 'agg-a']);
    expect(users.map((u) => u.subSequenceNumber)).toEqual([0, 1, 2]);
    expect(users.map((u) => u.sequenceNumber)).toEqual(Array(3).fill(aggregate.SequenceNumber));
    expect(new Set(users.map((u) => u.eventId)).size).toBe(3);
  });

  it('decodes a Kinesis Data Streams for DynamoDB change with exact numbers and a per-key version', () => {
    // act
    const [change] = decode(kdsDynamoDB, 'dynamodb');
    // assert
    expect(change!.source).toBe('kinesis-dynamodb');
    expect(change!.eventName).toBe('MODIFY');
    expect(change!.tableName).toBe('Votes');
    expect(change!.keys).toEqual({ pk: 'poll#1' });
    expect(String(change!.newImage!.votes)).toBe('12345678901234567890');
    expect(String(change!.oldImage!.votes)).toBe('12345678901234567889');
    expect(change!.sequenceNumber).toBe(kdsDynamoDB.SequenceNumber);
    expect(change!.approximateCreationTimeMs).toBe(1764000000123);
    expect(change!.version).toBe(1764000000123000n);
    expect(change!.orderingKey).toBe('pk=S:poll#1');
  });

  it('decodes the Lambda event shape of the same records to the same payloads', () => {
    // arrange
    const lambda = fixture.getRecords.Records.map((r) => ({
      kinesis: {
        sequenceNumber: r.SequenceNumber,
        partitionKey: r.PartitionKey,
        data: r.Data,
        approximateArrivalTimestamp: r.ApproximateArrivalTimestamp,
      },
      eventID: `${fixture.shardId}:${r.SequenceNumber}`,
      eventSourceARN: fixture.streamArn,
    }));
    // act
    const fromLambda = lambda.flatMap((r) => decodeKinesisLambdaRecord(r));
    const fromSdk = fixture.getRecords.Records.flatMap((r) => decode(r));
    // assert
    const view = (r: (typeof fromSdk)[number]) => [
      r.shardId,
      r.streamId,
      r.sequenceNumber,
      r.subSequenceNumber,
      r.partitionKey,
      Buffer.from(r.data!).toString('base64'),
    ];
    expect(fromLambda.map(view)).toEqual(fromSdk.map(view));
  });
});
