import {
  type StartingPosition,
  SubscribeToShardCommand,
  type SubscribeToShardEvent,
  type SubscribeToShardEventStream,
} from '@aws-sdk/client-kinesis';
import {
  awsErrorCode,
  type ChangeRecord,
  DataTrimmedError,
  type IteratorReacquiredReport,
  type Logger,
  type ShardIterator,
  type ShardReadResult,
  type StartPosition,
  toStreamReadError,
} from '@shardline/core';
import { FAN_OUT_RETRIABLE_CODES, type FanOutContext } from './fanOut.js';
import type { KinesisSettings } from './KinesisSource.js';
import { KinesisPageDecoder, resumePointOf } from './kinesisPages.js';

interface Subscription {
  readonly events: AsyncIterator<SubscribeToShardEventStream>;
  /** Ends the subscription (closes its HTTP/2 stream). */
  readonly close: () => void;
  /** When it was opened (epoch ms): it is renewed `renewSubscriptionAfterMs` later. */
  readonly startedAt: number;
}

/**
 * Reads one Kinesis shard through enhanced fan-out: `SubscribeToShard` over HTTP/2, one pushed
 * `SubscribeToShardEvent` per `next`.
 *
 * - A subscription is renewed `renewSubscriptionAfterMs` (4 m 50 s) after it started, before
 *   the service's 5-minute end, between two events.
 * - The subscription resumes AFTER the last event's `ContinuationSequenceNumber` whenever it
 *   ends: normally (the service ends each one after 5 minutes), on a dropped connection (which
 *   the SDK also reports as a normal end of the event stream), or with an error (thrown as a
 *   retriable `StreamReadError`; the consumer backs off and the next `next` subscribes again).
 *   Only events handed out by `next` move the position, so records buffered in a dropped
 *   connection are neither lost nor repeated.
 * - Subscribe calls of a shard are paced one second apart (the service's limit per consumer
 *   and shard); `LimitExceededException` and `ResourceInUseException` (another subscription
 *   of the consumer still holds the shard, as during a lease handover) are retriable.
 * - The subscription is closed when the `signal` of the `next` that opened it aborts (the
 *   consumer stopped or lost its lease), so the shard's next reader is not kept waiting.
 * - At shard end the event's `ChildShards` give `childShardIds` (else a listing).
 * - KPL aggregates, resumes inside an aggregate, out-of-range user records and trimmed
 *   checkpoints are handled as in polling mode: a checkpoint subscribes AT its own record and
 *   checks that it comes first (the source's `trimmedDataPolicy` applies when it does not).
 * - `millisBehindLatest` comes from each event's `MillisBehindLatest`.
 */
export class KinesisFanOutShardIterator implements ShardIterator {
  /** Pages are pushed by `SubscribeToShard`: the reader does not pace them. */
  readonly pushed = true;
  readonly #settings: KinesisSettings;
  readonly #fanOut: FanOutContext;
  readonly #shardId: string;
  readonly #findChildren: (signal?: AbortSignal) => Promise<string[]>;
  readonly #log: Logger;
  readonly #report: IteratorReacquiredReport;
  #position: StartingPosition;
  /** Decodes events as polling decodes pages (the record a checkpoint opened AT comes first). */
  readonly #pages: KinesisPageDecoder;
  #subscription: Subscription | undefined;
  #ended = false;
  #childShardIds: string[] | undefined;

  constructor(
    settings: KinesisSettings,
    fanOut: FanOutContext,
    shardId: string,
    hashKeyRange: { startingHashKey: string; endingHashKey: string } | undefined,
    start: StartPosition,
    findChildren: (signal?: AbortSignal) => Promise<string[]>,
    startingSequenceNumber?: string,
  ) {
    this.#settings = settings;
    this.#fanOut = fanOut;
    this.#shardId = shardId;
    this.#findChildren = findChildren;
    this.#log = settings.logger.child({ shardId, retrieval: 'fan-out' });
    this.#report = {
      metrics: settings.metrics,
      events: settings.events,
      log: this.#log,
      streamId: settings.streamId,
      shardId,
    };
    this.#position = startingPosition(start);
    this.#pages = new KinesisPageDecoder(settings, shardId, hashKeyRange, this.#report);
    this.#pages.resumeAt = resumePointOf(start, startingSequenceNumber);
  }

  /** Resolves the consumer (registers it and waits for ACTIVE when needed). */
  async open(signal?: AbortSignal): Promise<void> {
    await this.#fanOut.consumerArn(signal);
  }

  async next(signal?: AbortSignal): Promise<ShardReadResult> {
    if (this.#ended) return this.#endPage([], undefined);
    for (;;) {
      if (
        this.#subscription &&
        Date.now() - this.#subscription.startedAt >= this.#fanOut.renewAfterMs
      ) {
        // Renew before the service ends it: the next one resumes after the last event handed
        // out, so the records the closed stream still held are sent again, none lost or repeated.
        this.#closeSubscription();
        this.#settings.metrics.increment('fan_out_subscriptions_renewed_total', 1, {
          stream: this.#settings.streamId,
          shard: this.#shardId,
          reason: 'ahead',
        });
      }
      const subscription = this.#subscription ?? (await this.#subscribe(signal));
      let step: IteratorResult<SubscribeToShardEventStream>;
      try {
        step = await untilAborted(subscription.events.next(), signal);
      } catch (error) {
        this.#closeSubscription();
        throw toStreamReadError(error, 'SubscribeToShard', FAN_OUT_RETRIABLE_CODES, this.#shardId);
      }
      if (step.done) {
        // The subscription ended (after 5 minutes, or its connection dropped): subscribe again.
        this.#closeSubscription();
        this.#settings.metrics.increment('fan_out_subscriptions_renewed_total', 1, {
          stream: this.#settings.streamId,
          shard: this.#shardId,
          reason: 'ended',
        });
        continue;
      }
      const event = step.value.SubscribeToShardEvent;
      if (event) return this.#toPage(event, signal);
      const failure = Object.values(step.value).find((v) => v instanceof Error);
      if (failure) {
        this.#closeSubscription();
        throw toStreamReadError(
          failure,
          'SubscribeToShard',
          FAN_OUT_RETRIABLE_CODES,
          this.#shardId,
        );
      }
      // An event type this client does not know: skip it.
    }
  }

  async #subscribe(signal: AbortSignal | undefined): Promise<Subscription> {
    const consumerArn = await this.#fanOut.consumerArn(signal);
    await this.#fanOut.subscribePacer(this.#shardId).wait(signal);
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const close = () => {
      signal?.removeEventListener('abort', onAbort);
      controller.abort();
    };
    try {
      const output = await this.#settings.client.send(
        new SubscribeToShardCommand({
          ConsumerARN: consumerArn,
          ShardId: this.#shardId,
          StartingPosition: this.#position,
        }),
        { abortSignal: controller.signal },
      );
      if (!output.EventStream) throw new Error('SubscribeToShard answered without an EventStream');
      const events = output.EventStream[Symbol.asyncIterator]();
      this.#subscription = { events, close, startedAt: Date.now() };
      this.#log.debug({ position: this.#position }, 'subscribed');
      return this.#subscription;
    } catch (error) {
      close();
      // The consumer was deregistered: a restarted read looks it up (or registers it) again.
      if (awsErrorCode(error) === 'ResourceNotFoundException') this.#fanOut.forget(consumerArn);
      throw toStreamReadError(error, 'SubscribeToShard', FAN_OUT_RETRIABLE_CODES, this.#shardId);
    }
  }

  #closeSubscription(): void {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    if (!subscription) return;
    subscription.close();
    // Let the event stream settle; its rejection after the abort is expected.
    subscription.events.return?.().catch(() => undefined);
  }

  async #toPage(event: SubscribeToShardEvent, signal?: AbortSignal): Promise<ShardReadResult> {
    const raw = event.Records ?? [];
    const shardEnds = (event.ChildShards?.length ?? 0) > 0;
    let records: ChangeRecord[];
    try {
      records = this.#pages.decode(raw, shardEnds);
    } catch (error) {
      if (error instanceof DataTrimmedError) {
        // Subscribe again AT the same record after a restart: the shard stays stopped.
        this.#position = { Type: 'AT_SEQUENCE_NUMBER', SequenceNumber: error.fromSequenceNumber };
        this.#closeSubscription();
      }
      throw error;
    }
    const continuation = event.ContinuationSequenceNumber ?? raw[raw.length - 1]?.SequenceNumber;
    // Before the record a checkpoint opened AT has come, the position stays AT it.
    if (continuation && !this.#pages.resumeAt) {
      this.#position = { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: continuation };
    }
    const millisBehindLatest = event.MillisBehindLatest;
    if (!shardEnds) return { records, millisBehindLatest, shardEnded: false };
    this.#ended = true;
    this.#closeSubscription();
    this.#childShardIds = (event.ChildShards ?? []).map((c) => c.ShardId!).filter(Boolean);
    if (this.#childShardIds.length === 0) {
      try {
        this.#childShardIds = await this.#findChildren(signal);
      } catch (error) {
        this.#log.warn({ err: error }, 'could not look up the children of an ended shard');
      }
    }
    return this.#endPage(records, millisBehindLatest);
  }

  #endPage(records: ChangeRecord[], millisBehindLatest: number | undefined): ShardReadResult {
    return { records, millisBehindLatest, shardEnded: true, childShardIds: this.#childShardIds };
  }
}

/** The subscribe position of a start position; a checkpoint opens AT its own record. */
function startingPosition(from: StartPosition): StartingPosition {
  switch (from.type) {
    case 'TRIM_HORIZON':
    case 'LATEST':
      return { Type: from.type };
    case 'AT_TIMESTAMP':
      return { Type: 'AT_TIMESTAMP', Timestamp: from.timestamp };
    case 'AT_SEQUENCE_NUMBER':
    case 'AFTER_SEQUENCE_NUMBER':
      return { Type: 'AT_SEQUENCE_NUMBER', SequenceNumber: from.sequenceNumber };
  }
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
