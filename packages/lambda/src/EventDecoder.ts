import type { ChangeRecord } from '@shardline/core';
import type { LambdaEventSource } from './constants.js';
import type { StreamEvent } from './types.js';

/**
 * Turns the records of one Lambda event source into {@link ChangeRecord}s and says which
 * `itemIdentifier` stands for each. One decoder per `eventSource`, so a DynamoDB-only handler
 * never loads (or bundles) the Kinesis decoding code.
 */
export interface EventDecoder {
  /** The Lambda `eventSource` this decoder reads. */
  readonly eventSource: LambdaEventSource;
  /**
   * Appends the change records of one Lambda record to `out` (several for a KPL aggregate, in
   * sub-sequence order). Never throws: a record that cannot be decoded comes back carrying its
   * `decodeError`, so it is parked or blocks its key like any failure.
   */
  decode(record: unknown, event: StreamEvent, out: ChangeRecord[]): void;
  /**
   * Looks up, before `decode`, what decoding the event needs from elsewhere (a Kinesis shard's
   * hash key range), so `decode` stays synchronous. Absent when nothing is needed.
   */
  prepare?(event: StreamEvent, signal?: AbortSignal): Promise<void>;
  /**
   * The `itemIdentifier` of a Lambda record: the sequence number Lambda checkpoints by
   * (`dynamodb.SequenceNumber`, `kinesis.sequenceNumber`).
   */
  itemIdentifier(record: unknown): string;
}
