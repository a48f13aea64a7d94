/**
 * The Lambda handler of the warm-dedup guarantees test (`lambdaRemember.test.ts`): Shardline's
 * handler with its defaults (`remember: 'redelivered'`), whose user handler fails some records
 * the first time this execution environment meets them and holds others past the answer at the
 * time limit. It appends to APPLY_LOG, one line per event, in this process's order:
 * `<pid> start|done|dup|hang <eventID>`.
 */

import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EventBus, ShardlineError } from '@shardline/core';
import { createDynamoDBHandler } from '@shardline/lambda/dynamodb';

const { APPLY_LOG: file } = process.env;
if (!file) throw new Error('Set APPLY_LOG to the file this handler appends to.');
const log = (what: string, eventId: string) =>
  appendFileSync(file, `${process.pid} ${what} ${eventId}\n`);

/** 0–99 from the event id: which records fail or hang, the same in every environment. */
const bucket = (eventId: string) => createHash('md5').update(eventId).digest()[0]! % 100;
/** Records this environment met already (each fails or hangs only the first time). */
const met = new Set<string>();

const events = new EventBus();
events.on('record.duplicate', (e) => log('dup', e.sequenceNumber));

export const handler = createDynamoDBHandler({
  events,
  timeoutMarginMs: 600,
  retry: { maxAttempts: 1 },
  handler: async (record) => {
    const id = record.sequenceNumber;
    log('start', id);
    const first = !met.has(id);
    met.add(id);
    const b = bucket(record.eventId);
    if (first && b < 12) throw new ShardlineError('fails the first time', { retriable: false });
    if (first && b >= 94) {
      log('hang', id);
      // Past the answer at the time limit (timeout 2.5 s, answer at 2.2 s), while the next
      // invocations of this environment run: 2.4 to 3.4 s, so that held calls of one batch
      // end apart.
      await new Promise((resolve) => setTimeout(resolve, 2400 + (b - 94) * 200));
    }
    log('done', id);
  },
});
