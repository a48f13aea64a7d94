import { hostname } from 'node:os';
import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  ScanCommand,
  type ScanCommandOutput,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  BatchProcessor,
  type BatchProcessorOptions,
  bootstrapRecord,
  ConfigurationError,
  consoleWarningLogger,
  type Logger,
  RetryPolicy,
  type RetryPolicyOptions,
  sleep,
  wholeNumberIn,
} from '@shardline/core';
import { DynamoDBBootstrapStore } from '@shardline/store-dynamodb';
import { pageLimitFor, ReadBudget } from './ReadBudget.js';
import { type ReadCapacityBudget, readCapacityBudget } from './readCapacityBudget.js';
import { deliverPage, runParts } from './runParts.js';

/** Where bootstrap progress is kept: a lease table's name, or a store on one. */
export type BootstrapProgressTable = string | DynamoDBBootstrapStore;

/** The delivery side of a bootstrap: the target and the pipeline options of the consumer. */
export type BootstrapDeliveryOptions = Omit<BatchProcessorOptions, 'deduper'>;

/** Options shared by {@link bootstrapTable} and `readTableExport`. */
export interface BootstrapCommonOptions extends BootstrapDeliveryOptions {
  /**
   * The lease table to keep progress and segment claims in (the consumer's own lease table
   * is the natural choice; its workers skip these items), or a `DynamoDBBootstrapStore`.
   */
  readonly progressTable: BootstrapProgressTable;
  /**
   * Names this bootstrap: a second run with the same id resumes it (or, once finished, does
   * nothing), and processes that run it at once share its parts. 1-200 characters of
   * A-Z a-z 0-9 `_ . : -`.
   */
  readonly bootstrapId?: string;
  /** Forget the recorded progress of `bootstrapId` and start from the beginning. @default false */
  readonly restart?: boolean;
  /** This process, as recorded on the parts it claims. @default `<hostname>:<pid>:<random>` */
  readonly owner?: string;
  /**
   * How long a claim on a part lasts unless renewed (each saved page renews it): a process that
   * dies leaves its parts to the others after this long. @default 60_000
   */
  readonly claimDurationMs?: number;
  /** Called after each delivered page, for progress bars. */
  readonly onProgress?: (progress: BootstrapProgress) => void;
  readonly signal?: AbortSignal;
}

/** Options of {@link bootstrapTable}. */
export interface BootstrapTableOptions extends BootstrapCommonOptions {
  /** The caller's DynamoDB client (also used for the progress table when named). */
  readonly client: DynamoDBClient;
  /** The table to read. */
  readonly table: string;
  /**
   * The share of the table's read capacity the Scan may consume, above 0 and at most 1.5 (as
   * AWS Glue's `dynamodb.throughput.read.percent`). @default 0.5
   */
  readonly readPercent?: number;
  /**
   * The table's read capacity per second the percent applies to. @default the provisioned
   * ReadCapacityUnits; for an on-demand table, 4,000 (see `ON_DEMAND_ASSUMED_RCU`)
   */
  readonly readCapacityUnits?: number;
  /**
   * Parallel Scan segments (`TotalSegments`, 1-1,000,000). A resumed bootstrap keeps the number
   * it started with. @default 4
   */
  readonly segments?: number;
  /** Segments this process reads at once. @default min(segments, 8) */
  readonly segmentConcurrency?: number;
  /** Strongly consistent reads: twice the RCU per item. @default false */
  readonly consistentRead?: boolean;
  /** The most items one page may ask for (`Limit`). @default 1000 */
  readonly maxPageItems?: number;
  /**
   * A page not delivered within this long after it was read is read again before delivery:
   * for sinks that forget deletes after a while (OpenSearch's `index.gc_deletes`, 60 s by
   * default; tombstones with a TTL), so an item deleted meanwhile is not written back. Pair it
   * with `retry: { maxRecordAgeMs }` of the same value, so retries stop at that age too.
   * @default no limit
   */
  readonly maxPageAgeMs?: number;
  /** Retries of a Scan call that failed (throttling, 5xx), after the SDK's own. */
  readonly scanRetry?: RetryPolicy | RetryPolicyOptions;
}

/** Progress of a bootstrap, after a delivered page. */
export interface BootstrapProgress {
  readonly bootstrapId: string;
  /** Items delivered by this process in this run. */
  readonly items: number;
  /** Items delivered by every run and process so far (counts saved with progress). */
  readonly itemsTotal: number;
  /** The table's approximate item count (DescribeTable's, refreshed by DynamoDB about every six hours), or the export's. */
  readonly estimatedItems: number | undefined;
  /** Parts (segments, export files) done. */
  readonly partsDone: number;
  readonly parts: number;
  /** Read capacity this process consumed in this run. */
  readonly consumedRcu: number;
  /** Pages read again because they waited longer than `maxPageAgeMs` (Scan only). */
  readonly pagesReread: number;
  /** The budget in RCU per second (Scan only). */
  readonly budgetRcuPerSecond: number | undefined;
  /** Milliseconds since this run started. */
  readonly elapsedMs: number;
}

/** What a finished bootstrap reports. */
export interface BootstrapResult {
  readonly bootstrapId: string;
  /** Items delivered by this process in this run. */
  readonly items: number;
  /** Items delivered over every run and process of this bootstrap. */
  readonly itemsTotal: number;
  readonly pages: number;
  /** Read capacity this process consumed in this run. */
  readonly consumedRcu: number;
  readonly parts: number;
  /** Whether an earlier run had recorded progress (this run resumed it). */
  readonly resumed: boolean;
  /** When the first run of this bootstrap started, epoch ms: no item is older than this. */
  readonly startedAtMs: number;
  readonly durationMs: number;
  /** The budget the Scan read within (Scan only). */
  readonly budget?: ReadCapacityBudget;
}

/** Defaults of {@link bootstrapTable}. */
export const DEFAULT_BOOTSTRAP = {
  segments: 4,
  maxSegmentConcurrency: 8,
  claimDurationMs: 60_000,
  maxPageItems: 1000,
  scanRetry: { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 10_000 },
} as const;

/** A Scan page read within the budget. */
interface ScannedPage {
  readonly items: Record<string, AttributeValue>[];
  readonly units: number;
  readonly next: Record<string, AttributeValue> | undefined;
  readonly readAtMs: number;
}

/** Units one eventually consistent read of up to 4 KB costs. */
const MIN_PAGE_UNITS = 0.5;

/**
 * Backfills a table's existing items into a sink (or handler) with a parallel Scan held to a
 * read-capacity budget, resumably, so a stream consumer started beforehand takes over without
 * a gap: each item becomes an `INSERT` with `bootstrap: true` (core's `bootstrapRecord`),
 * delivered through the same pipeline as stream batches (retries, bisect, failure destination,
 * the sink's per-record results), so a sink that honours `bootstrap` never lets it overwrite a
 * newer change the stream already delivered.
 *
 * Budget: `readPercent × readCapacityUnits` RCU per second, enforced by a token bucket that
 * each page's `ConsumedCapacity` is debited from; each page's `Limit` is cut to what the
 * bucket holds, so a page cannot overshoot by more than one item's cost.
 *
 * Resume: after each delivered page the segment's `LastEvaluatedKey` is saved in the progress
 * table; a rerun with the same `bootstrapId` continues there. Processes that run the same
 * bootstrap at once split the segments through expiring claims, and take over a dead one's.
 *
 * @example
 * const result = await bootstrapTable({
 *   client, table: 'Users', sink: new OpenSearchSink({ … }),
 *   progressTable: 'users-search-sync', readPercent: 0.25, segments: 8,
 * });
 */
export async function bootstrapTable(options: BootstrapTableOptions): Promise<BootstrapResult> {
  const started = Date.now();
  if (!options?.client) {
    throw new ConfigurationError('bootstrapTable needs client: new DynamoDBClient({}).');
  }
  if (!options.table)
    throw new ConfigurationError('bootstrapTable needs table: the table to read.');
  const segments = wholeNumberIn(
    'segments',
    options.segments,
    DEFAULT_BOOTSTRAP.segments,
    1,
    1_000_000,
  );
  const maxPageItems = wholeNumberIn(
    'maxPageItems',
    options.maxPageItems,
    DEFAULT_BOOTSTRAP.maxPageItems,
    1,
    1_000_000,
  );
  const { logger, processor } = createDelivery(options);
  const maxPageAgeMs = options.maxPageAgeMs;
  if (maxPageAgeMs !== undefined && !(Number.isFinite(maxPageAgeMs) && maxPageAgeMs > 0)) {
    throw new ConfigurationError(
      `maxPageAgeMs must be a number of ms above 0, got ${String(maxPageAgeMs)}; leave it unset for no limit.`,
    );
  }
  const scanRetry =
    options.scanRetry instanceof RetryPolicy
      ? options.scanRetry
      : new RetryPolicy({ ...DEFAULT_BOOTSTRAP.scanRetry, ...options.scanRetry });

  const description = await describe(options.client, options.table);
  const budget = readCapacityBudget(description, options);
  const keySchema = orderedKeySchema(description);
  const bucket = new ReadBudget({ unitsPerSecond: budget.unitsPerSecond });
  const store = progressStore(options.progressTable, options.client);
  const bootstrapId = options.bootstrapId ?? `scan-${options.table}`;
  const session = await openRun(store, options, {
    bootstrapId,
    kind: 'scan',
    tableName: options.table,
    parts: segments,
    startedAtMs: started,
  });
  const { run } = session;
  if (run.parts !== segments && options.segments !== undefined) {
    logger.warn(
      { bootstrapId, recorded: run.parts, given: segments },
      'resuming a bootstrap with the segment count it started with (LastEvaluatedKeys belong to it)',
    );
  }
  const concurrency = wholeNumberIn(
    'segmentConcurrency',
    options.segmentConcurrency,
    Math.min(run.parts, DEFAULT_BOOTSTRAP.maxSegmentConcurrency),
    1,
    1_000_000,
  );
  const counters = new RunCounters(session.itemsBefore, session.partsDoneBefore);
  const report = (): void =>
    options.onProgress?.(
      counters.progress(
        bootstrapId,
        run.parts,
        description.ItemCount,
        budget.unitsPerSecond,
        started,
      ),
    );
  // Units one item cost, observed over every page of this process (eventually consistent
  // reads cost 0.5 per 4 KB): sizes the next page's Limit to what the bucket holds.
  let unitsPerItem = 0;

  await runParts({
    store,
    run,
    owner: session.owner,
    claimDurationMs: session.claimDurationMs,
    concurrency,
    logger,
    signal: options.signal,
    readPart: async (part, signal) => {
      const partId = part.progress.partId;
      const segment = Number(partId.slice('scan-'.length));
      let startKey = part.progress.lastEvaluatedKey;
      let { items, pages, consumedRcu } = part.progress;
      const partLogger = logger.child({ bootstrapId, partId });
      partLogger.debug({ resumeFrom: startKey, items }, 'reading segment');
      // Reads one page within the budget; the page after is read while this one is delivered.
      const readPage = async (from: typeof startKey): Promise<ScannedPage> => {
        // Half the bucket per page, so one segment scans while the next waits for its share.
        const wanted =
          unitsPerItem > 0
            ? Math.max(MIN_PAGE_UNITS, Math.min(bucket.burstUnits / 2, unitsPerItem * maxPageItems))
            : MIN_PAGE_UNITS;
        const reserved = await bucket.reserve(wanted, signal);
        let page: ScanCommandOutput;
        try {
          page = await scanWithRetry(options.client, scanRetry, signal, partLogger, {
            TableName: options.table,
            Segment: segment,
            TotalSegments: run.parts,
            Limit: pageLimitFor(reserved, unitsPerItem, maxPageItems),
            ReturnConsumedCapacity: 'TOTAL',
            ...(options.consistentRead ? { ConsistentRead: true } : {}),
            ...(from ? { ExclusiveStartKey: from } : {}),
          });
        } catch (error) {
          bucket.settle(reserved, 0);
          throw error;
        }
        const units = page.ConsumedCapacity?.CapacityUnits ?? 0;
        bucket.settle(reserved, units);
        const found = page.Items ?? [];
        if (found.length > 0 && units > 0) {
          const observed = units / found.length;
          unitsPerItem = unitsPerItem === 0 ? observed : unitsPerItem * 0.8 + observed * 0.2;
        }
        return { items: found, units, next: page.LastEvaluatedKey, readAtMs: Date.now() };
      };
      const prefetch = (from: typeof startKey): Promise<ScannedPage> => {
        const pending = readPage(from);
        // Handled here, awaited below: a failure while the page before is delivered is not an
        // unhandled rejection.
        pending.catch(() => undefined);
        return pending;
      };
      let upcoming = prefetch(startKey);
      for (;;) {
        let page = await upcoming;
        if (maxPageAgeMs !== undefined && Date.now() - page.readAtMs > maxPageAgeMs) {
          // Waited too long (behind a slow delivery): the items may have changed or gone.
          const fresh = await readPage(startKey);
          counters.pagesReread += 1;
          page = fresh;
        }
        const done = page.next === undefined;
        if (!done) upcoming = prefetch(page.next);
        const records = page.items.map((item) =>
          bootstrapRecord(item, {
            tableName: options.table,
            keySchema,
            bootstrapId,
            shardId: partId,
            readAtMs: page.readAtMs,
          }),
        );
        await deliverPage(processor, records, partId, signal);
        items += page.items.length;
        pages += 1;
        consumedRcu += page.units;
        startKey = page.next;
        const kept = await part.save({
          ...(startKey ? { lastEvaluatedKey: startKey } : {}),
          linesDone: 0,
          items,
          pages,
          consumedRcu,
          done,
        });
        counters.page(page.items.length, page.units, done);
        report();
        if (done || !kept) return;
      }
    },
  });
  await store.finishRun(bootstrapId);
  const parts = await store.listParts(run);
  return {
    bootstrapId,
    items: counters.items,
    itemsTotal: parts.reduce((sum, p) => sum + p.items, 0),
    pages: counters.pages,
    consumedRcu: counters.consumedRcu,
    parts: run.parts,
    resumed: session.resumed,
    startedAtMs: run.startedAtMs,
    durationMs: Date.now() - started,
    budget,
  };
}

/** Counts of this process's run, for progress reports. */
export class RunCounters {
  items = 0;
  pages = 0;
  consumedRcu = 0;
  /** Pages read again because they waited longer than `maxPageAgeMs`. */
  pagesReread = 0;
  #itemsBefore: number;
  #partsDone: number;

  constructor(itemsBefore: number, partsDoneBefore: number) {
    this.#itemsBefore = itemsBefore;
    this.#partsDone = partsDoneBefore;
  }

  get itemsTotal(): number {
    return this.#itemsBefore + this.items;
  }

  get partsDone(): number {
    return this.#partsDone;
  }

  /** The progress report of this run. */
  progress(
    bootstrapId: string,
    parts: number,
    estimatedItems: number | undefined,
    budgetRcuPerSecond: number | undefined,
    startedAtMs: number,
  ): BootstrapProgress {
    return {
      bootstrapId,
      items: this.items,
      itemsTotal: this.itemsTotal,
      estimatedItems,
      partsDone: this.#partsDone,
      parts,
      consumedRcu: this.consumedRcu,
      pagesReread: this.pagesReread,
      budgetRcuPerSecond,
      elapsedMs: Date.now() - startedAtMs,
    };
  }

  page(items: number, units: number, partDone: boolean): void {
    this.items += items;
    this.pages += 1;
    this.consumedRcu += units;
    if (partDone) this.#partsDone += 1;
  }
}

/** A recorded bootstrap this process takes part in. */
export interface RunSession {
  readonly run: Awaited<ReturnType<DynamoDBBootstrapStore['startRun']>>['run'];
  readonly resumed: boolean;
  readonly owner: string;
  readonly claimDurationMs: number;
  readonly itemsBefore: number;
  readonly partsDoneBefore: number;
}

/** Records the bootstrap (or finds the recorded one), after `restart` forgot an earlier one. */
export async function openRun(
  store: DynamoDBBootstrapStore,
  options: BootstrapCommonOptions,
  run: Parameters<DynamoDBBootstrapStore['startRun']>[0],
): Promise<RunSession> {
  const claimDurationMs = wholeNumberIn(
    'claimDurationMs',
    options.claimDurationMs,
    DEFAULT_BOOTSTRAP.claimDurationMs,
    1_000,
    24 * 3_600_000,
  );
  if (options.restart) await store.deleteRun(run.bootstrapId);
  let started: Awaited<ReturnType<DynamoDBBootstrapStore['startRun']>>;
  try {
    started = await store.startRun(run);
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new ConfigurationError(
        `The progress table "${store.tableName}" does not exist. Give the consumer's lease table (its workers create it), or create one with new DynamoDBLeaseStore({ client, tableName, streamId }).createTableIfNotExists().`,
        { cause: error },
      );
    }
    throw error;
  }
  if (started.run.kind !== run.kind || started.run.tableName !== run.tableName) {
    throw new ConfigurationError(
      `Bootstrap "${run.bootstrapId}" was recorded as a ${started.run.kind} of ${started.run.tableName}, not a ${run.kind} of ${run.tableName}; give another bootstrapId, or restart: true to forget it.`,
    );
  }
  const parts = started.created ? [] : await store.listParts(started.run);
  return {
    run: started.run,
    resumed: parts.some((p) => p.items > 0 || p.done || p.pages > 0),
    owner:
      options.owner ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`,
    claimDurationMs,
    itemsBefore: parts.reduce((sum, p) => sum + p.items, 0),
    partsDoneBefore: parts.filter((p) => p.done).length,
  };
}

/** The progress store of `progressTable`. */
export function progressStore(
  table: BootstrapProgressTable,
  client: DynamoDBClient,
): DynamoDBBootstrapStore {
  if (table instanceof DynamoDBBootstrapStore) return table;
  if (typeof table !== 'string' || table.length === 0) {
    throw new ConfigurationError(
      `progressTable must be the name of a lease table (or a DynamoDBBootstrapStore), got ${String(table)}; the consumer's own lease table is the natural choice.`,
    );
  }
  return new DynamoDBBootstrapStore({ client, tableName: table });
}

/**
 * The pipeline a bootstrap delivers through: the consumer's target and options, and its
 * logger (warnings to the console when none is given).
 */
export function createDelivery(options: BootstrapDeliveryOptions): {
  logger: Logger;
  processor: BatchProcessor;
} {
  const { sink, handler, keyBatchHandler } = options;
  if ([sink, handler, keyBatchHandler].filter((t) => t !== undefined).length !== 1) {
    throw new ConfigurationError(
      'A bootstrap needs exactly one of sink, handler or keyBatchHandler: where the items go (the same target as the stream consumer).',
    );
  }
  const logger = options.logger ?? consoleWarningLogger({ component: 'bootstrap' });
  return { logger, processor: new BatchProcessor({ ...options, logger }) };
}

async function describe(client: DynamoDBClient, table: string): Promise<TableDescription> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: table }));
    return out.Table!;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new ConfigurationError(
        `Table "${table}" does not exist (DescribeTable said so); check the name and the Region (AWS_REGION).`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The key attributes, partition key first. */
export function orderedKeySchema(table: TableDescription): string[] {
  const schema = table.KeySchema ?? [];
  return [
    ...schema.filter((k) => k.KeyType === 'HASH'),
    ...schema.filter((k) => k.KeyType === 'RANGE'),
  ].map((k) => k.AttributeName!);
}

async function scanWithRetry(
  client: DynamoDBClient,
  retry: RetryPolicy,
  signal: AbortSignal,
  logger: Logger,
  input: ConstructorParameters<typeof ScanCommand>[0],
): Promise<ScanCommandOutput> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.send(new ScanCommand(input), { abortSignal: signal });
    } catch (error) {
      if (signal.aborted || !retry.shouldRetry(error, attempt)) throw error;
      const delayMs = retry.delayMs(attempt);
      logger.warn(
        { err: error, attempt, delayMs, segment: input.Segment },
        'Scan failed; retrying after a backoff',
      );
      await sleep(delayMs, signal);
    }
  }
}
