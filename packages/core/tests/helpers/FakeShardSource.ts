import type {
  ChangeRecord,
  ShardInfo,
  ShardIterator,
  ShardReadResult,
  ShardSource,
  StartPosition,
} from '../../src/index.js';

/** The hash space of the fake stream: keys hash to 0…HASH_SPACE−1. */
export const HASH_SPACE = 1024;

interface FakeShard {
  info: ShardInfo;
  low: number;
  high: number;
  records: ChangeRecord[];
  open: boolean;
}

/**
 * An in-memory stream with Kinesis-style resharding (split, merge), DynamoDB-style rollover and
 * retention (oldest shards age out). Records of key `k` go to the open shard whose range holds
 * `k`'s hash, exactly as the services route them, so lineage bugs show up as per-key reordering.
 */
export class FakeShardSource implements ShardSource {
  readonly kind = 'kinesis' as const;
  readonly streamId = 'arn:aws:kinesis:us-east-1:123456789012:stream/fake';
  readonly #shards: FakeShard[] = [];
  #nextShard = 0;
  #nextSequence = 1000;

  constructor(initialShards = 1) {
    const width = Math.ceil(HASH_SPACE / initialShards);
    for (let i = 0; i < initialShards; i++) {
      this.#create([], i * width, Math.min(HASH_SPACE - 1, (i + 1) * width - 1));
    }
  }

  /** Open shards, oldest first. */
  openShards(): string[] {
    return this.#shards.filter((s) => s.open).map((s) => s.info.shardId);
  }

  /** Writes one record for `key` (0…HASH_SPACE−1) with a payload `value`. */
  write(key: number, value: number): void {
    const shard = this.#shards.find((s) => s.open && s.low <= key && key <= s.high)!;
    const sequenceNumber = String(this.#nextSequence++);
    shard.records.push(fakeRecord(this.streamId, shard.info.shardId, sequenceNumber, key, value));
  }

  /** Splits an open shard in two halves. Returns false when it is too narrow to split. */
  split(shardId: string): boolean {
    const shard = this.#open(shardId);
    if (!shard || shard.low === shard.high) return false;
    const mid = Math.floor((shard.low + shard.high) / 2);
    this.#close(shard);
    this.#create([shardId], shard.low, mid);
    this.#create([shardId], mid + 1, shard.high);
    return true;
  }

  /** Merges two open shards with adjacent ranges. Returns false when they are not adjacent. */
  merge(aId: string, bId: string): boolean {
    const a = this.#open(aId);
    const b = this.#open(bId);
    if (!a || !b || a === b) return false;
    const [low, high] = a.high + 1 === b.low ? [a, b] : b.high + 1 === a.low ? [b, a] : [];
    if (!low || !high) return false;
    this.#close(low);
    this.#close(high);
    this.#create([low.info.shardId, high.info.shardId], low.low, high.high);
    return true;
  }

  /** Closes an open shard and opens one child over the same range (a DynamoDB rollover). */
  rollover(shardId: string): boolean {
    const shard = this.#open(shardId);
    if (!shard) return false;
    this.#close(shard);
    this.#create([shardId], shard.low, shard.high);
    return true;
  }

  /** Drops the `count` oldest closed shards from the listing (retention), with their records. */
  ageOut(count: number): ChangeRecord[] {
    const lost: ChangeRecord[] = [];
    for (let i = 0; i < count; i++) {
      const oldest = this.#shards[0];
      if (!oldest || oldest.open) break;
      this.#shards.shift();
      lost.push(...oldest.records);
    }
    return lost;
  }

  async listShards(): Promise<ShardInfo[]> {
    return this.#shards.map((s) => s.info);
  }

  async openShard(shardId: string, from: StartPosition): Promise<ShardIterator> {
    const shard = this.#shards.find((s) => s.info.shardId === shardId);
    if (!shard) throw new Error(`no shard ${shardId}`);
    let index = 0;
    if (from.type === 'AFTER_SEQUENCE_NUMBER') {
      index = shard.records.findIndex(
        (r) => BigInt(r.sequenceNumber) > BigInt(from.sequenceNumber),
      );
      if (index === -1) index = shard.records.length;
    }
    return {
      next: async (): Promise<ShardReadResult> => {
        const records = shard.records.slice(index, index + 3);
        index += records.length;
        const shardEnded = !shard.open && index >= shard.records.length;
        return { records, millisBehindLatest: undefined, shardEnded };
      },
    };
  }

  #open(shardId: string): FakeShard | undefined {
    return this.#shards.find((s) => s.open && s.info.shardId === shardId);
  }

  #close(shard: FakeShard): void {
    shard.open = false;
    shard.info = { ...shard.info, endingSequenceNumber: String(this.#nextSequence++) };
  }

  #create(parentShardIds: string[], low: number, high: number): void {
    const shardId = `shardId-${String(this.#nextShard++).padStart(12, '0')}`;
    this.#shards.push({
      info: {
        shardId,
        parentShardIds,
        startingSequenceNumber: String(this.#nextSequence++),
        endingSequenceNumber: undefined,
        hashKeyRange: { startingHashKey: String(low), endingHashKey: String(high) },
      },
      low,
      high,
      records: [],
      open: true,
    });
  }
}

/** A minimal record: ordering key = the hash key, `newImage.value` = the write index. */
export function fakeRecord(
  streamId: string,
  shardId: string,
  sequenceNumber: string,
  key: number,
  value: number,
): ChangeRecord {
  return {
    source: 'kinesis',
    streamId,
    shardId,
    sequenceNumber,
    subSequenceNumber: undefined,
    orderingKey: String(key),
    eventId: `${shardId}:${sequenceNumber}`,
    eventName: 'RECORD',
    tableName: undefined,
    keys: undefined,
    newImage: { value },
    oldImage: undefined,
    marshalledKeys: undefined,
    streamViewType: undefined,
    partitionKey: String(key),
    data: undefined,
    approximateCreationTimeMs: undefined,
    version: undefined,
    sizeBytes: 1,
    isTtlDelete: false,
    region: undefined,
    raw: undefined,
  };
}
