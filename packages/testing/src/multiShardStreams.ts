import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { type LocalClientConfig, localClientConfig } from '@shardline/local';
import { type JsonProtocolAnswer, startJsonProtocolDouble } from './jsonProtocolDouble.js';
import { seededRandom } from './seededRandom.js';

/** One shard of a {@link MultiShardStreamsServer}, as its graph reports it. */
export interface StreamsShardInfo {
  readonly shardId: string;
  readonly parentShardId?: string;
  readonly startingSequenceNumber: string;
  /** Set once the shard is closed. */
  readonly endingSequenceNumber?: string;
  /** Records held, trimmed ones excluded. */
  readonly recordCount: number;
}

/** Options of {@link startMultiShardStreamsServer}. */
export interface MultiShardStreamsOptions {
  /** Client settings of the DynamoDB Local that feeds the server (its `clientConfig`). */
  readonly source: LocalClientConfig;
  /** The stream ARN of the source table in DynamoDB Local (`LatestStreamArn`). */
  readonly sourceStreamArn: string;
  /** Open shards at start. @default 4 */
  readonly shardCount?: number;
  /** Close every open shard and open one child each, every so many ms. Off when omitted. */
  readonly rolloverIntervalMs?: number;
  /** Records older than this are trimmed, in ms. @default 86_400_000 (24 h, as on AWS) */
  readonly retentionMs?: number;
  /** Shard iterators expire after this, in ms. @default 900_000 (15 min, as on AWS) */
  readonly iteratorTtlMs?: number;
  /** Seed of shard id suffixes, so runs are repeatable. @default 1 */
  readonly seed?: number;
  /** How often the source stream is read, in ms. @default 50 */
  readonly pollIntervalMs?: number;
  /**
   * Picks the REMOVEs to deliver as Time to Live deletes, by their Keys (DynamoDB JSON): those
   * records get the `userIdentity` the DynamoDB Streams API documents for TTL,
   * `{ PrincipalId: 'dynamodb.amazonaws.com', Type: 'Service' }`. DynamoDB Local's own TTL
   * sweeps run rarely and at no set time, so a test deletes the item itself and names it here.
   */
  readonly timeToLiveDeletes?: (keys: Record<string, unknown>) => boolean;
}

/** A running multi-shard DynamoDB Streams server. */
export interface MultiShardStreamsServer {
  readonly endpoint: string;
  /** The ARN to describe and read (the source table's stream ARN). */
  readonly streamArn: string;
  /** Settings for `new DynamoDBStreamsClient(...)` pointed at this server. */
  readonly clientConfig: LocalClientConfig;
  /** The shard graph, oldest first. */
  shards(): StreamsShardInfo[];
  /** Closes one open shard (or every open shard) and opens one child each. Returns the children. */
  rollover(shardId?: string): string[];
  /** Closes an open shard and opens two children that share its key range by hash. */
  split(shardId: string): [string, string];
  /** Drops records older than the retention now. */
  trim(): void;
  /** Reads the source stream until it has nothing new, so later GetRecords see every change made so far. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

interface Shard {
  readonly shardId: string;
  readonly parentShardId?: string;
  readonly startingSequenceNumber: string;
  endingSequenceNumber?: string;
  /** Hash range [low, high) of the item keys routed here while open. */
  readonly low: number;
  readonly high: number;
  readonly records: {
    readonly seq: bigint;
    readonly at: number;
    readonly json: unknown;
    readonly bytes: number;
  }[];
  /** Absolute index of records[0]. */
  trimmed: number;
}

interface Iterator {
  readonly s: string;
  readonly p: number;
  readonly t: number;
}

const MAX_PAGE_BYTES = 1024 * 1024;
const HASH_SPACE = 2 ** 32;

/**
 * Starts a DynamoDB Streams server with many shards, fed by the real stream of a DynamoDB Local
 * table: each change is routed by a hash of its item key to one open shard, so images, event ids
 * and sequence numbers are DynamoDB Local's own. Shards roll over on a schedule or on demand,
 * split into two children, and are trimmed after a retention, as on AWS. The real
 * `@aws-sdk/client-dynamodb-streams` client talks to it.
 *
 * @example
 * const streams = await startMultiShardStreamsServer({ source: ddb.clientConfig, sourceStreamArn, shardCount: 4 });
 * const client = new DynamoDBStreamsClient(streams.clientConfig);
 */
export async function startMultiShardStreamsServer(
  options: MultiShardStreamsOptions,
): Promise<MultiShardStreamsServer> {
  const shardCount = options.shardCount ?? 4;
  if (!Number.isInteger(shardCount) || shardCount < 1)
    throw new Error(`shardCount must be a positive integer, got ${String(shardCount)}.`);
  const retentionMs = options.retentionMs ?? 86_400_000;
  const iteratorTtlMs = options.iteratorTtlMs ?? 900_000;
  const random = seededRandom(options.seed ?? 1);
  let shardClock = 1_700_000_000_000;
  let lastSeq = 0n;
  const all: Shard[] = [];
  const byId = new Map<string, Shard>();
  const newShard = (low: number, high: number, parentShardId?: string): Shard => {
    shardClock += 1;
    const suffix = Math.floor(random() * HASH_SPACE)
      .toString(16)
      .padStart(8, '0');
    const shard: Shard = {
      shardId: `shardId-${String(shardClock).padStart(20, '0')}-${suffix}`,
      ...(parentShardId ? { parentShardId } : {}),
      startingSequenceNumber: String(lastSeq + 1n).padStart(21, '0'),
      low,
      high,
      records: [],
      trimmed: 0,
    };
    all.push(shard);
    byId.set(shard.shardId, shard);
    return shard;
  };
  for (let i = 0; i < shardCount; i += 1)
    newShard(
      Math.floor((i * HASH_SPACE) / shardCount),
      Math.floor(((i + 1) * HASH_SPACE) / shardCount),
    );

  const openShard = (id: string): Shard => {
    const shard = byId.get(id);
    if (!shard || shard.endingSequenceNumber !== undefined)
      throw new Error(
        `Shard ${id} is not an open shard of this server; pick one from shards() without endingSequenceNumber.`,
      );
    return shard;
  };
  const close = (shard: Shard): void => {
    shard.endingSequenceNumber = String(
      shard.records.length > 0 ? (shard.records.at(-1)?.seq ?? lastSeq) : lastSeq,
    ).padStart(21, '0');
  };
  const rollover = (shardId?: string): string[] => {
    const targets = shardId
      ? [openShard(shardId)]
      : all.filter((s) => s.endingSequenceNumber === undefined);
    return targets.map((shard) => {
      close(shard);
      return newShard(shard.low, shard.high, shard.shardId).shardId;
    });
  };
  const split = (shardId: string): [string, string] => {
    const shard = openShard(shardId);
    close(shard);
    const mid = Math.floor((shard.low + shard.high) / 2);
    return [
      newShard(shard.low, mid, shard.shardId).shardId,
      newShard(mid, shard.high, shard.shardId).shardId,
    ];
  };
  const trim = (): void => {
    const cutoff = Date.now() - retentionMs;
    for (const shard of all) {
      while (shard.records.length > 0 && (shard.records[0]?.at ?? 0) < cutoff) {
        shard.records.shift();
        shard.trimmed += 1;
      }
    }
  };

  // Feeding: read every source shard from TRIM_HORIZON, route each change by key hash.
  const source = new DynamoDBStreamsClient(options.source);
  const sourceIterators = new Map<string, string | null>();
  const sourceLastSeq = new Map<string, string>();
  const route = (record: Record<string, unknown>): void => {
    const dynamodb = record.dynamodb as {
      Keys?: unknown;
      SequenceNumber?: string;
      SizeBytes?: number;
    };
    const seq = BigInt(dynamodb.SequenceNumber ?? '0');
    if (seq <= lastSeq) return;
    const hash = fnv1a(stableJson(dynamodb.Keys));
    const shard = all.find(
      (s) => s.endingSequenceNumber === undefined && hash >= s.low && hash < s.high,
    );
    if (!shard) throw new Error(`No open shard for key hash ${hash}: the shard graph is broken.`);
    const ttl =
      record.eventName === 'REMOVE' &&
      options.timeToLiveDeletes?.(dynamodb.Keys as Record<string, unknown>) === true;
    const delivered = ttl
      ? { ...record, userIdentity: { PrincipalId: 'dynamodb.amazonaws.com', Type: 'Service' } }
      : record;
    const json = JSON.parse(JSON.stringify(delivered, wireReplacer)) as unknown;
    shard.records.push({ seq, at: Date.now(), json, bytes: JSON.stringify(json).length });
    lastSeq = seq;
  };
  const pull = async (): Promise<boolean> => {
    const described = await source.send(
      new DescribeStreamCommand({ StreamArn: options.sourceStreamArn }),
    );
    let got = false;
    for (const s of described.StreamDescription?.Shards ?? []) {
      const id = s.ShardId ?? '';
      if (!sourceIterators.has(id)) {
        // After a lost iterator, resume after the last change routed from this source shard.
        const after = sourceLastSeq.get(id);
        const it = await source.send(
          new GetShardIteratorCommand({
            StreamArn: options.sourceStreamArn,
            ShardId: id,
            ...(after === undefined
              ? { ShardIteratorType: 'TRIM_HORIZON' }
              : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }),
          }),
        );
        sourceIterators.set(id, it.ShardIterator ?? null);
      }
      let iterator = sourceIterators.get(id) ?? null;
      try {
        while (iterator) {
          const page = await source.send(new GetRecordsCommand({ ShardIterator: iterator }));
          iterator = page.NextShardIterator ?? null;
          for (const record of page.Records ?? []) {
            route(record as Record<string, unknown>);
            const seq = (record.dynamodb as { SequenceNumber?: string } | undefined)
              ?.SequenceNumber;
            if (seq !== undefined) sourceLastSeq.set(id, seq);
          }
          if ((page.Records ?? []).length === 0) break;
          got = true;
        }
      } catch (error) {
        // DynamoDB Local answers TrimmedDataAccessException on an iterator that sat on an empty
        // shard for a few seconds (and iterators expire): take a new one next time.
        const name = (error as { name?: string }).name;
        if (name !== 'TrimmedDataAccessException' && name !== 'ExpiredIteratorException') {
          throw error;
        }
        sourceIterators.delete(id);
        continue;
      }
      sourceIterators.set(id, iterator);
    }
    return got;
  };
  let stopped = false;
  let pulling: Promise<void> = Promise.resolve();
  const pullOnce = (): Promise<void> => {
    pulling = pulling
      .catch(() => undefined)
      .then(async () => {
        while (!stopped && (await pull())) {
          // keep reading until the source has nothing new
        }
      });
    return pulling;
  };
  // The timer skips a tick while a read is in flight, so a slow source never queues reads up.
  let polling = false;
  const pollTimer = setInterval(() => {
    if (polling) return;
    polling = true;
    void pullOnce()
      .catch(() => undefined)
      .finally(() => {
        polling = false;
      });
  }, options.pollIntervalMs ?? 50);
  const rolloverTimer =
    options.rolloverIntervalMs !== undefined
      ? setInterval(() => rollover(), options.rolloverIntervalMs)
      : undefined;

  const describeShard = (s: Shard): unknown => ({
    ShardId: s.shardId,
    ...(s.parentShardId ? { ParentShardId: s.parentShardId } : {}),
    SequenceNumberRange: {
      StartingSequenceNumber: s.startingSequenceNumber,
      ...(s.endingSequenceNumber !== undefined
        ? { EndingSequenceNumber: s.endingSequenceNumber }
        : {}),
    },
  });
  const notFound = (what: string): JsonProtocolAnswer => ({
    error: 'ResourceNotFoundException',
    message: what,
  });
  const encode = (it: Iterator): string => Buffer.from(JSON.stringify(it)).toString('base64');
  const answer = ({
    operation,
    input,
  }: {
    operation: string;
    input: Record<string, unknown>;
  }): JsonProtocolAnswer => {
    const arn = options.sourceStreamArn;
    const tableName = /table\/([^/]+)/.exec(arn)?.[1] ?? '';
    const label = arn.split('/').pop() ?? '';
    if (operation === 'ListStreams')
      return {
        output: { Streams: [{ StreamArn: arn, TableName: tableName, StreamLabel: label }] },
      };
    if (operation === 'DescribeStream') {
      if (input.StreamArn !== arn)
        return notFound(
          `Requested resource not found: Stream: ${String(input.StreamArn)} not found`,
        );
      const filter = input.ShardFilter as { Type?: string; ShardId?: string } | undefined;
      let list =
        filter?.Type === 'CHILD_SHARDS'
          ? all.filter((s) => s.parentShardId === filter.ShardId)
          : all;
      const start = input.ExclusiveStartShardId as string | undefined;
      if (start) list = list.slice(list.findIndex((s) => s.shardId === start) + 1);
      const limit = Math.min(Number(input.Limit ?? 100), 100);
      const page = list.slice(0, limit);
      return {
        output: {
          StreamDescription: {
            StreamArn: arn,
            StreamLabel: label,
            StreamStatus: 'ENABLED',
            StreamViewType: 'NEW_AND_OLD_IMAGES',
            TableName: tableName,
            Shards: page.map(describeShard),
            ...(list.length > limit ? { LastEvaluatedShardId: page.at(-1)?.shardId } : {}),
          },
        },
      };
    }
    if (operation === 'GetShardIterator') {
      if (input.StreamArn !== arn)
        return notFound(
          `Requested resource not found: Stream: ${String(input.StreamArn)} not found`,
        );
      const shard = byId.get(String(input.ShardId));
      if (!shard) return notFound(`Requested resource not found: Shard does not exist`);
      const type = String(input.ShardIteratorType);
      const end = shard.trimmed + shard.records.length;
      let p: number;
      if (type === 'TRIM_HORIZON') p = shard.trimmed;
      else if (type === 'LATEST') p = end;
      else if (type === 'AT_SEQUENCE_NUMBER' || type === 'AFTER_SEQUENCE_NUMBER') {
        const seq = BigInt(String(input.SequenceNumber ?? '0'));
        const first = shard.records[0]?.seq;
        if (shard.trimmed > 0 && (first === undefined || seq < first))
          return {
            error: 'TrimmedDataAccessException',
            message: `Sequence number ${String(input.SequenceNumber)} is beyond the trim horizon of shard ${shard.shardId}.`,
          };
        const index = shard.records.findIndex((r) =>
          type === 'AT_SEQUENCE_NUMBER' ? r.seq >= seq : r.seq > seq,
        );
        p = index < 0 ? end : shard.trimmed + index;
      } else return { error: 'ValidationException', message: `Invalid ShardIteratorType: ${type}` };
      return { output: { ShardIterator: encode({ s: shard.shardId, p, t: Date.now() }) } };
    }
    if (operation === 'GetRecords') {
      let it: Iterator;
      try {
        it = JSON.parse(
          Buffer.from(String(input.ShardIterator), 'base64').toString('utf8'),
        ) as Iterator;
      } catch {
        return { error: 'ValidationException', message: 'Invalid ShardIterator' };
      }
      const shard = byId.get(it.s);
      if (!shard) return notFound(`Requested resource not found: Shard does not exist`);
      if (Date.now() - it.t > iteratorTtlMs)
        return {
          error: 'ExpiredIteratorException',
          message: 'Iterator expired. The iterator was created more than 15 minutes ago.',
        };
      if (it.p < shard.trimmed)
        return {
          error: 'TrimmedDataAccessException',
          message: `The iterator of shard ${shard.shardId} points before its trim horizon.`,
        };
      const limit = Math.min(Number(input.Limit ?? 1000), 1000);
      const records: unknown[] = [];
      let bytes = 0;
      let p = it.p;
      while (records.length < limit && p - shard.trimmed < shard.records.length) {
        const r = shard.records[p - shard.trimmed];
        if (!r || (records.length > 0 && bytes + r.bytes > MAX_PAGE_BYTES)) break;
        records.push(r.json);
        bytes += r.bytes;
        p += 1;
      }
      const done =
        shard.endingSequenceNumber !== undefined && p >= shard.trimmed + shard.records.length;
      return {
        output: {
          Records: records,
          ...(done ? {} : { NextShardIterator: encode({ s: shard.shardId, p, t: Date.now() }) }),
        },
      };
    }
    return {
      error: 'UnknownOperationException',
      message: `Operation ${operation} is not supported by this server.`,
    };
  };
  const double = await startJsonProtocolDouble('dynamodb-streams', answer);
  return {
    endpoint: double.endpoint,
    streamArn: options.sourceStreamArn,
    clientConfig: localClientConfig(double.endpoint),
    shards: () =>
      all.map((s) => ({
        shardId: s.shardId,
        ...(s.parentShardId ? { parentShardId: s.parentShardId } : {}),
        startingSequenceNumber: s.startingSequenceNumber,
        ...(s.endingSequenceNumber !== undefined
          ? { endingSequenceNumber: s.endingSequenceNumber }
          : {}),
        recordCount: s.records.length,
      })),
    rollover,
    split,
    trim,
    sync: () => pullOnce(),
    close: async () => {
      stopped = true;
      clearInterval(pollTimer);
      if (rolloverTimer) clearInterval(rolloverTimer);
      await pulling.catch(() => undefined);
      source.destroy();
      await double.stop();
    },
  };
}

function wireReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return Math.floor(raw.getTime() / 1000);
  if (raw instanceof Uint8Array) return Buffer.from(raw).toString('base64');
  return value;
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value, wireReplacer) ?? '';
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  const entries = Object.keys(value as object)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
