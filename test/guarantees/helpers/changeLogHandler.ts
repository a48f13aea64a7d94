/**
 * A user's Lambda handler for the guarantees tests: it appends one line per change it sees,
 * `<key> <sequence number> <eventName>`, to CHANGE_LOG (a one-line append is atomic across
 * processes). It knows nothing of shards: Lambda's DynamoDB records carry none.
 */
import { appendFileSync } from 'node:fs';
import type { DynamoDBStreamEvent } from 'aws-lambda';

export const handler = async (event: DynamoDBStreamEvent) => {
  const { CHANGE_LOG: file } = process.env;
  if (!file) throw new Error('Set CHANGE_LOG to the file this handler appends to.');
  for (const record of event.Records) {
    const key = JSON.stringify(record.dynamodb?.Keys);
    appendFileSync(file, `${key} ${record.dynamodb?.SequenceNumber} ${record.eventName}\n`);
  }
  return { batchItemFailures: [] };
};
