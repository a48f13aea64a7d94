/**
 * Every shipped sink says what a change does to it (`Sink.effect`), because the pipeline drops a
 * change older than an applied change of the same item only for a last-writer-wins target. A
 * counting or archiving sink that said nothing (or the wrong thing) would lose changes that
 * "Kinesis Data Streams for DynamoDB" delivers out of order.
 */
import { ChangeEffect, FanOutSink, type Sink } from '@shardline/core';
import {
  DynamoDBLedgerSummarySink,
  DynamoDBProjectionSink,
  DynamoDBSummarySink,
} from '@shardline/sink-dynamodb';
import { OpenSearchSink } from '@shardline/sink-opensearch';
import { S3ArchiveSink } from '@shardline/sink-s3';
import { SnsSink } from '@shardline/sink-sns';
import { describe, expect, it } from 'vitest';

// The sinks are built, never written to: a client with the method the constructor checks.
const client = { send: async () => ({}), bulk: async () => ({}) } as never;

describe('shipped sinks declare their effect', () => {
  const sinks: [string, () => Sink, ChangeEffect][] = [
    [
      'OpenSearchSink (the index keeps each item latest state)',
      () => new OpenSearchSink({ client, index: 'users' }),
      ChangeEffect.LastWriterWins,
    ],
    [
      'DynamoDBSummarySink (adds deltas)',
      () => new DynamoDBSummarySink({ client, tableName: 'Summary', deltas: () => [] }),
      ChangeEffect.Delta,
    ],
    [
      'DynamoDBLedgerSummarySink (adds deltas)',
      () =>
        new DynamoDBLedgerSummarySink({
          client,
          tableName: 'Summary',
          ledgerTableName: 'Ledger',
          contributions: () => [],
        }),
      ChangeEffect.Delta,
    ],
    [
      'DynamoDBProjectionSink (a copy or derived table keeps each item latest projection)',
      () => new DynamoDBProjectionSink({ client, tableName: 'Copy', stateTableName: 'CopyState' }),
      ChangeEffect.LastWriterWins,
    ],
    [
      'S3ArchiveSink (keeps every change)',
      () => new S3ArchiveSink({ client, bucket: 'archive' }),
      ChangeEffect.EveryChange,
    ],
    [
      'SnsSink (a notification per change)',
      () => new SnsSink({ client, topicArn: 'arn:aws:sns:us-east-1:123456789012:changes' }),
      ChangeEffect.EveryChange,
    ],
  ];

  it.each(sinks)('%s', (_name, make, effect) => {
    expect(make().effect).toBe(effect);
  });

  it('a fan-out is last-writer-wins only when every target is', () => {
    const search = () => new OpenSearchSink({ client, index: 'users' });
    const archive = new S3ArchiveSink({ client, bucket: 'archive' });
    expect(new FanOutSink({ targets: [search(), search()] }).effect).toBe(
      ChangeEffect.LastWriterWins,
    );
    expect(new FanOutSink({ targets: [search(), archive] }).effect).toBe(ChangeEffect.EveryChange);
    const summary = new DynamoDBSummarySink({ client, tableName: 'Summary', deltas: () => [] });
    expect(new FanOutSink({ targets: [search(), summary] }).effect).toBe(ChangeEffect.Delta);
  });
});
