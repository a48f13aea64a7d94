import type {
  BatchProcessorOptions,
  ChangeRecord,
  KeyBatchHandler,
  RecordHandler,
  Sink,
} from '@shardline/core';
import type { Context, DynamoDBRecord, KinesisStreamRecord } from 'aws-lambda';

/** The state Lambda carries between the invocations of one tumbling window (a JSON object). */
export type WindowState = Record<string, unknown>;

/** The fields Lambda adds to a stream event when the mapping has `TumblingWindowInSeconds`. */
export interface TumblingWindowEventFields<S extends WindowState = WindowState> {
  /** The window's bounds, ISO 8601. */
  readonly window: { readonly start: string; readonly end: string };
  /** The state returned by the previous invocation of this window; absent or `{}` at first. */
  readonly state?: S | null;
  readonly shardId?: string;
  readonly eventSourceARN?: string;
  /** True on the last invocation of the window: the time to write the aggregate out. */
  readonly isFinalInvokeForWindow: boolean;
  /** True when the window ended early because the state reached 1 MB. */
  readonly isWindowTerminatedEarly: boolean;
}

/**
 * A Lambda event from a DynamoDB Streams or Kinesis event source mapping, with the tumbling
 * window fields when the mapping has a window.
 */
export interface StreamEvent<S extends WindowState = WindowState>
  extends Partial<TumblingWindowEventFields<S>> {
  readonly Records: readonly (DynamoDBRecord | KinesisStreamRecord)[];
}

/** One entry of `batchItemFailures`: the sequence number Lambda resumes from. */
export interface BatchItemFailure {
  readonly itemIdentifier: string;
}

/**
 * What the handler returns: the partial batch response of `ReportBatchItemFailures`, and the
 * window state in tumbling-window mode (Lambda counts a window invoke without `state` as failed).
 */
export interface StreamBatchResponse<S extends WindowState = WindowState> {
  batchItemFailures: BatchItemFailure[];
  state?: S;
}

/** The part of the Lambda context Shardline reads. A full `Context` satisfies it. */
export type LambdaTimeContext = Pick<Context, 'getRemainingTimeInMillis'>;

/**
 * A Lambda handler for stream events. Works as a plain handler (`export const handler = …`) and
 * under Middy (`middy(handler)`), which passes the same two arguments.
 */
export type StreamHandler<S extends WindowState = WindowState> = (
  event: StreamEvent<S>,
  context?: LambdaTimeContext,
) => Promise<StreamBatchResponse<S>>;

/** What a {@link WindowHandler} is told: the window, its state, and the attempt. */
export interface TumblingWindow<S extends WindowState = WindowState> {
  readonly start: string;
  readonly end: string;
  /** The state of the window so far (`{}` on the first invocation of a window). */
  readonly state: S;
  readonly shardId: string | undefined;
  /** True on the window's last invocation: write the aggregate out now. */
  readonly isFinalInvoke: boolean;
  /** True when Lambda ended the window early (state reached 1 MB). */
  readonly isTerminatedEarly: boolean;
  /** 1 on the first try, then 2, 3, … */
  readonly attempt: number;
  /** Aborted when the invocation is about to run out of time. */
  readonly signal: AbortSignal;
}

/**
 * Folds one invocation's records (in shard order) into the window state and returns the new
 * state. Called once per invocation, also with no records (Lambda's final invoke of a window may
 * carry none). It should be a pure fold plus, on `isFinalInvoke`, the write of the aggregate:
 * when it throws, the state is left as it was and the batch is redelivered.
 */
export type WindowHandler<S extends WindowState = WindowState> = (
  records: readonly ChangeRecord[],
  window: TumblingWindow<S>,
) => S | Promise<S>;

/**
 * Options shared by every Lambda handler factory. Give exactly one of `handler`,
 * `keyBatchHandler`, `sink` or `windowHandler`. The other options mean what they mean on the
 * worker and in core's `BatchProcessor`.
 */
export interface LambdaHandlerOptions<S extends WindowState = WindowState>
  extends Omit<BatchProcessorOptions, 'handler' | 'keyBatchHandler' | 'sink'> {
  /** Called once per record: serially within an ordering key, concurrently across keys. */
  readonly handler?: RecordHandler;
  /** Called once per ordering key with that key's records of the invocation, in order. */
  readonly keyBatchHandler?: KeyBatchHandler;
  /** Receives the records in shard order; flushed before the invocation returns. */
  readonly sink?: Sink;
  /** Tumbling-window mode: folds each invocation into the window state (see {@link WindowHandler}). */
  readonly windowHandler?: WindowHandler<S>;
  /**
   * Time kept free at the end of the invocation, in ms: no record starts and no retry is
   * scheduled after `remaining − margin`, and the handler answers at `remaining − margin / 2`
   * even if a call is still running.
   * @default 10% of the remaining time, at least 1000 and at most 10000
   */
  readonly timeoutMarginMs?: number;
  /** Overrides the ordering key (default: the item's primary key, or the Kinesis partition key). */
  readonly orderingKey?: (record: ChangeRecord) => string;
  /**
   * Which done records the deduper remembers across warm invocations. `redelivered`: what the
   * event source mapping sends again, the records a batch applied when it reports a failure or
   * answers at the time limit (and every change of "Kinesis Data Streams for DynamoDB", which
   * repeats them); a batch that finishes whole is not remembered, so a healthy stream pays
   * nothing for de-duplication. `every-record` also remembers whole batches, to drop a batch
   * the mapping sends twice to the same execution environment (at-least-once delivery), at
   * about a third less throughput for a no-op handler.
   * @default 'redelivered'
   */
  readonly remember?: 'every-record' | 'redelivered';
}
