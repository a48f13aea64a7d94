import {
  type AttributeValue,
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ConfigurationError, LeaseLostError } from '@shardline/core';
import { LeaseAttribute as A, BOOTSTRAP_ENTITY_TYPE, BOOTSTRAP_KEY_PREFIX } from './leaseSchema.js';

type Item = Record<string, AttributeValue>;

/** What a bootstrap reads: a parallel Scan of the table, or an export of it in S3. */
export type BootstrapKind = 'scan' | 'export';

/** A bootstrap as recorded in the lease table (see {@link DynamoDBBootstrapStore}). */
export interface BootstrapRun {
  readonly bootstrapId: string;
  readonly kind: BootstrapKind;
  readonly tableName: string;
  /** The parts the work is split into: Scan segments, or an export's data files. */
  readonly parts: number;
  /** When the first run of this bootstrap started, epoch ms. */
  readonly startedAtMs: number;
  /** The export read (ARN or S3 URL), for `export` bootstraps. */
  readonly source?: string;
  /** The export's time (epoch ms), for `export` bootstraps. */
  readonly exportTimeMs?: number;
  /** When every part was done, epoch ms; `undefined` while the bootstrap is unfinished. */
  readonly finishedAtMs?: number;
}

/** The progress of one part of a bootstrap (a Scan segment, or an export data file). */
export interface BootstrapPartProgress {
  /** `scan-<segment>` or `export-<file index>`. */
  readonly partId: string;
  /** Scan: the `LastEvaluatedKey` after the last applied page; undefined before the first. */
  readonly lastEvaluatedKey?: Record<string, AttributeValue>;
  /** Export: lines of the data file applied so far. */
  readonly linesDone: number;
  /** Items applied so far. */
  readonly items: number;
  /** Pages (Scan) or batches (export) applied so far. */
  readonly pages: number;
  /** Read capacity the part consumed so far (Scan; 0 for exports). */
  readonly consumedRcu: number;
  /** Whether the part is finished. */
  readonly done: boolean;
  /** The process that holds the part, while one does. */
  readonly owner?: string;
  /** When the owner's claim ends unless renewed, epoch ms. */
  readonly claimExpiresAtMs?: number;
}

/** Progress to save after a page or batch was applied (see {@link DynamoDBBootstrapStore.saveProgress}). */
export type BootstrapProgressUpdate = Omit<
  BootstrapPartProgress,
  'partId' | 'owner' | 'claimExpiresAtMs'
>;

/** Options of a {@link DynamoDBBootstrapStore}. */
export interface DynamoDBBootstrapStoreOptions {
  /** The caller's DynamoDB client. */
  readonly client: DynamoDBClient;
  /** The lease table (the one the stream consumer's workers use, or any table with its schema). */
  readonly tableName: string;
  /** Now, in epoch ms (tests). @default Date.now */
  readonly clock?: () => number;
}

const BOOTSTRAP_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

/**
 * Bootstrap progress in the lease table, so a bootstrap resumes after a crash and several
 * processes share one: one item per bootstrap (its kind, table, parts, start and end) and one
 * per part (a Scan segment's `LastEvaluatedKey`, an export file's lines done, counts, whether it
 * is done, and the process that holds it).
 *
 * The items' keys start with `__shardline_bootstrap__/` and carry `entityType:
 * shardline-bootstrap`, so workers, `shardline checkpoints` and the KCL, which list only items
 * without an `entityType` or with `LEASE`, never take them for leases.
 *
 * A part is held through a claim that expires (`claimDurationMs`) unless its holder saves
 * progress or renews it: a second process skips parts another holds, and takes over the part
 * of a process that died once its claim expired. Claims compare the hosts' clocks, so those
 * must agree within the claim duration (NTP keeps them within a second).
 *
 * @example
 * const store = new DynamoDBBootstrapStore({ client, tableName: 'search-sync' });
 * const part = await store.claimPart('users-2026-05', 'scan-3', 'host-a:1234', 60_000);
 */
export class DynamoDBBootstrapStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #clock: () => number;

  constructor(options: DynamoDBBootstrapStoreOptions) {
    if (!options?.client) {
      throw new ConfigurationError('DynamoDBBootstrapStore needs client: new DynamoDBClient({}).');
    }
    if (!options.tableName) {
      throw new ConfigurationError(
        'DynamoDBBootstrapStore needs tableName: the lease table to keep bootstrap progress in.',
      );
    }
    this.#client = options.client;
    this.#table = options.tableName;
    this.#clock = options.clock ?? Date.now;
  }

  /** The lease table's name. */
  get tableName(): string {
    return this.#table;
  }

  /**
   * Records a bootstrap unless one with this id exists; returns the recorded one either way
   * (`created` says which), so a second run resumes the first one's bootstrap.
   */
  async startRun(
    run: Omit<BootstrapRun, 'finishedAtMs'>,
  ): Promise<{ run: BootstrapRun; created: boolean }> {
    checkId(run.bootstrapId);
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: runItem(run),
          ConditionExpression: 'attribute_not_exists(#k)',
          ExpressionAttributeNames: { '#k': A.LeaseKey },
        }),
      );
      return { run, created: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const existing = await this.getRun(run.bootstrapId);
    if (!existing) return this.startRun(run);
    return { run: existing, created: false };
  }

  /** The recorded bootstrap with this id, if any. */
  async getRun(bootstrapId: string): Promise<BootstrapRun | undefined> {
    checkId(bootstrapId);
    const { Item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: runKey(bootstrapId) } },
        ConsistentRead: true,
      }),
    );
    return Item ? toRun(Item) : undefined;
  }

  /** Deletes a bootstrap and the progress of its parts, so it can start over (`force`). */
  async deleteRun(bootstrapId: string): Promise<void> {
    const run = await this.getRun(bootstrapId);
    if (!run) return;
    for (const partId of partIdsOf(run)) {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: { [A.LeaseKey]: { S: partKey(bootstrapId, partId) } },
        }),
      );
    }
    await this.#client.send(
      new DeleteItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: runKey(bootstrapId) } },
      }),
    );
  }

  /** Marks the bootstrap finished (every part done). */
  async finishRun(bootstrapId: string): Promise<void> {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: runKey(bootstrapId) } },
        UpdateExpression: 'SET #f = if_not_exists(#f, :now)',
        ConditionExpression: 'attribute_exists(#k)',
        ExpressionAttributeNames: { '#f': 'finishedAtMs', '#k': A.LeaseKey },
        ExpressionAttributeValues: { ':now': { N: String(this.#clock()) } },
      }),
    );
  }

  /** The progress of every part of a bootstrap (parts never touched come back empty). */
  async listParts(
    run: Pick<BootstrapRun, 'bootstrapId' | 'kind' | 'parts'>,
  ): Promise<BootstrapPartProgress[]> {
    const ids = partIdsOf(run);
    const found = new Map<string, BootstrapPartProgress>();
    for (let i = 0; i < ids.length; i += 100) {
      let request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> | undefined = {
        [this.#table]: {
          Keys: ids.slice(i, i + 100).map((id) => ({
            [A.LeaseKey]: { S: partKey(run.bootstrapId, id) },
          })),
          ConsistentRead: true,
        },
      };
      while (request && Object.keys(request).length > 0) {
        const out = await this.#client.send(new BatchGetItemCommand({ RequestItems: request }));
        for (const item of out.Responses?.[this.#table] ?? []) {
          const part = toPart(item);
          found.set(part.partId, part);
        }
        request = out.UnprocessedKeys as typeof request;
      }
    }
    return ids.map((id) => found.get(id) ?? emptyPart(id));
  }

  /**
   * Claims a part for `owner` for `durationMs`: succeeds when nobody holds it, `owner` already
   * does, or the holder's claim expired, and the part is not done. Returns its progress, or
   * `undefined` when another process holds it or it is done.
   */
  async claimPart(
    bootstrapId: string,
    partId: string,
    owner: string,
    durationMs: number,
  ): Promise<BootstrapPartProgress | undefined> {
    const now = this.#clock();
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [A.LeaseKey]: { S: partKey(bootstrapId, partId) } },
          UpdateExpression: 'SET #o = :me, #x = :exp, #t = :t',
          ConditionExpression:
            '(attribute_not_exists(#d) OR #d = :false) AND (attribute_not_exists(#o) OR #o = :me OR #x < :now)',
          ExpressionAttributeNames: {
            '#o': 'owner',
            '#x': 'claimExpiresAtMs',
            '#d': 'done',
            '#t': 'entityType',
          },
          ExpressionAttributeValues: {
            ':me': { S: owner },
            ':exp': { N: String(now + durationMs) },
            ':now': { N: String(now) },
            ':false': { BOOL: false },
            ':t': { S: BOOTSTRAP_ENTITY_TYPE },
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes ? toPart(out.Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /**
   * Saves a part's progress after a page (or batch) was applied, and extends `owner`'s claim.
   *
   * @throws LeaseLostError when `owner` no longer holds the part (its claim expired and another
   *   process took it): the caller must stop reading it.
   */
  async saveProgress(
    bootstrapId: string,
    partId: string,
    owner: string,
    progress: BootstrapProgressUpdate,
    durationMs: number,
  ): Promise<void> {
    const values: Item = {
      ':me': { S: owner },
      ':exp': { N: String(this.#clock() + durationMs) },
      ':lines': { N: String(progress.linesDone) },
      ':items': { N: String(progress.items) },
      ':pages': { N: String(progress.pages) },
      ':rcu': { N: String(progress.consumedRcu) },
      ':done': { BOOL: progress.done },
    };
    let set = 'SET #x = :exp, #l = :lines, #i = :items, #p = :pages, #r = :rcu, #d = :done';
    let remove = '';
    if (progress.lastEvaluatedKey) {
      values[':key'] = { M: progress.lastEvaluatedKey };
      set += ', #k = :key';
    } else {
      remove = ' REMOVE #k';
    }
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [A.LeaseKey]: { S: partKey(bootstrapId, partId) } },
          UpdateExpression: set + remove,
          ConditionExpression: '#o = :me',
          ExpressionAttributeNames: {
            '#o': 'owner',
            '#x': 'claimExpiresAtMs',
            '#l': 'linesDone',
            '#i': 'items',
            '#p': 'pages',
            '#r': 'consumedRcu',
            '#d': 'done',
            '#k': 'lastEvaluatedKey',
          },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw new LeaseLostError(
        partKey(bootstrapId, partId),
        `bootstrap part ${partId} is no longer held by ${owner} (its claim expired and another process took it over)`,
        { cause: error },
      );
    }
  }

  /** Gives a part up, so another process may take it at once (`owner` only). */
  async releasePart(bootstrapId: string, partId: string, owner: string): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [A.LeaseKey]: { S: partKey(bootstrapId, partId) } },
          UpdateExpression: 'REMOVE #o, #x',
          ConditionExpression: '#o = :me',
          ExpressionAttributeNames: { '#o': 'owner', '#x': 'claimExpiresAtMs' },
          ExpressionAttributeValues: { ':me': { S: owner } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

/** The part ids of a bootstrap: `scan-0…` or `export-0…`. */
export function partIdsOf(run: Pick<BootstrapRun, 'kind' | 'parts'>): string[] {
  return Array.from({ length: run.parts }, (_, i) => `${run.kind}-${i}`);
}

function checkId(bootstrapId: string): void {
  if (!BOOTSTRAP_ID.test(bootstrapId)) {
    throw new ConfigurationError(
      `bootstrapId ${JSON.stringify(bootstrapId)} is not valid; use 1-200 characters of A-Z, a-z, 0-9, "_", ".", ":", "-", e.g. "users-2026-05".`,
    );
  }
}

function runKey(bootstrapId: string): string {
  return `${BOOTSTRAP_KEY_PREFIX}${bootstrapId}`;
}

function partKey(bootstrapId: string, partId: string): string {
  return `${BOOTSTRAP_KEY_PREFIX}${bootstrapId}/${partId}`;
}

function runItem(run: Omit<BootstrapRun, 'finishedAtMs'>): Item {
  return {
    [A.LeaseKey]: { S: runKey(run.bootstrapId) },
    entityType: { S: BOOTSTRAP_ENTITY_TYPE },
    kind: { S: run.kind },
    tableName: { S: run.tableName },
    parts: { N: String(run.parts) },
    startedAtMs: { N: String(run.startedAtMs) },
    ...(run.source ? { source: { S: run.source } } : {}),
    ...(run.exportTimeMs !== undefined ? { exportTimeMs: { N: String(run.exportTimeMs) } } : {}),
  };
}

function toRun(item: Item): BootstrapRun {
  const key = item[A.LeaseKey]!.S!;
  return {
    bootstrapId: key.slice(BOOTSTRAP_KEY_PREFIX.length),
    kind: item.kind?.S === 'export' ? 'export' : 'scan',
    tableName: item.tableName?.S ?? '',
    parts: Number(item.parts?.N ?? 0),
    startedAtMs: Number(item.startedAtMs?.N ?? 0),
    ...(item.source?.S ? { source: item.source.S } : {}),
    ...(item.exportTimeMs?.N ? { exportTimeMs: Number(item.exportTimeMs.N) } : {}),
    ...(item.finishedAtMs?.N ? { finishedAtMs: Number(item.finishedAtMs.N) } : {}),
  };
}

function emptyPart(partId: string): BootstrapPartProgress {
  return { partId, linesDone: 0, items: 0, pages: 0, consumedRcu: 0, done: false };
}

function toPart(item: Item): BootstrapPartProgress {
  const key = item[A.LeaseKey]!.S!;
  const partId = key.slice(key.lastIndexOf('/') + 1);
  return {
    partId,
    ...(item.lastEvaluatedKey?.M ? { lastEvaluatedKey: item.lastEvaluatedKey.M } : {}),
    linesDone: Number(item.linesDone?.N ?? 0),
    items: Number(item.items?.N ?? 0),
    pages: Number(item.pages?.N ?? 0),
    consumedRcu: Number(item.consumedRcu?.N ?? 0),
    done: item.done?.BOOL === true,
    ...(item.owner?.S ? { owner: item.owner.S } : {}),
    ...(item.claimExpiresAtMs?.N ? { claimExpiresAtMs: Number(item.claimExpiresAtMs.N) } : {}),
  };
}
