import type { FailedRecord } from '@shardline/core';
import { itemJsonReplacer } from '@shardline/core';
import { FAILED_RECORD_TYPE } from './constants.js';

/**
 * The message body of a failed record: the whole {@link FailedRecord} as JSON with
 * `type: "shardline.failed-record"`. Binary values become base64, sets arrays, and exact
 * numbers (`NumberValue`) and bigints decimal strings.
 */
export function encodeFailedRecord(failed: FailedRecord): string {
  return JSON.stringify({ type: FAILED_RECORD_TYPE, ...failed }, itemJsonReplacer);
}

/**
 * The message inside a body: the `Message` of an SNS notification (an SQS queue subscribed to
 * the topic of an `SnsFailureDestination`, without raw message delivery), else the body itself.
 */
export function unwrapFailedRecordBody(body: string): string {
  const parsed = tryParse(body);
  if (
    parsed &&
    typeof parsed === 'object' &&
    (parsed as { Type?: unknown }).Type === 'Notification' &&
    typeof (parsed as { Message?: unknown }).Message === 'string'
  ) {
    return (parsed as { Message: string }).Message;
  }
  return body;
}

/** Parses a body that holds a failed record; `undefined` when it holds something else. */
export function decodeFailedRecord(body: string): FailedRecord | undefined {
  const parsed = tryParse(body) as ({ type?: unknown } & FailedRecord) | undefined;
  if (!parsed || typeof parsed !== 'object' || parsed.type !== FAILED_RECORD_TYPE) return undefined;
  const { type: _type, ...failed } = parsed;
  return { ...failed, subSequenceNumber: failed.subSequenceNumber ?? undefined };
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
