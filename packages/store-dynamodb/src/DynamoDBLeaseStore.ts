import {
  type AttributeValue,
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ScanCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  type AwsResource,
  type Checkpoint,
  CheckpointSentinel,
  ConfigurationError,
  explainAwsSetupError,
  type FleetState,
  type Lease,
  LeaseLostError,
  type LeaseStore,
  type LeaseToken,
  sleep,
  type WorkerHeartbeat,
} from '@shardline/core';
import { LeaseAttribute as A, FLEET_ITEM_KEY, LEASE_OWNER_INDEX } from './leaseSchema.js';
import { streamForIdentifier } from './streamIdentifiers.js';

/** Options of a {@link DynamoDBLeaseStore}. */
export interface DynamoDBLeaseStoreOptions {
  /** The caller's DynamoDB client (never built here). */
  readonly client: DynamoDBClient;
  /** The lease table; the KCL names it after the application. */
  readonly tableName: string;
  /**
   * Key leases by stream and shard (`<streamIdentifier>:<shardId>`, the KCL multi-stream form)
   * instead of by shard id alone. Required when one table serves several streams. @default false
   */
  readonly multiStream?: boolean;
  /**
   * Single-stream tables: the stream every lease belongs to (the keys hold only shard ids).
   * Required when `multiStream` is false. Multi-stream tables: the stream that leases keyed by
   * a bare shard id belong to — the table's single stream before a second one was added — so
   * its checkpoints are kept, not orphaned.
   */
  readonly streamId?: string;
  /**
   * Every stream this store serves (ARNs). Leases keyed in any identifier form are read as
   * theirs: the ARN, the KCL's `<accountId>:<streamName>:<creationEpoch>` and the DynamoDB
   * Streams Kinesis adapter's `<accountId>:<region>$<accountId>$<table>$<label>:1`, so a KCL's or
   * the adapter's lease table is taken over with its checkpoints. @default [streamId]
   */
  readonly streams?: readonly string[];
  /**
   * The identifier of a stream in the keys of leases it has none of yet. A stream that already
   * has leases keeps the form they use (a KCL table stays in the KCL's form). The KCL writes
   * `<accountId>:<streamName>:<creationEpochSeconds>` (see `kclStreamIdentifier`).
   * @default the stream id (ARN) itself
   */
  readonly streamIdentifier?: (streamId: string) => string;
}

/** Options of {@link DynamoDBLeaseStore.createTableIfNotExists}. */
export interface CreateLeaseTableOptions {
  /** How long to wait for the table to become ACTIVE, in ms. @default 60_000 */
  readonly timeoutMs?: number;
}

type Item = Record<string, AttributeValue>;

/**
 * Leases and checkpoints in a DynamoDB table with the KCL's schema. Every lease and checkpoint
 * write is conditional on owner and lease counter, so a worker that lost its lease cannot move
 * the checkpoint: it gets a `LeaseLostError` that says so.
 *
 * Cost model (per worker, per round): renewals are one conditional write per owned lease and
 * one small write to the coordination item; taking reads only the coordination item (one
 * GetItem); the table is scanned only when the fleet changed (a worker joined, left or died,
 * leases were created or ended) or every `fullScanIntervalMs`. See the package README.
 *
 * @example
 * const store = new DynamoDBLeaseStore({ client, tableName: 'orders-app', multiStream: true });
 * await store.createTableIfNotExists();
 */
export class DynamoDBLeaseStore implements LeaseStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #multiStream: boolean;
  readonly #streamId: string | undefined;
  readonly #identifier: (streamId: string) => string;
  readonly #streamIdByIdentifier = new Map<string, string>();
  readonly #streams: readonly string[];
  /** The key of each lease seen, by stream and shard: a lease keeps its key's form. */
  readonly #keyByShard = new Map<string, string>();
  /** The identifier form each stream's existing leases use. */
  readonly #identifierByStream = new Map<string, string>();
  readonly #heartbeats = new Map<string, number>();

  constructor(options: DynamoDBLeaseStoreOptions) {
    if (!options.tableName) {
      throw new ConfigurationError('tableName must name the lease table, got an empty value.');
    }
    this.#multiStream = options.multiStream ?? false;
    if (!this.#multiStream && !options.streamId) {
      throw new ConfigurationError(
        'A single-stream lease table needs streamId (the stream ARN); set multiStream: true to serve several streams from one table.',
      );
    }
    this.#client = options.client;
    this.#table = options.tableName;
    this.#streamId = options.streamId;
    this.#identifier = options.streamIdentifier ?? ((id) => id);
    this.#streams = options.streams ?? (options.streamId ? [options.streamId] : []);
  }

  /** The lease table's name. */
  get tableName(): string {
    return this.#table;
  }

  /**
   * Creates the lease table (PAY_PER_REQUEST, with KCL 3's `LeaseOwnerToLeaseKeyIndex`) if it
   * does not exist, and waits until it is ACTIVE. A table the caller supplies is used as it is.
   */
  async createTableIfNotExists(options: CreateLeaseTableOptions = {}): Promise<void> {
    try {
      await this.#createTable(options);
    } catch (error) {
      throw await explainAwsSetupError(error, this.#tableResource(), this.#client);
    }
  }

  /**
   * Checks that the lease table exists, for a worker told not to create it.
   * @throws ConfigurationError naming the table, the region and endpoint the client looked in,
   * and the fix, when it does not exist or no region is configured.
   */
  async assertTableExists(): Promise<void> {
    try {
      await this.#client.send(new DescribeTableCommand({ TableName: this.#table }));
    } catch (error) {
      throw await explainAwsSetupError(error, this.#tableResource(), this.#client);
    }
  }

  #tableResource(): AwsResource {
    return {
      what: `Lease table ${this.#table}`,
      clientName: 'DynamoDBClient',
      fix: `let the worker create it (createLeaseTable: true, the default), or create it with new DynamoDBLeaseStore({ client, tableName: '${this.#table}', … }).createTableIfNotExists(), or set leaseTable to the table the workers use (the CLI: --lease-table)`,
    };
  }

  async #createTable(options: CreateLeaseTableOptions): Promise<void> {
    try {
      await this.#client.send(
        new CreateTableCommand({
          TableName: this.#table,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: A.LeaseKey, AttributeType: 'S' },
            { AttributeName: A.LeaseOwner, AttributeType: 'S' },
          ],
          KeySchema: [{ AttributeName: A.LeaseKey, KeyType: 'HASH' }],
          GlobalSecondaryIndexes: [
            {
              IndexName: LEASE_OWNER_INDEX,
              KeySchema: [
                { AttributeName: A.LeaseOwner, KeyType: 'HASH' },
                { AttributeName: A.LeaseKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'KEYS_ONLY' },
            },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const { Table } = await this.#client.send(
        new DescribeTableCommand({ TableName: this.#table }),
      );
      const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
        (i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE',
      );
      if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
      if (Date.now() > deadline) {
        throw new ConfigurationError(
          `Lease table ${this.#table} is not ACTIVE after ${options.timeoutMs ?? 60_000} ms; check it in the DynamoDB console.`,
        );
      }
      // A status poll at a steady pace, not a retry: nothing failed.
      await sleep(500);
    }
  }

  /**
   * The key of a shard's lease: the key of the lease already seen for it (in whatever form it
   * was written: a bare shard id from the table's single-stream days, the ARN, the KCL's or the
   * adapter's identifier), else the shard id (single-stream) or `<identifier>:<shardId>` with
   * the identifier form the stream's other leases use.
   */
  leaseKeyFor(streamId: string, shardId: string): string {
    const seen = this.#keyByShard.get(shardKey(streamId, shardId));
    if (seen !== undefined) return seen;
    if (!this.#multiStream) return shardId;
    const identifier = this.#identifierByStream.get(streamId) ?? this.#identifier(streamId);
    this.#streamIdByIdentifier.set(identifier, streamId);
    return `${identifier}:${shardId}`;
  }

  // ─── reads ──────────────────────────────────────────────────────────────────────────────

  async listLeases(): Promise<Lease[]> {
    const leases: Lease[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({ TableName: this.#table, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) {
        if (item[A.LeaseKey]?.S === FLEET_ITEM_KEY) continue;
        // KCL 3 keeps metadata items beside the leases (migration and coordinator state,
        // `entityType` other than LEASE); they are not shards, so skip them as the KCL does.
        const entityType = item.entityType?.S;
        if (entityType !== undefined && entityType !== 'LEASE') continue;
        leases.push(this.#toLease(item));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // A shard's superseded duplicate lease (see #toLease) is not offered: it would be taken and
    // read beside the live one.
    return leases.filter(
      (l) => this.#keyByShard.get(shardKey(l.streamId, l.shardId)) === l.leaseKey,
    );
  }

  async getLease(leaseKey: string): Promise<Lease | undefined> {
    const { Item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: leaseKey } },
        ConsistentRead: true,
      }),
    );
    return Item ? this.#toLease(Item) : undefined;
  }

  async listLeasesByOwner(owner: string): Promise<Lease[]> {
    const keys: string[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: LEASE_OWNER_INDEX,
          KeyConditionExpression: '#o = :o',
          ExpressionAttributeNames: { '#o': A.LeaseOwner },
          ExpressionAttributeValues: { ':o': { S: owner } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) keys.push(item[A.LeaseKey]!.S!);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // The index is KEYS_ONLY (as KCL 3 creates it): read the leases themselves, consistently.
    const leases: Lease[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> | undefined = {
        [this.#table]: {
          Keys: keys.slice(i, i + 100).map((k) => ({ [A.LeaseKey]: { S: k } })),
          ConsistentRead: true,
        },
      };
      while (request && Object.keys(request).length > 0) {
        const out = await this.#client.send(new BatchGetItemCommand({ RequestItems: request }));
        for (const item of out.Responses?.[this.#table] ?? []) leases.push(this.#toLease(item));
        request = out.UnprocessedKeys as typeof request;
      }
    }
    return leases.filter((l) => l.leaseOwner === owner);
  }

  async getCheckpoint(streamId: string, shardId: string): Promise<Checkpoint | undefined> {
    return (await this.getLease(this.leaseKeyFor(streamId, shardId)))?.checkpoint;
  }

  // ─── lease writes ───────────────────────────────────────────────────────────────────────

  async createLeaseIfNotExists(
    lease: Omit<Lease, 'leaseCounter' | 'leaseOwner' | 'ownerSwitchesSinceCheckpoint'>,
  ): Promise<boolean> {
    const item: Item = {
      [A.LeaseKey]: { S: lease.leaseKey },
      [A.LeaseCounter]: { N: '0' },
      [A.OwnerSwitchesSinceCheckpoint]: { N: '0' },
      ...checkpointAttributes(lease.checkpoint ?? 'TRIM_HORIZON'),
    };
    if (lease.parentShardIds.length > 0) item[A.ParentShardId] = { SS: [...lease.parentShardIds] };
    if (lease.childShardIds.length > 0) item[A.ChildShardIds] = { SS: [...lease.childShardIds] };
    if (lease.hashKeyRange) {
      item[A.StartingHashKey] = { S: lease.hashKeyRange.startingHashKey };
      item[A.EndingHashKey] = { S: lease.hashKeyRange.endingHashKey };
    }
    const identifier = identifierOfKey(lease.leaseKey);
    if (identifier !== undefined) {
      item[A.StreamName] = { S: identifier };
      item[A.ShardId] = { S: lease.shardId };
    }
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#k)',
          ExpressionAttributeNames: { '#k': A.LeaseKey },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async takeLease(
    leaseKey: string,
    owner: string,
    expectedCounter: number,
  ): Promise<Lease | undefined> {
    return this.#updateOrUndefined({
      TableName: this.#table,
      Key: { [A.LeaseKey]: { S: leaseKey } },
      UpdateExpression:
        'SET #o = :o, #c = #c + :one, #s = if_not_exists(#s, :zero) + :one REMOVE #co',
      ConditionExpression: '#c = :c',
      ExpressionAttributeNames: {
        '#o': A.LeaseOwner,
        '#c': A.LeaseCounter,
        '#s': A.OwnerSwitchesSinceCheckpoint,
        '#co': A.CheckpointOwner,
      },
      ExpressionAttributeValues: {
        ':o': { S: owner },
        ':c': { N: String(expectedCounter) },
        ':one': { N: '1' },
        ':zero': { N: '0' },
      },
      ReturnValues: 'ALL_NEW',
    });
  }

  async handoverLease(
    leaseKey: string,
    from: string,
    to: string,
    expectedCounter: number,
  ): Promise<Lease | undefined> {
    return this.#updateOrUndefined({
      TableName: this.#table,
      Key: { [A.LeaseKey]: { S: leaseKey } },
      UpdateExpression:
        'SET #o = :to, #co = :from, #c = #c + :one, #s = if_not_exists(#s, :zero) + :one',
      ConditionExpression: '#c = :c AND #o = :from',
      ExpressionAttributeNames: {
        '#o': A.LeaseOwner,
        '#c': A.LeaseCounter,
        '#s': A.OwnerSwitchesSinceCheckpoint,
        '#co': A.CheckpointOwner,
      },
      ExpressionAttributeValues: {
        ':to': { S: to },
        ':from': { S: from },
        ':c': { N: String(expectedCounter) },
        ':one': { N: '1' },
        ':zero': { N: '0' },
      },
      ReturnValues: 'ALL_NEW',
    });
  }

  async completeHandover(leaseKey: string, previousOwner: string): Promise<void> {
    await this.#updateOrUndefined({
      TableName: this.#table,
      Key: { [A.LeaseKey]: { S: leaseKey } },
      UpdateExpression: 'REMOVE #co',
      ConditionExpression: '#co = :prev',
      ExpressionAttributeNames: { '#co': A.CheckpointOwner },
      ExpressionAttributeValues: { ':prev': { S: previousOwner } },
    });
  }

  async renewLease(token: LeaseToken): Promise<LeaseToken> {
    await this.#fencedUpdate(token, 'renewal', 'SET #c = #c + :one', { ':one': { N: '1' } });
    return { leaseKey: token.leaseKey, owner: token.owner, leaseCounter: token.leaseCounter + 1 };
  }

  async releaseLease(token: LeaseToken): Promise<void> {
    await this.#fencedUpdate(token, 'release', 'SET #c = #c + :one REMOVE #o', {
      ':one': { N: '1' },
    });
  }

  async setChildShardIds(token: LeaseToken, childShardIds: readonly string[]): Promise<void> {
    if (childShardIds.length === 0) return;
    await this.#fencedUpdate(
      token,
      'childShardIds update',
      'ADD #children :children',
      {
        ':children': { SS: [...childShardIds] },
      },
      { '#children': A.ChildShardIds },
    );
  }

  async deleteLease(leaseKey: string): Promise<void> {
    await this.#client.send(
      new DeleteItemCommand({ TableName: this.#table, Key: { [A.LeaseKey]: { S: leaseKey } } }),
    );
    for (const [indexKey, key] of this.#keyByShard) {
      if (key === leaseKey) this.#keyByShard.delete(indexKey);
    }
  }

  async commitCheckpoint(
    streamId: string,
    shardId: string,
    checkpoint: Checkpoint,
    token?: LeaseToken,
  ): Promise<void> {
    const leaseKey = this.leaseKeyFor(streamId, shardId);
    const cp = checkpointAttributes(checkpoint);
    const values: Item = {
      ':cp': cp[A.Checkpoint]!,
      ':sub': cp[A.CheckpointSubSequenceNumber]!,
      ':zero': { N: '0' },
    };
    // As the KCL's own checkpoint does, a commit clears a pending (two-phase) checkpoint.
    const set = 'SET #cp = :cp, #sub = :sub, #s = :zero';
    const clearPending = ' REMOVE #pcp, #psub, #pst';
    const update = set + clearPending;
    const names: Record<string, string> = {
      '#cp': A.Checkpoint,
      '#sub': A.CheckpointSubSequenceNumber,
      '#s': A.OwnerSwitchesSinceCheckpoint,
      '#pcp': A.PendingCheckpoint,
      '#psub': A.PendingCheckpointSubSequenceNumber,
      '#pst': A.PendingCheckpointState,
    };
    if (token?.handover) {
      try {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: { [A.LeaseKey]: { S: leaseKey } },
            UpdateExpression: update,
            ConditionExpression: '#co = :me',
            ExpressionAttributeNames: { ...names, '#co': A.CheckpointOwner },
            ExpressionAttributeValues: { ...values, ':me': { S: token.owner } },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        throw new LeaseLostError(
          leaseKey,
          `final checkpoint refused: the handover from ${token.owner} already completed`,
          { cause: error },
        );
      }
      return;
    }
    if (token) {
      await this.#fencedUpdate({ ...token, leaseKey }, 'checkpoint', update, values, names);
      return;
    }
    const extra: Item = {};
    const extraNames: Record<string, string> = {};
    let extraSet = '';
    const identifier = identifierOfKey(leaseKey);
    if (identifier !== undefined) {
      extra[':sn'] = { S: identifier };
      extra[':sid'] = { S: shardId };
      extraNames['#sn'] = A.StreamName;
      extraNames['#sid'] = A.ShardId;
      extraSet = ', #sn = :sn, #sid = :sid';
    }
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: leaseKey } },
        UpdateExpression: `${set}, #c = if_not_exists(#c, :zero)${extraSet}${clearPending}`,
        ExpressionAttributeNames: { ...names, '#c': A.LeaseCounter, ...extraNames },
        ExpressionAttributeValues: { ...values, ...extra },
      }),
    );
  }

  // ─── the coordination item ──────────────────────────────────────────────────────────────

  async heartbeat(workerId: string, leaseCount: number): Promise<void> {
    // Any new value is a change to observers; start from the clock so a restarted worker with
    // the same id never repeats a value an observer saw before.
    const next = Math.max((this.#heartbeats.get(workerId) ?? Date.now()) + 1, 1);
    this.#heartbeats.set(workerId, next);
    // The streams the fleet reads ride along (a set: ADD is idempotent), so that tools such as
    // `shardline lag` can tell a single-stream table's stream, which its keys do not name.
    const streams = this.#streams.length > 0;
    const input = {
      TableName: this.#table,
      Key: { [A.LeaseKey]: { S: FLEET_ITEM_KEY } },
      UpdateExpression: `SET #w.#id = :entry${streams ? ' ADD #st :streams' : ''}`,
      ExpressionAttributeNames: {
        '#w': 'workers',
        '#id': workerId,
        ...(streams ? { '#st': FLEET_STREAMS } : {}),
      },
      ExpressionAttributeValues: {
        ':entry': { M: { heartbeat: { N: String(next) }, leaseCount: { N: String(leaseCount) } } },
        ...(streams ? { ':streams': { SS: [...this.#streams] } } : {}),
      },
    };
    try {
      await this.#client.send(new UpdateItemCommand(input));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ValidationException') throw error;
      await this.#ensureFleetItem();
      await this.#client.send(new UpdateItemCommand(input));
    }
  }

  async readFleet(): Promise<FleetState> {
    const { Item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: FLEET_ITEM_KEY } },
        // Eventually consistent (half the cost): a read a moment stale only delays an
        // observation by a round; every decision taken on it is a conditional write.
        ConsistentRead: false,
      }),
    );
    const workers: WorkerHeartbeat[] = [];
    for (const [workerId, value] of Object.entries(Item?.workers?.M ?? {})) {
      workers.push({
        workerId,
        heartbeat: Number(value.M?.heartbeat?.N ?? 0),
        leaseCount: Number(value.M?.leaseCount?.N ?? 0),
      });
    }
    const resets = Item?.[FLEET_RESETS]?.M;
    return {
      workers,
      leaseSetVersion: Number(Item?.leaseSetVersion?.N ?? 0),
      ...(resets
        ? {
            checkpointResets: {
              version: Number(Item?.[FLEET_RESET_VERSION]?.N ?? 0),
              leases: new Map(
                Object.entries(resets).flatMap(([leaseKey, value]): [string, Checkpoint][] => {
                  const checkpoint = readCheckpoint(value.M ?? {});
                  return checkpoint === undefined ? [] : [[leaseKey, checkpoint]];
                }),
              ),
            },
          }
        : {}),
    };
  }

  /**
   * Records a checkpoint reset (`shardline checkpoints reset`): the leases moved and their new
   * checkpoints replace the previous reset's, the reset version and the lease-set version move,
   * in one write to the coordination item. Workers see it at their next take round.
   */
  async noteCheckpointReset(leases: ReadonlyMap<string, Checkpoint>): Promise<void> {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: FLEET_ITEM_KEY } },
        UpdateExpression: 'SET #r = :r, #t = :t ADD #rv :one, #v :one',
        ExpressionAttributeNames: {
          '#r': FLEET_RESETS,
          '#rv': FLEET_RESET_VERSION,
          '#v': 'leaseSetVersion',
          '#t': 'entityType',
        },
        ExpressionAttributeValues: {
          ':r': {
            M: Object.fromEntries(
              [...leases].map(([leaseKey, checkpoint]) => [
                leaseKey,
                { M: checkpointAttributes(checkpoint) },
              ]),
            ),
          },
          ':one': { N: '1' },
          ':t': { S: 'shardline-fleet' },
        },
      }),
    );
  }

  /**
   * The streams (ids) the application's workers read, as their heartbeats recorded them in the
   * coordination item; empty when no worker has run yet (or an older one wrote the table).
   */
  async fleetStreams(): Promise<string[]> {
    const { Item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: FLEET_ITEM_KEY } },
        ProjectionExpression: '#st',
        ExpressionAttributeNames: { '#st': FLEET_STREAMS },
      }),
    );
    return [...(Item?.[FLEET_STREAMS]?.SS ?? [])].sort();
  }

  async noteLeaseSetChanged(): Promise<void> {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { [A.LeaseKey]: { S: FLEET_ITEM_KEY } },
        UpdateExpression: 'ADD #v :one SET #t = :t',
        ExpressionAttributeNames: { '#v': 'leaseSetVersion', '#t': 'entityType' },
        ExpressionAttributeValues: { ':one': { N: '1' }, ':t': { S: 'shardline-fleet' } },
      }),
    );
  }

  async removeWorker(workerId: string, expectedHeartbeat?: number): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [A.LeaseKey]: { S: FLEET_ITEM_KEY } },
          UpdateExpression: 'REMOVE #w.#id',
          ...(expectedHeartbeat === undefined
            ? {
                ConditionExpression: 'attribute_exists(#w)',
                ExpressionAttributeNames: { '#w': 'workers', '#id': workerId },
              }
            : {
                ConditionExpression: '#w.#id.#hb = :hb',
                ExpressionAttributeNames: { '#w': 'workers', '#id': workerId, '#hb': 'heartbeat' },
                ExpressionAttributeValues: { ':hb': { N: String(expectedHeartbeat) } },
              }),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      if (error instanceof ResourceNotFoundException) return;
      throw error;
    }
  }

  async #ensureFleetItem(): Promise<void> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: {
            [A.LeaseKey]: { S: FLEET_ITEM_KEY },
            entityType: { S: 'shardline-fleet' },
            workers: { M: {} },
            leaseSetVersion: { N: '0' },
          },
          ConditionExpression: 'attribute_not_exists(#w)',
          ExpressionAttributeNames: { '#w': 'workers' },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  // ─── helpers ────────────────────────────────────────────────────────────────────────────

  async #updateOrUndefined(input: UpdateItemCommandInput): Promise<Lease | undefined> {
    try {
      const out = await this.#client.send(new UpdateItemCommand(input));
      return out.Attributes ? this.#toLease(out.Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async #fencedUpdate(
    token: LeaseToken,
    what: string,
    update: string,
    values: Item,
    names: Record<string, string> = {},
  ): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [A.LeaseKey]: { S: token.leaseKey } },
          UpdateExpression: update,
          ConditionExpression: '#o = :owner AND #c = :counter',
          ExpressionAttributeNames: { '#o': A.LeaseOwner, '#c': A.LeaseCounter, ...names },
          ExpressionAttributeValues: {
            ...values,
            ':owner': { S: token.owner },
            ':counter': { N: String(token.leaseCounter) },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = error.Item;
      const detail = !item
        ? 'the lease no longer exists'
        : item[A.LeaseOwner]?.S !== token.owner
          ? `owner is now ${item[A.LeaseOwner]?.S ?? 'nobody'}, not ${token.owner}`
          : `lease counter is ${item[A.LeaseCounter]?.N}, expected ${token.leaseCounter}`;
      throw new LeaseLostError(token.leaseKey, `${what} refused: ${detail}`, { cause: error });
    }
  }

  #toLease(item: Item): Lease {
    const leaseKey = item[A.LeaseKey]!.S!;
    let streamId: string;
    let shardId: string;
    const keyIdentifier = identifierOfKey(leaseKey);
    if (keyIdentifier === undefined) {
      // A bare shard id: the single stream's (in a multi-stream table, the stream it served
      // alone before others were added).
      streamId = this.#streamId ?? '';
      shardId = leaseKey;
    } else {
      const identifier = item[A.StreamName]?.S ?? keyIdentifier;
      shardId = item[A.ShardId]?.S ?? leaseKey.slice(keyIdentifier.length + 1);
      let known = this.#streamIdByIdentifier.get(identifier);
      if (known === undefined) {
        // Parsed once per identifier, not once per lease of every listing.
        known = streamForIdentifier(identifier, this.#streams);
        if (known !== undefined) this.#streamIdByIdentifier.set(identifier, known);
      }
      streamId = known ?? identifier;
      if (known !== undefined && !this.#identifierByStream.has(known)) {
        this.#identifierByStream.set(known, identifier);
      }
    }
    // One shard, two leases (a bare key and an identifier-keyed one): a table whose second
    // stream was added under a version that orphaned the bare keys and made new ones. The
    // identifier-keyed lease is the one read since; it wins whichever the scan shows first.
    const indexKey = shardKey(streamId, shardId);
    const seen = this.#keyByShard.get(indexKey);
    if (
      seen === undefined ||
      (keyIdentifier !== undefined && identifierOfKey(seen) === undefined)
    ) {
      this.#keyByShard.set(indexKey, leaseKey);
    }
    const start = item[A.StartingHashKey]?.S;
    const end = item[A.EndingHashKey]?.S;
    return {
      leaseKey,
      streamId,
      shardId,
      leaseOwner: item[A.LeaseOwner]?.S,
      leaseCounter: Number(item[A.LeaseCounter]?.N ?? 0),
      checkpoint: readCheckpoint(item),
      ownerSwitchesSinceCheckpoint: Number(item[A.OwnerSwitchesSinceCheckpoint]?.N ?? 0),
      parentShardIds: item[A.ParentShardId]?.SS ?? [],
      childShardIds: item[A.ChildShardIds]?.SS ?? [],
      ...(start !== undefined && end !== undefined
        ? { hashKeyRange: { startingHashKey: start, endingHashKey: end } }
        : {}),
      checkpointOwner: item[A.CheckpointOwner]?.S,
    };
  }
}

const SENTINELS = new Set<string>(Object.values(CheckpointSentinel));

/** The stream identifier part of a lease key (a shard id never holds a colon), if any. */
function identifierOfKey(leaseKey: string): string | undefined {
  const cut = leaseKey.lastIndexOf(':');
  return cut > 0 ? leaseKey.slice(0, cut) : undefined;
}

/** The coordination item's set of the streams the fleet reads. */
const FLEET_STREAMS = 'streams';
/** The coordination item's map of the last checkpoint reset: lease key → new checkpoint. */
const FLEET_RESETS = 'checkpointResets';
/** The coordination item's counter of checkpoint resets. */
const FLEET_RESET_VERSION = 'checkpointResetVersion';

function shardKey(streamId: string, shardId: string): string {
  return `${streamId}\n${shardId}`;
}

function checkpointAttributes(checkpoint: Checkpoint): Item {
  if (typeof checkpoint === 'string') {
    return { [A.Checkpoint]: { S: checkpoint }, [A.CheckpointSubSequenceNumber]: { N: '0' } };
  }
  return {
    [A.Checkpoint]: { S: checkpoint.sequenceNumber },
    [A.CheckpointSubSequenceNumber]: { N: String(checkpoint.subSequenceNumber ?? 0) },
  };
}

function readCheckpoint(item: Item): Checkpoint | undefined {
  const value = item[A.Checkpoint]?.S;
  if (value === undefined) return undefined;
  // AT_TIMESTAMP included: its timestamp is the application's setting (the worker's
  // initialPosition), as in the KCL, so the lease keeps the sentinel as written.
  if (SENTINELS.has(value)) return value as Checkpoint;
  const sub = Number(item[A.CheckpointSubSequenceNumber]?.N ?? 0);
  // The KCL writes 0 for records that were not aggregated; Shardline compares positions with
  // an absent sub-sequence before 0, so resuming after (seq, 0) skips a plain record at seq and
  // the first user record of an aggregate at seq — the KCL's own reading of it.
  return { sequenceNumber: value, subSequenceNumber: sub };
}
