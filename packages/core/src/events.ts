import type { FilterReason } from './RecordSelector.js';
import type { StreamPosition } from './sequenceNumbers.js';

/**
 * Every state change of a Shardline component, as a typed event. Metrics and logs subscribe to
 * these; no state is conveyed only through log lines.
 */
export interface ShardlineEventMap {
  'shard.discovered': { streamId: string; shardId: string; parentShardIds: readonly string[] };
  'shard.started': { streamId: string; shardId: string; from: string };
  'shard.ended': { streamId: string; shardId: string; lastSequenceNumber: string | undefined };
  /**
   * A shard's reader stopped reading it in this process, for good: the shard `ended` (every
   * record done), its lease was `lost` or `handover`ed to another worker, or the worker is
   * `shutdown`. Its per-shard gauges (lag, checkpoint age) are removed then: a shard no longer
   * read here has no gauge here.
   */
  'shard.stopped': {
    streamId: string;
    shardId: string;
    reason: 'ended' | 'lost' | 'handover' | 'shutdown';
  };
  'shard.throttled': { streamId: string; shardId: string; delayMs: number; operation: string };
  'shard.iteratorReacquired': {
    streamId: string;
    shardId: string;
    afterSequenceNumber: string | undefined;
    reason: string;
  };
  'shard.dataTrimmed': {
    streamId: string;
    shardId: string;
    /** The last sequence number processed before the gap, if any. */
    afterSequenceNumber: string | undefined;
    /** The first sequence number still readable after the gap, if known. */
    resumedAtSequenceNumber: string | undefined;
    policy: 'skip-to-trim-horizon' | 'stop';
  };
  'records.fetched': {
    streamId: string;
    shardId: string;
    count: number;
    bytes: number;
    millisBehindLatest: number | undefined;
  };
  'batch.processed': {
    shardId: string;
    records: number;
    succeeded: number;
    failed: number;
    parked: number;
    blocked: number;
    durationMs: number;
  };
  'record.retried': {
    shardId: string;
    sequenceNumber: string;
    attempt: number;
    delayMs: number;
    error: Error;
  };
  'record.parked': {
    shardId: string;
    sequenceNumber: string;
    orderingKey: string;
    attempts: number;
    error: Error;
  };
  'record.failed': {
    shardId: string;
    sequenceNumber: string;
    orderingKey: string;
    attempts: number;
    error: Error;
  };
  'record.duplicate': { shardId: string; sequenceNumber: string; reason: 'seen' | 'stale' };
  /**
   * A record left out before the handler or sink: it matched no `filters` pattern, was a TTL
   * delete with `ttlDeletes: 'skip'`, global tables bookkeeping, or written in another Region
   * (`globalTables.onlyOrigin`). It is done: checkpointed, never retried, never parked.
   */
  'record.filtered': {
    shardId: string;
    sequenceNumber: string;
    orderingKey: string;
    reason: FilterReason;
  };
  /**
   * A KPL user record whose hash key lies outside the hash key range of the shard it was read
   * from: its aggregate was put with an outdated shard map (after a reshard). The KPL puts such
   * records again to the right shard; other aggregators do not. Delivered or skipped per the
   * `outOfRangeRecordPolicy` of the Kinesis source or Lambda handler.
   */
  'record.outOfRange': {
    streamId: string;
    shardId: string;
    /** The aggregate's sequence number. */
    sequenceNumber: string;
    subSequenceNumber: number;
    partitionKey: string;
    explicitHashKey: string | undefined;
    /** The user record's 128-bit hash key, as a decimal string. */
    hashKey: string;
    /** What the policy did with it. */
    action: 'delivered' | 'skipped';
  };
  'checkpoint.resolved': { shardId: string; position: StreamPosition };
  'checkpoint.committed': {
    streamId: string;
    shardId: string;
    position: StreamPosition | 'SHARD_END';
  };
  'lease.acquired': { leaseKey: string; owner: string; stolenFrom: string | undefined };
  'lease.renewed': { leaseKey: string; owner: string };
  'lease.lost': { leaseKey: string; owner: string; reason: string };
  'lease.released': { leaseKey: string; owner: string };
}

/** The name of a Shardline event. */
export type ShardlineEventName = keyof ShardlineEventMap;

/** A listener of one event type. */
export type ShardlineListener<K extends ShardlineEventName> = (event: ShardlineEventMap[K]) => void;

/**
 * A small typed event emitter. Listener errors are caught and reported to `onListenerError` so a
 * broken subscriber never breaks the stream.
 */
export class EventBus {
  readonly #listeners = new Map<ShardlineEventName, Set<(event: never) => void>>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** Subscribes; returns a function that unsubscribes. */
  on<K extends ShardlineEventName>(type: K, listener: ShardlineListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (!set) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /** Whether anyone listens to `type` (lets hot paths skip building an event). */
  has(type: ShardlineEventName): boolean {
    return (this.#listeners.get(type)?.size ?? 0) > 0;
  }

  /** Delivers `event` to every listener of `type`, synchronously. */
  emit<K extends ShardlineEventName>(type: K, event: ShardlineEventMap[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as ShardlineListener<K>)(event);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}
