import type { _Record } from '@aws-sdk/client-kinesis';
import {
  type ChangeRecord,
  DataTrimmedError,
  type IteratorReacquiredReport,
  reportDataTrimmed,
  type StartPosition,
} from '@shardline/core';
import { decodeKinesisSdkRecordInto } from './decodeKinesisRecord.js';
import type { KinesisSettings } from './KinesisSource.js';

/**
 * A sequence-number position a read was opened AT: its own record must come first. `sub` is the
 * last user record of it already done (-1: none, an AT position; Infinity: all, an AFTER
 * position); `check` is false for the shard's own starting sequence number, which names no record.
 */
export interface ResumePoint {
  readonly sequenceNumber: string;
  readonly sub: number;
  readonly check: boolean;
}

/** The resume point of a start position (none for TRIM_HORIZON, LATEST, AT_TIMESTAMP). */
export function resumePointOf(
  from: StartPosition,
  startingSequenceNumber: string | undefined,
): ResumePoint | undefined {
  if (from.type !== 'AFTER_SEQUENCE_NUMBER' && from.type !== 'AT_SEQUENCE_NUMBER') return undefined;
  return {
    sequenceNumber: from.sequenceNumber,
    sub: from.type === 'AT_SEQUENCE_NUMBER' ? -1 : (from.subSequenceNumber ?? Infinity),
    // Checked only AFTER a record read before (a checkpoint, or the last record of a page): an
    // AT position a user gives may be any valid sequence number, naming no record.
    check: from.type === 'AFTER_SEQUENCE_NUMBER' && from.sequenceNumber !== startingSequenceNumber,
  };
}

/**
 * Decodes the pages of one shard, polled (GetRecords) or pushed (SubscribeToShard events) alike:
 * KPL aggregates de-aggregated, out-of-range user records reported, and, after a read opened AT
 * a position, the check that its own record comes first — then it is dropped (AFTER semantics,
 * or inside an aggregate the user records already done); when it is gone, the records after it
 * may be gone too and the source's `trimmedDataPolicy` applies (reported; `stop` throws
 * `DataTrimmedError` with the point kept, so a read again is refused again).
 */
export class KinesisPageDecoder {
  readonly #settings: KinesisSettings;
  readonly #context: Parameters<typeof decodeKinesisSdkRecordInto>[1];
  readonly #report: IteratorReacquiredReport;
  /** Set while a read opened AT a position has not seen its first record. */
  resumeAt: ResumePoint | undefined;

  constructor(
    settings: KinesisSettings,
    shardId: string,
    hashKeyRange: { startingHashKey: string; endingHashKey: string } | undefined,
    report: IteratorReacquiredReport,
  ) {
    this.#settings = settings;
    this.#report = report;
    this.#context = {
      streamId: settings.streamId,
      shardId,
      payload: settings.payload,
      hashKeyRange,
      outOfRangeRecordPolicy: settings.outOfRangeRecordPolicy,
      events: settings.events,
      metrics: settings.metrics,
      // The source's logger, not the shard's: the out-of-range warning names the shard itself
      // (as in Lambda, where no logger is bound to a shard), and pino would write it twice.
      logger: settings.logger,
      ...(settings.orderingKey ? { orderingKey: settings.orderingKey } : {}),
    };
  }

  /** The change records of one page; `shardEnds` when it is the shard's last. */
  decode(raw: readonly _Record[], shardEnds: boolean): ChangeRecord[] {
    let records: ChangeRecord[] = [];
    for (const record of raw) decodeKinesisSdkRecordInto(record, this.#context, records);
    const resume = this.resumeAt;
    if (resume && raw.length > 0) {
      if (raw[0]!.SequenceNumber !== resume.sequenceNumber) {
        if (resume.check) this.#onTrimmed(resume.sequenceNumber, raw[0]!.SequenceNumber);
      } else if (resume.sub >= 0) {
        records = records.filter(
          (r) =>
            r.sequenceNumber !== resume.sequenceNumber ||
            (r.subSequenceNumber !== undefined && r.subSequenceNumber > resume.sub),
        );
      }
      this.resumeAt = undefined;
    } else if (resume && shardEnds) {
      // The shard ended before the position's record showed: it may have been trimmed with
      // whatever followed, but an empty last page cannot prove it, and stopping here would hold
      // the children back for good. Said, not acted on.
      if (resume.check) {
        this.#report.log.warn(
          { afterSequenceNumber: resume.sequenceNumber },
          'the shard ended before the checkpoint record was read again; records after it may have been trimmed (not proven by an empty page, so the shard ends normally)',
        );
      }
      this.resumeAt = undefined;
    }
    return records;
  }

  /** The record at `afterSequenceNumber` is gone: report, then stop or read on, per policy. */
  #onTrimmed(afterSequenceNumber: string, resumedAtSequenceNumber: string | undefined): void {
    const policy = this.#settings.trimmedDataPolicy;
    reportDataTrimmed({ ...this.#report, policy }, afterSequenceNumber, resumedAtSequenceNumber);
    if (policy === 'stop') throw new DataTrimmedError(this.#report.shardId, afterSequenceNumber);
  }
}
