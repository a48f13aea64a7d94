import {
  DescribeStreamConsumerCommand,
  type KinesisClient,
  RegisterStreamConsumerCommand,
} from '@aws-sdk/client-kinesis';
import {
  awsErrorCode,
  CallPacer,
  ConfigurationError,
  type Logger,
  RetryPolicy,
  sleep,
  toStreamReadError,
} from '@shardline/core';
import { KINESIS_RETRIABLE_CODES } from './retriableCodes.js';

/** How a Kinesis source reads its shards. */
export const KinesisRetrieval = {
  /** GetRecords polling: the 5 reads/s and 2 MB/s per shard are shared by every reader. */
  Polling: 'polling',
  /**
   * Enhanced fan-out: a registered consumer with its own 2 MB/s per shard, records pushed
   * over HTTP/2 (`SubscribeToShard`).
   */
  FanOut: 'fan-out',
} as const;
/** How a Kinesis source reads its shards: `polling` or `fan-out`. */
export type KinesisRetrieval = (typeof KinesisRetrieval)[keyof typeof KinesisRetrieval];

/**
 * Least time between two SubscribeToShard calls per consumer and shard, in ms: the service
 * allows one per second, measured where the calls arrive, so a tenth is added for the
 * difference in their network delays (without it a renewal was refused now and then).
 */
export const MIN_SUBSCRIBE_INTERVAL_MS = 1100;

/**
 * Error codes of SubscribeToShard that a wait and another subscribe cure, besides the polling
 * ones: `ResourceInUseException` (another subscription of the consumer still holds the shard,
 * e.g. the worker that had its lease until a moment ago; or the consumer is not ACTIVE yet).
 */
export const FAN_OUT_RETRIABLE_CODES: ReadonlySet<string> = new Set([
  ...KINESIS_RETRIABLE_CODES,
  'ResourceInUseException',
]);

/** What the fan-out iterators of one source share: the consumer and the subscribe pacing. */
export interface FanOutContext {
  /** The consumer's ARN: registered (or found by name) once, then ACTIVE. */
  consumerArn(signal?: AbortSignal): Promise<string>;
  /**
   * Forgets `consumerArn` (the service no longer knows it: the consumer was deregistered), so
   * the next {@link FanOutContext.consumerArn} looks the consumer up, or registers it, again.
   */
  forget(consumerArn: string): void;
  /** The pacer of a shard's subscribe calls (one per second per shard for this consumer). */
  subscribePacer(shardId: string): CallPacer;
  /** How long after it started a subscription is renewed (before the service's 5-minute end). */
  readonly renewAfterMs: number;
}

/** Settings of {@link createFanOutContext}. */
export interface FanOutContextOptions {
  readonly client: KinesisClient;
  readonly streamArn: string;
  readonly consumerName: string;
  /** How long to wait for the consumer to be ACTIVE, in ms. */
  readonly activationTimeoutMs: number;
  /** How long after it started a subscription is renewed, in ms. */
  readonly renewAfterMs: number;
  readonly logger: Logger;
}

/**
 * The fan-out state of one source. The consumer is looked up (or registered) on first use and
 * the lookup is kept; a failed lookup is tried again on the next use.
 */
export function createFanOutContext(options: FanOutContextOptions): FanOutContext {
  let arn: Promise<string> | undefined;
  let resolved: string | undefined;
  const pacers = new Map<string, CallPacer>();
  return {
    renewAfterMs: options.renewAfterMs,
    consumerArn(signal) {
      if (!arn) {
        arn = ensureConsumer(options, signal);
        arn.then(
          (value) => {
            resolved = value;
          },
          () => {
            arn = undefined;
          },
        );
      }
      return arn;
    },
    forget(consumerArn) {
      if (resolved !== consumerArn) return;
      options.logger.warn({ consumerArn }, 'the fan-out consumer is gone; it is looked up again');
      resolved = undefined;
      arn = undefined;
    },
    subscribePacer(shardId) {
      let pacer = pacers.get(shardId);
      if (!pacer) {
        pacer = new CallPacer(MIN_SUBSCRIBE_INTERVAL_MS);
        pacers.set(shardId, pacer);
      }
      return pacer;
    },
  };
}

/** Polls of a consumer's status until ACTIVE: core's backoff, 100 ms doubling to 2 s. */
const ACTIVATION_POLL = RetryPolicy.untilStopped(100, 2000);

/**
 * Finds the stream's consumer named `consumerName`, registers it when there is none (a
 * concurrent registration by another worker is tolerated), and waits until it is ACTIVE.
 * Returns its ARN.
 */
export async function ensureConsumer(
  options: FanOutContextOptions,
  signal?: AbortSignal,
): Promise<string> {
  const { client, streamArn, consumerName, logger } = options;
  const call = signal ? { abortSignal: signal } : {};
  const deadline = Date.now() + options.activationTimeoutMs;
  let registered = false;
  for (let attempt = 1; ; attempt++) {
    const delayMs = ACTIVATION_POLL.delayMs(attempt);
    let status: string | undefined;
    let consumerArn: string | undefined;
    try {
      const { ConsumerDescription } = await client.send(
        new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName }),
        call,
      );
      status = ConsumerDescription?.ConsumerStatus;
      consumerArn = ConsumerDescription?.ConsumerARN;
    } catch (error) {
      if (awsErrorCode(error) !== 'ResourceNotFoundException' || registered) {
        throw toStreamReadError(error, 'DescribeStreamConsumer', KINESIS_RETRIABLE_CODES);
      }
      try {
        await client.send(
          new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName }),
          call,
        );
        logger.info({ consumerName }, 'registered the enhanced fan-out consumer');
      } catch (registerError) {
        // Another worker registered it first: wait for it like for our own.
        if (awsErrorCode(registerError) !== 'ResourceInUseException') {
          throw toStreamReadError(registerError, 'RegisterStreamConsumer', KINESIS_RETRIABLE_CODES);
        }
      }
      registered = true;
    }
    if (status === 'ACTIVE' && consumerArn) return consumerArn;
    if (status === 'DELETING') {
      throw new ConfigurationError(
        `The fan-out consumer ${consumerName} of ${streamArn} is being deregistered: wait until it is gone (it is registered again then), or give another consumerName.`,
      );
    }
    if (Date.now() + delayMs > deadline) {
      throw new ConfigurationError(
        `The fan-out consumer ${consumerName} of ${streamArn} was not ACTIVE within ${options.activationTimeoutMs} ms (last status: ${status ?? 'not registered'}); raise consumerActivationTimeoutMs or check the consumer with DescribeStreamConsumer.`,
      );
    }
    await sleep(delayMs, signal);
  }
}
