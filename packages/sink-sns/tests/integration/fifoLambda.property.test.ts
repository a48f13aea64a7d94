import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { BatchProcessor, type ChangeRecord } from '@shardline/core';
import {
  type DynamoDBLocalServer,
  deliverLikeLambda,
  localClientConfig,
  recordTableHistory,
  type SnsDouble,
  startDynamoDBLocal,
  startSnsDouble,
  type TableHistory,
} from '@shardline/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnsSink } from '../../src/index.js';

// A FIFO topic fed by Lambda from a multi-shard DynamoDB stream: records without a shard id,
// ParallelizationFactor lanes publishing at once, redeliveries from any record, replays from a
// failure destination in any order, and failed PublishBatch entries. SNS must deliver each
// change once (the dedup id `ddb:<eventID>` drops every repeat) and each item's changes in order
// (message group = item key).

describe('SnsSink on a FIFO topic under Lambda conditions (property)', () => {
  let sns: SnsDouble;
  let ddb: DynamoDBLocalServer;
  let client: SNSClient;
  let history: TableHistory;
  let run = 0;

  beforeAll(async () => {
    [sns, ddb] = await Promise.all([startSnsDouble(), startDynamoDBLocal()]);
    client = new SNSClient(localClientConfig(sns.endpoint, { maxAttempts: 1 }));
    history = await recordTableHistory({ source: ddb.clientConfig, tableName: 'Orders', seed: 3 });
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await sns?.stop();
    await ddb?.stop();
  });

  it('delivers every change once, each item’s changes in stream order, with dedup id ddb:<eventID>', async () => {
    // arrange
    const all = history.shards.flatMap((s) => s.records);
    const byEventId = new Map(all.map((r) => [r.eventId, r]));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 3, 10),
        fc.integer({ min: 1, max: 20 }),
        fc.integer(),
        fc.integer({ min: 0, max: 6 }),
        async (parallelizationFactor, maxBatchSize, seed, failures) => {
          const created = await client.send(
            new CreateTopicCommand({
              Name: `changes-${run++}.fifo`,
              Attributes: { FifoTopic: 'true' },
            }),
          );
          const topicArn = created.TopicArn!;
          const sink = new SnsSink({ client, topicArn });
          sns.injectFailures({ failEntries: failures });
          // act: every invocation its own BatchProcessor (its own execution environment)
          const report = await deliverLikeLambda(
            history.shards,
            async (batch: readonly ChangeRecord[]) => {
              const processor = new BatchProcessor({
                sink,
                deduper: false,
                retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 },
              });
              const result = await processor.process(batch);
              return result.firstNotDone === -1 ? batch.length : result.firstNotDone;
            },
            { seed, parallelizationFactor, maxBatchSize, replayChance: 0.1 },
          );
          // assert
          const delivered = sns.messages(topicArn);
          const ids = delivered.map((m) => m.messageDeduplicationId!);
          expect(new Set(ids).size).toBe(ids.length);
          expect(ids.sort()).toEqual(all.map((r) => `ddb:${r.eventId}`).sort());
          const lastByGroup = new Map<string, bigint>();
          const outOfOrder: string[] = [];
          for (const message of delivered) {
            const record = byEventId.get(message.messageDeduplicationId!.slice('ddb:'.length))!;
            expect(message.messageGroupId).toBe(record.orderingKey);
            const sequence = BigInt(record.sequenceNumber);
            const last = lastByGroup.get(message.messageGroupId!) ?? -1n;
            if (sequence <= last) outOfOrder.push(`${message.messageGroupId}@${sequence}`);
            lastByGroup.set(message.messageGroupId!, sequence);
          }
          expect(outOfOrder).toEqual([]);
          expect(report.redeliveries).toBeGreaterThan(0);
          expect(report.replayed).toBeGreaterThan(0);
          if (parallelizationFactor > 1) expect(report.maxConcurrent).toBeGreaterThan(4);
        },
      ),
      { numRuns: 8, seed: 1150 },
    );
  });
});
