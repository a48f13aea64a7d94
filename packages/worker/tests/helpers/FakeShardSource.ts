import {
  type ChangeRecord,
  decodeDynamoDBRecord,
  type ShardInfo,
  type ShardIterator,
  type ShardReadResult,
  type ShardSource,
  SourceKind,
  type StartPosition,
} from '@shardline/core';

/** One shard of a {@link FakeShardSource}: how many records, lineage, and whether it is closed. */
export interface FakeShardSpec {
  readonly shardId: string;
  readonly parentShardIds?: readonly string[];
  readonly records: number;
  readonly closed?: boolean;
  /** How many ordering keys (items) the shard's records cycle through. @default 5 */
  readonly keys?: number;
  /**
   * Makes the records "Kinesis Data Streams for DynamoDB" changes whose version is this
   * creation time (µs) per record index, so one item's changes can come out of version order.
   * Record i then adds 1 to its item's `n` (`oldImage.n` = `newImage.n` − 1).
   */
  readonly creationTimesMicros?: readonly number[];
  /**
   * Repeats of changes, as "Kinesis Data Streams for DynamoDB" delivers them: record `index` is
   * the change of record `copies[index]` (same eventID, version and images) at its own sequence
   * number. Needs `creationTimesMicros`.
   */
  readonly copies?: { readonly [index: number]: number };
}

/** A whole fake stream, JSON-serializable so child processes build the very same stream. */
export interface FakeStreamSpec {
  readonly streamId: string;
  readonly shards: readonly FakeShardSpec[];
  /** Records per page. @default 25 */
  readonly pageSize?: number;
}

const BASE = 100_000_000_000_000_000_000n;

/** The sequence number of record `index` of a shard (21 digits, like DynamoDB Streams). */
export function fakeSequenceNumber(index: number): string {
  return String(BASE + BigInt(index));
}

/** The ordering key of record `index` of a shard: `keys` keys per shard, round robin. */
export function fakeKey(shardId: string, index: number, keys = 5): string {
  return `${shardId}/k${index % keys}`;
}

interface Shard {
  spec: FakeShardSpec;
  records: ChangeRecord[];
  closed: boolean;
  children: string[];
}

/**
 * An in-memory {@link ShardSource} over arrays, with lineage and splits: a deterministic stream
 * for worker tests (no AWS server needed). Records carry the DynamoDB shape, keyed so that each
 * shard has five ordering keys.
 */
export class FakeShardSource implements ShardSource {
  readonly kind = 'dynamodb-streams' as const;
  readonly streamId: string;
  readonly #shards = new Map<string, Shard>();
  readonly #pageSize: number;
  /** openShard calls, by shard: tells tests which positions readers started from. */
  readonly opened: { shardId: string; from: StartPosition }[] = [];

  constructor(spec: FakeStreamSpec) {
    this.streamId = spec.streamId;
    this.#pageSize = spec.pageSize ?? 25;
    for (const shard of spec.shards) this.#add(shard);
    for (const shard of spec.shards) {
      for (const p of shard.parentShardIds ?? []) this.#shards.get(p)?.children.push(shard.shardId);
    }
  }

  #add(spec: FakeShardSpec): void {
    const records: ChangeRecord[] = [];
    for (let i = 0; i < spec.records; i++) records.push(this.#record(spec, i));
    this.#shards.set(spec.shardId, { spec, records, closed: spec.closed ?? false, children: [] });
  }

  #record(spec: FakeShardSpec, index: number): ChangeRecord {
    const shardId = spec.shardId;
    // The change this record carries: its own, or the one it repeats.
    const change = spec.copies?.[index] ?? index;
    const created = spec.creationTimesMicros?.[change];
    if (created !== undefined) {
      const key = fakeKey(shardId, change, spec.keys);
      return decodeDynamoDBRecord(
        {
          eventID: `${shardId}-${change}`,
          eventName: 'MODIFY',
          dynamodb: {
            Keys: { pk: { S: key } },
            NewImage: { pk: { S: key }, n: { N: String(change + 1) } },
            OldImage: { pk: { S: key }, n: { N: String(change) } },
            ApproximateCreationDateTime: created,
            SizeBytes: 40,
            StreamViewType: 'NEW_AND_OLD_IMAGES',
          },
        },
        {
          streamId: this.streamId,
          shardId,
          source: SourceKind.KinesisDynamoDB,
          sequenceNumber: fakeSequenceNumber(index),
          creationTimeUnit: 'us',
          versionFromCreationTime: true,
        },
      );
    }
    return decodeDynamoDBRecord(
      {
        eventID: `${shardId}-${index}`,
        eventName: 'INSERT',
        dynamodb: {
          Keys: { pk: { S: fakeKey(shardId, index, spec.keys) } },
          NewImage: { pk: { S: fakeKey(shardId, index, spec.keys) }, n: { N: String(index) } },
          SequenceNumber: fakeSequenceNumber(index),
          SizeBytes: 40,
          StreamViewType: 'NEW_IMAGE',
        },
      },
      { streamId: this.streamId, shardId },
    );
  }

  /** Appends records to an open shard. */
  append(shardId: string, count: number): void {
    const shard = this.#shards.get(shardId)!;
    const start = shard.records.length;
    for (let i = 0; i < count; i++) shard.records.push(this.#record(shard.spec, start + i));
  }

  /** Closes a shard and adds children (a split: two children with one parent). */
  split(shardId: string, children: readonly FakeShardSpec[]): void {
    const parent = this.#shards.get(shardId)!;
    parent.closed = true;
    for (const child of children) {
      this.#add({ ...child, parentShardIds: [shardId] });
      parent.children.push(child.shardId);
    }
  }

  async listShards(): Promise<ShardInfo[]> {
    return [...this.#shards.values()].map((s) => ({
      shardId: s.spec.shardId,
      parentShardIds: s.spec.parentShardIds ?? [],
      startingSequenceNumber: fakeSequenceNumber(0),
      endingSequenceNumber: s.closed
        ? fakeSequenceNumber(Math.max(0, s.records.length - 1))
        : undefined,
    }));
  }

  async openShard(shardId: string, from: StartPosition): Promise<ShardIterator> {
    const shard = this.#shards.get(shardId);
    if (!shard) throw new Error(`No shard ${shardId} in ${this.streamId}`);
    this.opened.push({ shardId, from });
    let index = 0;
    switch (from.type) {
      case 'LATEST':
        index = shard.records.length;
        break;
      case 'AT_SEQUENCE_NUMBER':
        index = Number(BigInt(from.sequenceNumber) - BASE);
        break;
      case 'AFTER_SEQUENCE_NUMBER':
        index = Number(BigInt(from.sequenceNumber) - BASE) + 1;
        break;
      default:
        index = 0;
    }
    const pageSize = this.#pageSize;
    return {
      async next(): Promise<ShardReadResult> {
        const records = shard.records.slice(index, index + pageSize);
        index += records.length;
        const atEnd = index >= shard.records.length;
        return {
          records,
          millisBehindLatest: atEnd ? 0 : 1000,
          shardEnded: atEnd && shard.closed,
          childShardIds: atEnd && shard.closed ? [...shard.children] : undefined,
        };
      },
    };
  }
}

/** A stream of `shards` open shards with `records` records each. */
export function fakeStream(streamId: string, shards: number, records: number): FakeStreamSpec {
  return {
    streamId,
    shards: Array.from({ length: shards }, (_, i) => ({
      shardId: `shardId-${String(i).padStart(12, '0')}`,
      records,
    })),
  };
}
