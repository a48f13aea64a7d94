/**
 * The Lambda handler of the per-key order guarantees test (`lambdaKeyOrder.test.ts`). MODE picks
 * the shape Shardline runs:
 *  - `sync`: a synchronous handler (it computes, awaits nothing), which the dispatcher runs in
 *    shard order without grouping by key;
 *  - `sink`: a sink that takes at most 2 records a write, so a batch is written in chunks.
 * Either fails some changes for good the first time this execution environment meets them
 * (no retry, no failure destination: the change stays failed, its key blocked, and Lambda sends
 * it again). It appends one line per change it applies to APPLY_LOG: `<pid> <item> <n>`.
 */

import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { type ChangeRecord, ShardlineError, type SinkRecordResult } from '@shardline/core';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';

const { APPLY_LOG: file, MODE: mode } = process.env;
if (!file) throw new Error('Set APPLY_LOG to the file this handler appends to.');
if (mode !== 'sync' && mode !== 'sink') throw new Error('Set MODE to sync or sink.');

/** Changes this environment met already (each fails only the first time). */
const met = new Set<string>();

/** Whether this environment fails the change (about one in six, the first time it meets it). */
function failsNow(record: ChangeRecord): boolean {
  const first = !met.has(record.eventId);
  met.add(record.eventId);
  return first && createHash('md5').update(record.eventId).digest()[0]! % 6 === 0;
}

function apply(record: ChangeRecord): void {
  const image = record.newImage!;
  appendFileSync(file!, `${process.pid} ${String(image.id)} ${String(image.n)}\n`);
}

export const handler =
  mode === 'sync'
    ? createDynamoDBHandler({
        timeoutMarginMs: 600,
        retry: { maxAttempts: 1 },
        handler: (record) => {
          if (failsNow(record)) throw new ShardlineError('fails once', { retriable: false });
          apply(record);
        },
      })
    : createDynamoDBHandler({
        timeoutMarginMs: 600,
        retry: { maxAttempts: 1 },
        sink: {
          name: 'chunked',
          maxBatchSize: 2,
          // A sink keeps the order of one write: after a change of an item fails, the item's
          // later changes of that write are not applied either.
          write: async (records): Promise<SinkRecordResult[]> => {
            const failed = new Set<string>();
            return records.map((record) => {
              if (failed.has(record.orderingKey) || failsNow(record)) {
                failed.add(record.orderingKey);
                return { status: 'failed', error: new Error('fails once'), retriable: false };
              }
              apply(record);
              return { status: 'ok' };
            });
          },
        },
      });
