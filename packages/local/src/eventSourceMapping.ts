import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  ConfigurationError,
  consoleWarningLogger,
  errorMessage,
  type Logger,
  ShardGraph,
  type ShardInfo,
  sleep,
} from '@shardline/core';
import type { DynamoDBRecord, KinesisStreamRecord } from 'aws-lambda';
import {
  type EnvironmentOutcome,
  ExecutionEnvironmentPool,
  type FunctionLogs,
} from './ExecutionEnvironmentPool.js';
import type { MappedStreamRecord } from './lambdaStreamEvents.js';
import {
  type EventSourceMappingSource,
  openStreamAdapter,
  type ReaderPosition,
  type StreamAdapter,
} from './streamAdapters.js';

export type { FunctionLogs } from './ExecutionEnvironmentPool.js';
export type { EventSourceMappingSource } from './streamAdapters.js';

/** The event a function receives: `{ Records }` of one shard (one lane of it). */
export interface LambdaStreamEvent {
  readonly Records: readonly (DynamoDBRecord | KinesisStreamRecord)[];
}

/** Why a batch went to the on-failure destination. */
export type OnFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** The batch metadata of an on-failure record (`DDBStreamBatchInfo` / `KinesisBatchInfo`). */
export interface OnFailureBatchInfo {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly approximateArrivalOfFirstRecord: string;
  readonly approximateArrivalOfLastRecord: string;
  readonly batchSize: number;
  readonly streamArn: string;
}

/**
 * What Lambda sends to an on-failure destination (SQS, SNS) when it discards a batch: metadata
 * only, no records, as documented for stream event source mappings.
 */
export interface OnFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: OnFailureCondition;
    readonly approximateInvokeCount: number;
  };
  /** Absent when the records expired before an invocation. */
  readonly responseContext?: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError: string;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo?: OnFailureBatchInfo;
  readonly KinesisBatchInfo?: OnFailureBatchInfo;
}

/** How one invocation ended, as {@link InvocationReport} names it. */
export type InvocationOutcome =
  | 'success'
  | 'partial-failure'
  | 'function-error'
  | 'timeout'
  | 'killed'
  | 'init-error';

/** One finished invocation, for logs (`shardline dev` prints one line each). */
export interface InvocationReport {
  readonly shardId: string;
  /** ParallelizationFactor lane (0-based). */
  readonly lane: number;
  readonly records: number;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  readonly outcome: InvocationOutcome;
  /** Records done by this invocation (all on success, the part before the lowest reported failure). */
  readonly succeeded: number;
  readonly durationMs: number;
  /** This batch (or part of it) was delivered before: a retry or a duplicate. */
  readonly redelivery: boolean;
  /** A duplicate delivery of a batch that had succeeded (a fault of the mapping). */
  readonly duplicate: boolean;
  /** The function's error message, for function errors. */
  readonly error?: string;
}

/** Counters of a mapping, for tests to assert on. */
export interface EventSourceMappingStats {
  readonly invocations: number;
  /** Invocations that carried records delivered before, after a failure. */
  readonly retries: number;
  /** Batches delivered again after success (the `duplicateBatchProbability` fault). */
  readonly duplicates: number;
  /** Environments killed mid-batch (the `killProbability` fault). */
  readonly kills: number;
  /** Invocations killed at the function timeout. */
  readonly timeouts: number;
  readonly functionErrors: number;
  readonly partialFailures: number;
  readonly bisections: number;
  /** Records in invoked events, redeliveries included. */
  readonly recordsDelivered: number;
  /** Records sent to the on-failure destination. */
  readonly recordsDiscarded: number;
  readonly coldStarts: number;
  readonly warmStarts: number;
  /** Most invocations in flight at once, over the whole mapping. */
  readonly maxConcurrentInvocations: number;
  /** Most invocations in flight at once within one shard, per shard. */
  readonly maxConcurrentByShard: Readonly<Record<string, number>>;
  /** Shards read to their end with every record done. */
  readonly shardsFinished: number;
}

/** A reshard (rollover, split, merge) to run once the mapping made so many invocations. */
export interface ReshardHook {
  readonly afterInvocations: number;
  run(): unknown;
}

/** Options of {@link startEventSourceMapping}; names follow `CreateEventSourceMapping`. */
export interface EventSourceMappingOptions {
  readonly source: EventSourceMappingSource;
  /** Path of the handler module (.js, .mjs, or .ts through tsx). */
  readonly handlerModule: string;
  /** The handler's export. @default 'handler' */
  readonly handlerExport?: string;
  /** @default 'shardline-dev' */
  readonly functionName?: string;
  /** Records per invocation at most, 1–10,000. @default 100 */
  readonly batchSize?: number;
  /** Wait up to this long to fill a batch, 0–300 s. @default 0 */
  readonly maximumBatchingWindowInSeconds?: number;
  /** @default 'TRIM_HORIZON' */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Concurrent batches per shard, 1–10 (lanes by key hash, order kept per key). @default 1 */
  readonly parallelizationFactor?: number;
  /** `['ReportBatchItemFailures']` to honour `{ batchItemFailures }`. @default [] */
  readonly functionResponseTypes?: readonly 'ReportBatchItemFailures'[];
  /** Split a failed batch in two (does not count as a retry). @default false */
  readonly bisectBatchOnFunctionError?: boolean;
  /** Retries of a failed batch before it is discarded; -1 = until it expires. @default -1 */
  readonly maximumRetryAttempts?: number;
  /** Records older than this are discarded; -1 = never. @default -1 */
  readonly maximumRecordAgeInSeconds?: number;
  /** The on-failure destination: gets each discarded batch's metadata, and the event (as S3 would). */
  readonly onFailure?: (record: OnFailureRecord, event: LambdaStreamEvent) => unknown;
  /** The function timeout: a longer invocation is killed and fails. @default 3000 (Lambda's) */
  readonly timeoutMs?: number;
  /** Most invocations at once (reserved concurrency). @default 1000 */
  readonly maximumConcurrency?: number;
  /** The function's environment variables (added to this process's). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Node flags of the environments, e.g. `['--conditions=source']`. tsx is added for .ts. @default [] */
  readonly execArgv?: readonly string[];
  /** Where the function's stdout and stderr go. @default 'inherit' */
  readonly functionLogs?: FunctionLogs;
  /** Wait between empty GetRecords of a shard, in ms (Lambda polls 4 times a second). @default 250 */
  readonly pollIntervalMs?: number;
  /** How often shards are listed (new shards after a reshard), in ms. @default 1000 */
  readonly discoveryIntervalMs?: number;
  /** Wait before retrying a failed batch, in ms. @default 100 */
  readonly retryDelayMs?: number;
  /** Seed of every fault decision; the same seed and records give the same faults. @default 1 */
  readonly seed?: number;
  /** Chance that a successful batch is delivered again (Lambda does so now and then). @default 0 */
  readonly duplicateBatchProbability?: number;
  /** Chance that an invocation's environment is killed (-9) mid-batch. @default 0 */
  readonly killProbability?: number;
  /** A kill lands within this many ms of the invocation's start (or when it answers). @default 200 */
  readonly killWithinMs?: number;
  /** Chance that an invocation runs its handler, then stalls past the timeout. @default 0 */
  readonly timeoutProbability?: number;
  /** Reshards to trigger mid-run (e.g. `() => server.rollover()` on the multi-shard server). */
  readonly reshards?: readonly ReshardHook[];
  /** Called after every invocation. */
  readonly onInvocation?: (report: InvocationReport) => void;
  /** Region in ARNs and Kinesis records. @default AWS_REGION or 'us-east-1' */
  readonly region?: string;
  /** Warnings (stream errors, a failing on-failure destination). @default console warnings */
  readonly logger?: Logger;
}

/** A running event source mapping (see {@link startEventSourceMapping}). */
export interface EventSourceMapping {
  /** The stream's ARN, as the records' `eventSourceARN`. */
  readonly eventSourceArn: string;
  readonly functionArn: string;
  /** Counters so far. */
  stats(): EventSourceMappingStats;
  /** Every on-failure record so far. */
  failures(): readonly OnFailureRecord[];
  /**
   * Resolves once everything written before the call is processed: every shard polled empty
   * since, every lane idle, every ready child shard started and drained.
   *
   * @throws Error after `timeoutMs`, naming what is still pending.
   */
  drained(options?: { readonly timeoutMs?: number }): Promise<void>;
  /** Stops polling, waits for in-flight invocations, kills every environment. */
  stop(): Promise<void>;
}

/** Defaults of {@link EventSourceMappingOptions}. */
export const DEFAULT_EVENT_SOURCE_MAPPING = {
  batchSize: 100,
  maximumBatchingWindowInSeconds: 0,
  parallelizationFactor: 1,
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
  timeoutMs: 3000,
  maximumConcurrency: 1000,
  pollIntervalMs: 250,
  discoveryIntervalMs: 1000,
  retryDelayMs: 100,
  killWithinMs: 200,
} as const;

/** Lambda's invoke payload limit, which also caps a batch. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

interface BatchStep {
  size: number;
  attempts: number;
}

interface Lane {
  readonly index: number;
  readonly queue: MappedStreamRecord[];
  /** Batches to deliver, front first; each is a prefix of what is left of the queue. */
  readonly plan: BatchStep[];
  busy: boolean;
  /** Leading queued records delivered before (so the next delivery is a retry). */
  deliveredPrefix: number;
  nextIsDuplicate: boolean;
  deliveries: number;
  firstBufferedAt: number;
  timer: NodeJS.Timeout | undefined;
}

interface ShardState {
  readonly shardId: string;
  readonly lanes: Lane[];
  readerDone: boolean;
  lastEmptyPollStartedAt: number;
  finished: boolean;
  inFlight: number;
}

/**
 * Starts a Lambda event source mapping emulator: it polls a DynamoDB stream or a Kinesis stream
 * through the SDK v3 clients, follows shard lineage (parents finished before children), and
 * invokes a handler module the way Lambda does, so tests and `shardline dev` see production
 * semantics: the exact event shapes, `ParallelizationFactor` lanes running concurrently (order
 * kept per key), each invocation in its own execution environment (a child process, reused warm),
 * partial batch responses resuming at the lowest reported item, bisection, retry and age limits
 * with an on-failure destination, a function timeout that kills, and seeded faults (duplicate
 * deliveries, kill -9 mid-batch, stalls past the timeout, reshards mid-run).
 *
 * @example
 * const esm = await startEventSourceMapping({
 *   source: { type: 'dynamodb-streams', streamArn, clientConfig: ddb.clientConfig },
 *   handlerModule: 'examples/vote-aggregation/src/lambda.ts',
 *   parallelizationFactor: 10,
 *   functionResponseTypes: ['ReportBatchItemFailures'],
 * });
 * await esm.drained();
 * await esm.stop();
 */
export async function startEventSourceMapping(
  options: EventSourceMappingOptions,
): Promise<EventSourceMapping> {
  const settings = validate(options);
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const functionName = options.functionName ?? 'shardline-dev';
  const functionArn = `arn:aws:lambda:${region}:123456789012:function:${functionName}`;
  const logger = options.logger ?? consoleWarningLogger({ component: 'event-source-mapping' });
  const reportFailures = (options.functionResponseTypes ?? []).includes('ReportBatchItemFailures');
  const modulePath = isAbsolute(options.handlerModule)
    ? options.handlerModule
    : resolve(process.cwd(), options.handlerModule);
  if (!existsSync(modulePath)) {
    throw new ConfigurationError(
      `Handler module "${options.handlerModule}" does not exist (looked for ${modulePath}); give the path of the module that exports the handler.`,
    );
  }
  const pool = new ExecutionEnvironmentPool({
    modulePath,
    exportName: options.handlerExport ?? 'handler',
    functionName,
    environment: { AWS_REGION: region, ...(options.environment ?? {}) },
    execArgv: options.execArgv ?? [],
    logs: options.functionLogs ?? 'inherit',
    maxConcurrency: settings.maximumConcurrency,
  });
  // The init phase runs before the first poll, so a module that cannot load is reported at once.
  try {
    await pool.prewarm();
  } catch (error) {
    await pool.close();
    throw new ConfigurationError(`${errorMessage(error)} (module ${modulePath})`, {
      cause: error,
    });
  }
  let adapter: StreamAdapter;
  try {
    adapter = await openStreamAdapter(options.source, region);
  } catch (error) {
    await pool.close();
    throw error;
  }

  const counters = {
    invocations: 0,
    retries: 0,
    duplicates: 0,
    kills: 0,
    timeouts: 0,
    functionErrors: 0,
    partialFailures: 0,
    bisections: 0,
    recordsDelivered: 0,
    recordsDiscarded: 0,
    maxConcurrentInvocations: 0,
    shardsFinished: 0,
  };
  const maxConcurrentByShard: Record<string, number> = {};
  const onFailureRecords: OnFailureRecord[] = [];
  const shards = new Map<string, ShardState>();
  const finished = new Set<string>();
  const readers: Promise<void>[] = [];
  const batches = new Set<Promise<void>>();
  const firedReshards = new Set<ReshardHook>();
  let inFlight = 0;
  let stopping = false;
  let firstListing = true;
  let discovering: Promise<void> | undefined;
  let discoverAgain = false;
  let lastDiscoveryStartedAt = 0;
  let lastShardFinishedAt = 0;
  const seed = options.seed ?? 1;

  /** A fault decision from the seed and the batch, independent of timing: repeatable runs. */
  const chance = (kind: string, shardId: string, lane: Lane, firstSeq: string): number =>
    createHash('md5')
      .update(`${seed}|${kind}|${shardId}|${lane.index}|${firstSeq}|${lane.deliveries}`)
      .digest()
      .readUInt32BE(0) /
    2 ** 32;

  const batchInfo = (shardId: string, records: readonly MappedStreamRecord[]) => {
    const first = records[0]!;
    const last = records.at(-1)!;
    const iso = (ms: number) =>
      adapter.kind === 'kinesis'
        ? new Date(ms).toISOString()
        : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      shardId,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: iso(first.arrivedAtMs),
      approximateArrivalOfLastRecord: iso(last.arrivedAtMs),
      batchSize: records.length,
      streamArn: adapter.streamArn,
    };
  };

  const discard = async (
    shard: ShardState,
    lane: Lane,
    count: number,
    condition: OnFailureCondition,
    invokeCount: number,
  ): Promise<void> => {
    const records = lane.queue.slice(0, count);
    const info = batchInfo(shard.shardId, records);
    const record: OnFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn,
        condition,
        approximateInvokeCount: invokeCount,
      },
      ...(invokeCount > 0
        ? {
            responseContext: {
              statusCode: 200,
              executedVersion: '$LATEST',
              functionError: 'Unhandled',
            },
          }
        : {}),
      version: '1.0',
      timestamp: new Date().toISOString(),
      ...(adapter.kind === 'kinesis' ? { KinesisBatchInfo: info } : { DDBStreamBatchInfo: info }),
    };
    onFailureRecords.push(record);
    counters.recordsDiscarded += count;
    try {
      await options.onFailure?.(record, { Records: records.map((r) => r.lambda) });
    } catch (error) {
      logger.warn(
        { shardId: shard.shardId, error: errorMessage(error) },
        'The on-failure destination failed; the batch is discarded anyway.',
      );
    }
    advance(lane, count);
  };

  /** Marks the first `count` queued records done. */
  const advance = (lane: Lane, count: number): void => {
    lane.queue.splice(0, count);
    lane.deliveredPrefix = Math.max(0, lane.deliveredPrefix - count);
    let left = count;
    while (left > 0 && lane.plan.length > 0) {
      const step = lane.plan[0]!;
      const take = Math.min(step.size, left);
      step.size -= take;
      left -= take;
      if (step.size === 0) lane.plan.shift();
    }
  };

  const batchLength = (queue: readonly MappedStreamRecord[]): number => {
    let bytes = 0;
    let n = 0;
    while (n < queue.length && n < settings.batchSize) {
      bytes += queue[n]!.bytes;
      if (n > 0 && bytes > MAX_PAYLOAD_BYTES) break;
      n += 1;
    }
    return n;
  };

  const pump = (shard: ShardState, lane: Lane): void => {
    if (lane.busy || stopping) return;
    if (lane.queue.length === 0) {
      lane.plan.length = 0;
      maybeFinish(shard);
      return;
    }
    if (lane.plan.length === 0) {
      const windowMs = settings.maximumBatchingWindowInSeconds * 1000;
      const length = batchLength(lane.queue);
      if (windowMs > 0 && length === lane.queue.length && length < settings.batchSize) {
        const due = lane.firstBufferedAt + windowMs;
        if (!shard.readerDone && Date.now() < due) {
          lane.timer ??= setTimeout(() => {
            lane.timer = undefined;
            pump(shard, lane);
          }, due - Date.now());
          return;
        }
      }
      lane.plan.push({ size: length, attempts: 0 });
    }
    lane.busy = true;
    const batch = runBatch(shard, lane)
      .catch((error: unknown) => {
        logger.warn({ shardId: shard.shardId, error: errorMessage(error) }, 'A batch failed.');
      })
      .finally(() => {
        lane.busy = false;
        batches.delete(batch);
        pump(shard, lane);
      });
    batches.add(batch);
  };

  const runBatch = async (shard: ShardState, lane: Lane): Promise<void> => {
    const step = lane.plan[0]!;
    if (settings.maximumRecordAgeInSeconds >= 0) {
      const now = Date.now();
      let expired = 0;
      while (
        expired < step.size &&
        now - lane.queue[expired]!.arrivedAtMs > settings.maximumRecordAgeInSeconds * 1000
      )
        expired += 1;
      if (expired > 0) {
        await discard(shard, lane, expired, 'RecordAgeExceeded', step.attempts);
        return;
      }
    }
    const records = lane.queue.slice(0, step.size);
    const firstSeq = records[0]!.sequenceNumber;
    lane.deliveries += 1;
    const duplicate = lane.nextIsDuplicate;
    lane.nextIsDuplicate = false;
    const redelivery = duplicate || lane.deliveredPrefix > 0;
    const kill = chance('kill', shard.shardId, lane, firstSeq) < settings.killProbability;
    const killAfterMs = kill
      ? Math.floor(chance('kill-at', shard.shardId, lane, firstSeq) * settings.killWithinMs)
      : undefined;
    const stall =
      !kill && chance('timeout', shard.shardId, lane, firstSeq) < settings.timeoutProbability;

    const started = Date.now();
    let outcome: EnvironmentOutcome | 'init-error';
    let initError: string | undefined;
    try {
      const environment = await pool.acquire();
      counters.invocations += 1;
      if (redelivery && !duplicate) counters.retries += 1;
      counters.recordsDelivered += records.length;
      inFlight += 1;
      shard.inFlight += 1;
      counters.maxConcurrentInvocations = Math.max(counters.maxConcurrentInvocations, inFlight);
      maxConcurrentByShard[shard.shardId] = Math.max(
        maxConcurrentByShard[shard.shardId] ?? 0,
        shard.inFlight,
      );
      try {
        outcome = await environment.invoke(
          { Records: records.map((r) => r.lambda) },
          settings.timeoutMs,
          { ...(killAfterMs !== undefined ? { killAfterMs } : {}), stallAfterHandler: stall },
        );
      } finally {
        inFlight -= 1;
        shard.inFlight -= 1;
        pool.release(environment);
      }
    } catch (error) {
      if (stopping) return;
      outcome = 'init-error';
      initError = errorMessage(error);
      counters.invocations += 1;
    }
    lane.deliveredPrefix = Math.max(lane.deliveredPrefix, records.length);

    // How far the batch got: all of it, a prefix (partial batch response), or nothing.
    let succeeded = 0;
    let result: InvocationOutcome;
    let error: string | undefined = initError;
    if (outcome === 'init-error') result = 'init-error';
    else if (outcome.kind === 'response') {
      const lowest = reportFailures ? lowestFailure(outcome.response, records) : undefined;
      if (lowest === undefined) {
        succeeded = records.length;
        result = 'success';
      } else if (lowest === 'invalid') {
        result = 'function-error';
        error = 'batchItemFailures is malformed (an itemIdentifier is empty, missing or unknown)';
      } else {
        succeeded = lowest;
        result = 'partial-failure';
      }
    } else if (outcome.kind === 'error') {
      result = 'function-error';
      error = `${outcome.error.name}: ${outcome.error.message}`;
    } else result = outcome.kind === 'timeout' ? 'timeout' : 'killed';

    if (result === 'killed') counters.kills += 1;
    if (result === 'timeout') counters.timeouts += 1;
    if (result === 'function-error' || result === 'init-error') counters.functionErrors += 1;
    if (result === 'partial-failure') counters.partialFailures += 1;
    options.onInvocation?.({
      shardId: shard.shardId,
      lane: lane.index,
      records: records.length,
      firstSequenceNumber: firstSeq,
      lastSequenceNumber: records.at(-1)!.sequenceNumber,
      outcome: result,
      succeeded,
      durationMs: Date.now() - started,
      redelivery,
      duplicate,
      ...(error !== undefined ? { error } : {}),
    });
    await fireReshards();

    if (succeeded === records.length) {
      if (chance('duplicate', shard.shardId, lane, firstSeq) < settings.duplicateBatchProbability) {
        // The checkpoint did not stick: the same batch comes again.
        counters.duplicates += 1;
        lane.nextIsDuplicate = true;
        return;
      }
      advance(lane, records.length);
      return;
    }
    if (succeeded > 0) {
      // Resume at the lowest reported item: the rest of the batch is retried from there.
      advance(lane, succeeded);
      step.attempts += 1;
    } else if (options.bisectBatchOnFunctionError && step.size > 1) {
      // Splitting does not count toward the retry quota.
      counters.bisections += 1;
      const half = Math.ceil(step.size / 2);
      lane.plan.splice(
        0,
        1,
        { size: half, attempts: step.attempts },
        { size: step.size - half, attempts: step.attempts },
      );
      await sleep(settings.retryDelayMs);
      return;
    } else step.attempts += 1;
    const head = lane.plan[0];
    if (
      head &&
      settings.maximumRetryAttempts >= 0 &&
      head.attempts > settings.maximumRetryAttempts
    ) {
      await discard(shard, lane, head.size, 'RetryAttemptsExhausted', head.attempts);
      return;
    }
    await sleep(settings.retryDelayMs);
  };

  const fireReshards = async (): Promise<void> => {
    for (const hook of options.reshards ?? []) {
      if (firedReshards.has(hook) || counters.invocations < hook.afterInvocations) continue;
      firedReshards.add(hook);
      try {
        await hook.run();
      } catch (error) {
        logger.warn({ error: errorMessage(error) }, 'A reshard hook failed.');
      }
      void discover();
    }
  };

  const maybeFinish = (shard: ShardState): void => {
    if (shard.finished || !shard.readerDone) return;
    if (shard.lanes.some((l) => l.busy || l.queue.length > 0)) return;
    shard.finished = true;
    finished.add(shard.shardId);
    counters.shardsFinished += 1;
    lastShardFinishedAt = Date.now();
    void discover();
  };

  const maxBuffered = Math.max(1000, settings.batchSize * settings.parallelizationFactor * 2);

  const readShard = async (shard: ShardState, start: ReaderPosition): Promise<void> => {
    let lastSeq: string | undefined;
    let iterator: string | undefined;
    const reopen = async (): Promise<void> => {
      iterator = await adapter.iterator(
        shard.shardId,
        lastSeq ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: lastSeq } : start,
      );
    };
    let failures = 0;
    while (!stopping) {
      try {
        if (iterator === undefined) await reopen();
        if (iterator === undefined) break;
        const buffered = shard.lanes.reduce((n, l) => n + l.queue.length, 0);
        if (buffered >= maxBuffered) {
          await sleep(20);
          continue;
        }
        const polledAt = Date.now();
        const page = await adapter.getRecords(shard.shardId, iterator);
        failures = 0;
        for (const record of page.records) {
          const lane = shard.lanes[record.keyHash % shard.lanes.length]!;
          if (lane.queue.length === 0) lane.firstBufferedAt = Date.now();
          lane.queue.push(record);
          lastSeq = record.sequenceNumber;
        }
        iterator = page.nextIterator;
        if (page.records.length === 0) shard.lastEmptyPollStartedAt = polledAt;
        for (const lane of shard.lanes) pump(shard, lane);
        if (iterator === undefined) break;
        if (page.records.length === 0) await sleep(settings.pollIntervalMs);
      } catch (error) {
        if (stopping) break;
        const name = (error as { name?: string }).name;
        if (name === 'ExpiredIteratorException') {
          iterator = undefined;
          continue;
        }
        if (name === 'TrimmedDataAccessException') {
          // Records aged out before they were read: resume at the oldest kept one, as Lambda does.
          lastSeq = undefined;
          start = { type: 'TRIM_HORIZON' };
          iterator = undefined;
          continue;
        }
        if (name === 'ResourceNotFoundException' && !(await listed(shard.shardId))) break;
        failures += 1;
        logger.warn(
          { shardId: shard.shardId, error: errorMessage(error) },
          'Reading the shard failed; retrying.',
        );
        await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
    if (stopping) return;
    shard.readerDone = true;
    for (const lane of shard.lanes) pump(shard, lane);
    maybeFinish(shard);
  };

  const listed = async (shardId: string): Promise<boolean> =>
    (await adapter.listShards().catch(() => [] as ShardInfo[])).some((s) => s.shardId === shardId);

  const startShard = (shardId: string, start: ReaderPosition): void => {
    const shard: ShardState = {
      shardId,
      lanes: Array.from({ length: settings.parallelizationFactor }, (_, index) => ({
        index,
        queue: [],
        plan: [],
        busy: false,
        deliveredPrefix: 0,
        nextIsDuplicate: false,
        deliveries: 0,
        firstBufferedAt: 0,
        timer: undefined,
      })),
      readerDone: false,
      lastEmptyPollStartedAt: 0,
      finished: false,
      inFlight: 0,
    };
    shards.set(shardId, shard);
    readers.push(readShard(shard, start));
  };

  const discoverOnce = async (): Promise<void> => {
    const startedAt = Date.now();
    const graph = new ShardGraph(await adapter.listShards());
    if (firstListing) {
      firstListing = false;
      if (options.startingPosition === 'LATEST') {
        // LATEST begins at the open leaves; older shards hold only history it skips.
        const leaves = new Set(graph.leaves().map((s) => s.shardId));
        for (const shard of graph.shards()) {
          if (leaves.has(shard.shardId)) startShard(shard.shardId, { type: 'LATEST' });
          else finished.add(shard.shardId);
        }
      }
    }
    for (const shard of graph.readyShards((id) => finished.has(id))) {
      if (!shards.has(shard.shardId)) startShard(shard.shardId, { type: 'TRIM_HORIZON' });
    }
    lastDiscoveryStartedAt = startedAt;
  };

  const discover = (): Promise<void> => {
    if (stopping) return Promise.resolve();
    if (discovering) {
      discoverAgain = true;
      return discovering;
    }
    discovering = (async () => {
      do {
        discoverAgain = false;
        try {
          await discoverOnce();
        } catch (error) {
          if (!stopping)
            logger.warn({ error: errorMessage(error) }, 'Listing shards failed; retrying.');
        }
      } while (discoverAgain && !stopping);
    })().finally(() => {
      discovering = undefined;
    });
    return discovering;
  };

  try {
    await discoverOnce();
  } catch (error) {
    await pool.close();
    adapter.destroy();
    throw error;
  }
  const discoveryTimer = setInterval(() => void discover(), settings.discoveryIntervalMs);

  const pending = (since: number): string[] => {
    const out: string[] = [];
    if (lastDiscoveryStartedAt <= since) out.push('no shard listing since the call');
    if (lastDiscoveryStartedAt <= lastShardFinishedAt)
      out.push('no shard listing since a shard finished');
    if (inFlight > 0) out.push(`${inFlight} invocations in flight`);
    for (const shard of shards.values()) {
      if (shard.finished) continue;
      const queued = shard.lanes.reduce((n, l) => n + l.queue.length, 0);
      if (queued > 0 || shard.lanes.some((l) => l.busy))
        out.push(`${shard.shardId}: ${queued} records queued`);
      else if (!shard.readerDone && shard.lastEmptyPollStartedAt <= since)
        out.push(`${shard.shardId}: not polled empty since the call`);
      else if (shard.readerDone) out.push(`${shard.shardId}: finishing`);
    }
    return out;
  };

  return {
    eventSourceArn: adapter.streamArn,
    functionArn,
    stats: () => ({
      ...counters,
      coldStarts: pool.coldStarts,
      warmStarts: pool.warmStarts,
      maxConcurrentByShard: { ...maxConcurrentByShard },
    }),
    failures: () => [...onFailureRecords],
    drained: async ({ timeoutMs = 60_000 } = {}) => {
      const since = Date.now();
      void discover();
      const deadline = since + timeoutMs;
      for (;;) {
        const left = pending(since);
        if (left.length === 0) return;
        if (Date.now() > deadline)
          throw new Error(
            `The event source mapping did not drain in ${timeoutMs} ms: ${left.slice(0, 5).join('; ')}.`,
          );
        if (lastDiscoveryStartedAt <= since || lastDiscoveryStartedAt <= lastShardFinishedAt)
          void discover();
        await sleep(25);
      }
    },
    stop: async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(discoveryTimer);
      for (const shard of shards.values())
        for (const lane of shard.lanes) if (lane.timer) clearTimeout(lane.timer);
      await Promise.allSettled([...batches]);
      await Promise.allSettled(readers);
      await discovering?.catch(() => undefined);
      await pool.close();
      adapter.destroy();
    },
  };
}

/**
 * The index of the lowest record a partial batch response names: `undefined` for a success
 * (no response, no list, an empty list), `'invalid'` for a malformed list (Lambda then fails the
 * whole batch).
 */
function lowestFailure(
  response: unknown,
  records: readonly MappedStreamRecord[],
): number | 'invalid' | undefined {
  if (response === null || typeof response !== 'object') return undefined;
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) return 'invalid';
  if (list.length === 0) return undefined;
  let lowest = Number.POSITIVE_INFINITY;
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') return 'invalid';
    const index = records.findIndex((r) => r.sequenceNumber === id);
    if (index < 0) return 'invalid';
    lowest = Math.min(lowest, index);
  }
  return lowest;
}

interface Settings {
  readonly batchSize: number;
  readonly maximumBatchingWindowInSeconds: number;
  readonly parallelizationFactor: number;
  readonly maximumRetryAttempts: number;
  readonly maximumRecordAgeInSeconds: number;
  readonly timeoutMs: number;
  readonly maximumConcurrency: number;
  readonly pollIntervalMs: number;
  readonly discoveryIntervalMs: number;
  readonly retryDelayMs: number;
  readonly killWithinMs: number;
  readonly duplicateBatchProbability: number;
  readonly killProbability: number;
  readonly timeoutProbability: number;
}

function validate(options: EventSourceMappingOptions): Settings {
  const d = DEFAULT_EVENT_SOURCE_MAPPING;
  const settings: Settings = {
    batchSize: options.batchSize ?? d.batchSize,
    maximumBatchingWindowInSeconds:
      options.maximumBatchingWindowInSeconds ?? d.maximumBatchingWindowInSeconds,
    parallelizationFactor: options.parallelizationFactor ?? d.parallelizationFactor,
    maximumRetryAttempts: options.maximumRetryAttempts ?? d.maximumRetryAttempts,
    maximumRecordAgeInSeconds: options.maximumRecordAgeInSeconds ?? d.maximumRecordAgeInSeconds,
    timeoutMs: options.timeoutMs ?? d.timeoutMs,
    maximumConcurrency: options.maximumConcurrency ?? d.maximumConcurrency,
    pollIntervalMs: options.pollIntervalMs ?? d.pollIntervalMs,
    discoveryIntervalMs: options.discoveryIntervalMs ?? d.discoveryIntervalMs,
    retryDelayMs: options.retryDelayMs ?? d.retryDelayMs,
    killWithinMs: options.killWithinMs ?? d.killWithinMs,
    duplicateBatchProbability: options.duplicateBatchProbability ?? 0,
    killProbability: options.killProbability ?? 0,
    timeoutProbability: options.timeoutProbability ?? 0,
  };
  const integer = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      throw new ConfigurationError(
        `${name} must be an integer from ${min} to ${max}, got ${String(value)}.`,
      );
  };
  integer('batchSize', settings.batchSize, 1, 10_000);
  integer('parallelizationFactor', settings.parallelizationFactor, 1, 10);
  integer('maximumRetryAttempts', settings.maximumRetryAttempts, -1, 10_000);
  integer('maximumConcurrency', settings.maximumConcurrency, 1, 100_000);
  if (settings.maximumRecordAgeInSeconds !== -1)
    integer('maximumRecordAgeInSeconds', settings.maximumRecordAgeInSeconds, 0, 604_800);
  const window = settings.maximumBatchingWindowInSeconds;
  if (!(Number.isFinite(window) && window >= 0 && window <= 300))
    throw new ConfigurationError(
      `maximumBatchingWindowInSeconds must be from 0 to 300, got ${String(window)}.`,
    );
  for (const [name, value] of [
    ['timeoutMs', settings.timeoutMs],
    ['pollIntervalMs', settings.pollIntervalMs],
    ['discoveryIntervalMs', settings.discoveryIntervalMs],
    ['retryDelayMs', settings.retryDelayMs],
    ['killWithinMs', settings.killWithinMs],
  ] as const) {
    if (!(Number.isFinite(value) && value >= 0))
      throw new ConfigurationError(`${name} must be a number of ms ≥ 0, got ${String(value)}.`);
  }
  for (const [name, value] of [
    ['duplicateBatchProbability', settings.duplicateBatchProbability],
    ['killProbability', settings.killProbability],
    ['timeoutProbability', settings.timeoutProbability],
  ] as const) {
    if (!(value >= 0 && value <= 1))
      throw new ConfigurationError(`${name} must be from 0 to 1, got ${String(value)}.`);
  }
  return settings;
}
