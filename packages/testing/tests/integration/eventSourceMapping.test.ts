/**
 * The Lambda event source mapping emulator against real servers (DynamoDB Local's stream,
 * kinesalite), invoking a probe handler (tests/fixtures/esmProbeHandler.mjs) in child processes.
 * The probe appends a line per invocation start and end to a shared file, so concurrency, order,
 * environments and module state are read from what the handler saw, not from timing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DynamoDBLocalServer,
  type EventSourceMapping,
  type EventSourceMappingOptions,
  type InvocationReport,
  type KinesaliteServer,
  type OnFailureRecord,
  startDynamoDBLocal,
  startEventSourceMapping,
  startKinesalite,
} from '../../src/index.js';

const PROBE = join(import.meta.dirname, '../fixtures/esmProbeHandler.mjs');

interface ProbeLine {
  readonly phase: 'start' | 'end' | 'hang' | 'throw';
  readonly pid: number;
  readonly n?: number;
  readonly first: string;
  readonly records?: { seq: string; key: string }[];
  readonly event?: { Records: Record<string, unknown>[] };
  readonly failures?: { itemIdentifier: string }[];
}

let ddb: DynamoDBLocalServer;
let dynamodb: DynamoDBClient;
let work: string;
let tables = 0;

beforeAll(async () => {
  ddb = await startDynamoDBLocal();
  dynamodb = new DynamoDBClient(ddb.clientConfig);
  work = mkdtempSync(join(tmpdir(), 'shardline-esm-'));
}, 60_000);

afterAll(async () => {
  dynamodb?.destroy();
  await ddb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function freshTable(): Promise<{ name: string; streamArn: string }> {
  const name = `Probe${++tables}`;
  const out = await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  return { name, streamArn: out.TableDescription?.LatestStreamArn ?? '' };
}

async function put(table: string, id: string, value: number): Promise<void> {
  await dynamodb.send(
    new PutItemCommand({ TableName: table, Item: { id: { S: id }, value: { N: String(value) } } }),
  );
}

/** A probe run: its log file, the mapping and every invocation report. */
async function startProbe(
  streamArn: string,
  env: Record<string, string>,
  options: Partial<EventSourceMappingOptions> = {},
): Promise<{ esm: EventSourceMapping; log: () => ProbeLine[]; reports: InvocationReport[] }> {
  const dir = mkdtempSync(join(work, 'run-'));
  const file = join(dir, 'probe.log');
  const reports: InvocationReport[] = [];
  const esm = await startEventSourceMapping({
    source: { type: 'dynamodb-streams', streamArn, clientConfig: ddb.clientConfig },
    handlerModule: PROBE,
    environment: { PROBE_LOG: file, PROBE_MARKS: dir, ...env },
    functionLogs: 'ignore',
    pollIntervalMs: 50,
    discoveryIntervalMs: 200,
    retryDelayMs: 20,
    onInvocation: (report) => reports.push(report),
    ...options,
  });
  const log = () =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ProbeLine);
  return { esm, log, reports };
}

describe('event source mapping emulator over DynamoDB Streams', () => {
  it('delivers records of the exact Lambda shape, with no shard id', async () => {
    // arrange
    const { name, streamArn } = await freshTable();
    await put(name, 'a', 1);
    await put(name, 'a', 2);
    await dynamodb.send(new DeleteItemCommand({ TableName: name, Key: { id: { S: 'a' } } }));
    const { esm, log } = await startProbe(streamArn, {});
    // act
    await esm.drained();
    await esm.stop();
    // assert
    const records = log()
      .filter((l) => l.phase === 'start')
      .flatMap((l) => l.event!.Records);
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    for (const record of records) {
      expect(Object.keys(record)).toEqual([
        'eventID',
        'eventName',
        'eventVersion',
        'eventSource',
        'awsRegion',
        'dynamodb',
        'eventSourceARN',
      ]);
      expect(record.eventSource).toBe('aws:dynamodb');
      expect(record.eventSourceARN).toBe(streamArn);
      const change = record.dynamodb as Record<string, unknown>;
      expect(typeof change.ApproximateCreationDateTime).toBe('number');
      expect(change.ApproximateCreationDateTime as number).toBeLessThan(1e11); // seconds, not ms
      expect(change.Keys).toEqual({ id: { S: 'a' } });
      expect(change.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
      expect(typeof change.SequenceNumber).toBe('string');
      expect(typeof change.SizeBytes).toBe('number');
      expect(JSON.stringify(record).toLowerCase()).not.toContain('shard');
    }
    const [insert, modify, remove] = records.map((r) => r.dynamodb as Record<string, unknown>);
    expect(insert).toMatchObject({ NewImage: { id: { S: 'a' }, value: { N: '1' } } });
    expect(insert).not.toHaveProperty('OldImage');
    expect(modify).toMatchObject({
      OldImage: { value: { N: '1' } },
      NewImage: { value: { N: '2' } },
    });
    expect(remove).toMatchObject({ OldImage: { value: { N: '2' } } });
    expect(remove).not.toHaveProperty('NewImage');
  });

  it('runs ParallelizationFactor lanes of one shard concurrently, order kept per key', async () => {
    // arrange: 30 keys, 4 changes each, in one shard
    const { name, streamArn } = await freshTable();
    for (let round = 0; round < 4; round++)
      for (let k = 0; k < 30; k++) await put(name, `k${k}`, round);
    const { esm, log, reports } = await startProbe(
      streamArn,
      { PROBE_SLEEP_MS: '150' },
      { parallelizationFactor: 10, batchSize: 4 },
    );
    // act
    await esm.drained();
    await esm.stop();
    // assert: overlap of invocations of one shard, from the order of the handler's own lines
    const shardOf = new Map(reports.map((r) => [r.firstSequenceNumber, r.shardId]));
    const running = new Map<string, number>();
    let maxPerShard = 0;
    for (const line of log()) {
      const shard = shardOf.get(line.first)!;
      if (line.phase === 'start') running.set(shard, (running.get(shard) ?? 0) + 1);
      if (line.phase === 'end') running.set(shard, running.get(shard)! - 1);
      maxPerShard = Math.max(maxPerShard, running.get(shard) ?? 0);
    }
    expect(new Set(reports.map((r) => r.shardId)).size).toBe(1);
    expect(maxPerShard).toBeGreaterThan(1);
    expect(new Set(reports.map((r) => r.lane)).size).toBeGreaterThan(1);
    const seen = new Map<string, bigint[]>();
    for (const line of log().filter((l) => l.phase === 'start'))
      for (const r of line.records!) seen.set(r.key, [...(seen.get(r.key) ?? []), BigInt(r.seq)]);
    expect(seen.size).toBe(30);
    for (const [key, seqs] of seen) {
      expect(seqs, key).toHaveLength(4);
      expect(
        seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
        key,
      ).toBe(true);
    }
  });

  it('resumes at the lowest item a partial batch response reports', async () => {
    // arrange: ten records in one batch; the handler reports the 6th and the 3rd once
    const { name, streamArn } = await freshTable();
    for (let i = 0; i < 10; i++) await put(name, `r${i}`, i);
    const probe = await startProbe(streamArn, {}, { batchSize: 10 });
    await probe.esm.drained();
    await probe.esm.stop();
    const seqs = probe.log()[0]!.records!.map((r) => r.seq);
    expect(seqs).toHaveLength(10);
    const failing = await startProbe(
      streamArn,
      { PROBE_FAIL_ONCE: `${seqs[5]},${seqs[2]}` },
      { batchSize: 10, functionResponseTypes: ['ReportBatchItemFailures'] },
    );
    // act
    await failing.esm.drained();
    await failing.esm.stop();
    // assert
    const starts = failing.log().filter((l) => l.phase === 'start');
    expect(starts.map((l) => l.records!.map((r) => r.seq))).toEqual([seqs, seqs.slice(2)]);
    expect(failing.log().find((l) => l.phase === 'end')?.failures).toEqual([
      { itemIdentifier: seqs[5] },
      { itemIdentifier: seqs[2] },
    ]);
    expect(failing.esm.stats()).toMatchObject({ invocations: 2, partialFailures: 1, retries: 1 });
  });

  it('bisects a failing batch, retries up to the limit, and parks the poison record', async () => {
    // arrange: eight records, one of them poison (the handler throws on it, always)
    const { name, streamArn } = await freshTable();
    for (let i = 0; i < 8; i++) await put(name, i === 5 ? 'poison' : `r${i}`, i);
    const parked: { record: OnFailureRecord; keys: string[] }[] = [];
    const { esm, log } = await startProbe(
      streamArn,
      { PROBE_POISON: 'poison' },
      {
        batchSize: 8,
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 1,
        onFailure: (record, event) =>
          parked.push({
            record,
            keys: event.Records.map(
              (r) => (r as { dynamodb: { Keys: { id: { S: string } } } }).dynamodb.Keys.id.S,
            ),
          }),
      },
    );
    // act
    await esm.drained();
    await esm.stop();
    // assert: split 8 → 4 → 2 → 1, then one retry of the single poison record, then parked
    expect(parked).toHaveLength(1);
    expect(parked[0]!.keys).toEqual(['poison']);
    const { record } = parked[0]!;
    expect(record.requestContext).toMatchObject({
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 2,
      functionArn: esm.functionArn,
    });
    expect(record.DDBStreamBatchInfo).toMatchObject({ batchSize: 1, streamArn });
    expect(record.DDBStreamBatchInfo!.startSequenceNumber).toBe(
      record.DDBStreamBatchInfo!.endSequenceNumber,
    );
    expect(esm.stats()).toMatchObject({ bisections: 3, recordsDiscarded: 1 });
    // an environment serves one invocation at a time: an end line closes its pid's last start
    const applied: string[] = [];
    const open = new Map<number, ProbeLine>();
    for (const line of log()) {
      if (line.phase === 'start') open.set(line.pid, line);
      if (line.phase === 'end') applied.push(...open.get(line.pid)!.records!.map((r) => r.key));
    }
    expect(new Set(applied)).toEqual(new Set(['r0', 'r1', 'r2', 'r3', 'r4', 'r6', 'r7']));
  });

  it('gathers records for MaximumBatchingWindowInSeconds before invoking', async () => {
    // arrange: five changes written a tenth of a second apart, well inside a 3 s window
    const { name, streamArn } = await freshTable();
    const { esm, reports } = await startProbe(
      streamArn,
      {},
      { batchSize: 100, maximumBatchingWindowInSeconds: 3, startingPosition: 'TRIM_HORIZON' },
    );
    // act
    for (let i = 0; i < 5; i++) {
      await put(name, `w${i}`, i);
      await new Promise((r) => setTimeout(r, 100));
    }
    await esm.drained();
    await esm.stop();
    // assert: one invocation with all five
    expect(reports.map((r) => r.records)).toEqual([5]);
  });

  it('kills an invocation that runs past the timeout and delivers its batch again', async () => {
    // arrange: the first invocation holding "slow" hangs
    const { name, streamArn } = await freshTable();
    await put(name, 'slow', 1);
    const { esm, log } = await startProbe(
      streamArn,
      { PROBE_HANG_ONCE: 'slow' },
      { timeoutMs: 1000 },
    );
    // act
    await esm.drained();
    await esm.stop();
    // assert
    const lines = log();
    const hung = lines.find((l) => l.phase === 'hang')!;
    expect(() => process.kill(hung.pid, 0)).toThrow(); // the environment is gone
    expect(lines.filter((l) => l.phase === 'end')).toHaveLength(1);
    expect(lines.find((l) => l.phase === 'end')!.pid).not.toBe(hung.pid);
    expect(esm.stats()).toMatchObject({ timeouts: 1, retries: 1, invocations: 2, coldStarts: 2 });
  });

  it('delivers successful batches again when the duplicate fault fires (seeded)', async () => {
    // arrange
    const { name, streamArn } = await freshTable();
    for (let i = 0; i < 12; i++) await put(name, `d${i}`, i);
    const { esm, log } = await startProbe(
      streamArn,
      {},
      { batchSize: 2, duplicateBatchProbability: 0.5, seed: 3 },
    );
    // act
    await esm.drained();
    await esm.stop();
    // assert: every batch at least once, some twice in a row, and nothing else repeated
    const firsts = log()
      .filter((l) => l.phase === 'start')
      .map((l) => l.first);
    const distinct = [...new Set(firsts)];
    expect(distinct).toHaveLength(6);
    expect(esm.stats().duplicates).toBeGreaterThan(0);
    expect(firsts.length).toBe(6 + esm.stats().duplicates);
    expect(firsts.filter((f, i) => i > 0 && f === firsts[i - 1]).length).toBe(
      esm.stats().duplicates,
    );
  });

  it('reuses a warm environment: module state survives across invocations', async () => {
    // arrange
    const { name, streamArn } = await freshTable();
    for (let i = 0; i < 5; i++) await put(name, `w${i}`, i);
    const { esm, log } = await startProbe(streamArn, {}, { batchSize: 1 });
    // act
    await esm.drained();
    await esm.stop();
    // assert
    const starts = log().filter((l) => l.phase === 'start');
    expect(starts).toHaveLength(5);
    expect(new Set(starts.map((l) => l.pid)).size).toBe(1);
    expect(starts.map((l) => l.n)).toEqual([1, 2, 3, 4, 5]);
    expect(esm.stats()).toMatchObject({ coldStarts: 1, warmStarts: 5 });
  });
});

describe('event source mapping emulator over Kinesis (kinesalite)', () => {
  let kinesalite: KinesaliteServer;
  let kinesis: KinesisClient;
  beforeAll(async () => {
    kinesalite = await startKinesalite();
    kinesis = new KinesisClient(kinesalite.clientConfig);
  });
  afterAll(async () => {
    kinesis?.destroy();
    await kinesalite?.stop();
  });

  it('follows a SplitShard: Kinesis records, parents before children, per-key order', async () => {
    // arrange
    await kinesis.send(new CreateStreamCommand({ StreamName: 'probe', ShardCount: 1 }));
    for (let i = 0; i < 50; i++) {
      const status = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'probe' }));
      if (status.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const putRound = async (round: number) => {
      for (let k = 0; k < 12; k++)
        await kinesis.send(
          new PutRecordCommand({
            StreamName: 'probe',
            PartitionKey: `p${k}`,
            Data: Buffer.from(JSON.stringify({ k, round })),
          }),
        );
    };
    await putRound(0);
    const dir = mkdtempSync(join(work, 'kinesis-'));
    const file = join(dir, 'probe.log');
    const reports: InvocationReport[] = [];
    const esm = await startEventSourceMapping({
      source: { type: 'kinesis', streamName: 'probe', clientConfig: kinesalite.clientConfig },
      handlerModule: PROBE,
      environment: { PROBE_LOG: file, PROBE_MARKS: dir },
      functionLogs: 'ignore',
      batchSize: 5,
      parallelizationFactor: 3,
      pollIntervalMs: 50,
      discoveryIntervalMs: 200,
      onInvocation: (report) => reports.push(report),
    });
    await esm.drained();
    // act: split the only shard at the middle of the hash space, then write more
    const [parent] = (await kinesis.send(new ListShardsCommand({ StreamName: 'probe' }))).Shards!;
    await kinesis.send(
      new SplitShardCommand({
        StreamName: 'probe',
        ShardToSplit: parent!.ShardId!,
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    for (let i = 0; i < 50; i++) {
      const status = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'probe' }));
      if (status.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await putRound(1);
    await putRound(2);
    await esm.drained();
    await esm.stop();
    // assert
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ProbeLine)
      .filter((l) => l.phase === 'start');
    const record = lines[0]!.event!.Records[0]!;
    expect(Object.keys(record)).toEqual([
      'kinesis',
      'eventSource',
      'eventVersion',
      'eventID',
      'eventName',
      'invokeIdentityArn',
      'awsRegion',
      'eventSourceARN',
    ]);
    const k = record.kinesis as Record<string, unknown>;
    expect(Object.keys(k)).toEqual([
      'kinesisSchemaVersion',
      'partitionKey',
      'sequenceNumber',
      'data',
      'approximateArrivalTimestamp',
    ]);
    expect(record).toMatchObject({
      eventSource: 'aws:kinesis',
      eventName: 'aws:kinesis:record',
      eventID: `${parent!.ShardId}:${k.sequenceNumber as string}`,
      eventSourceARN: esm.eventSourceArn,
    });
    expect(JSON.parse(Buffer.from(k.data as string, 'base64').toString())).toHaveProperty(
      'round',
      0,
    );
    const shardsUsed = new Set(reports.map((r) => r.shardId));
    expect(shardsUsed.size).toBe(3); // the parent and both children
    const rounds = new Map<string, number[]>();
    for (const line of lines)
      for (const [i, r] of line.records!.entries()) {
        const data = JSON.parse(
          Buffer.from(
            (line.event!.Records[i]!.kinesis as { data: string }).data,
            'base64',
          ).toString(),
        ) as { round: number };
        rounds.set(r.key, [...(rounds.get(r.key) ?? []), data.round]);
      }
    expect(rounds.size).toBe(12);
    for (const [key, seen] of rounds) expect(seen, key).toEqual([0, 1, 2]);
    expect(esm.stats().shardsFinished).toBe(1); // the parent; the children stay open
  });
  it('discards a batch older than MaximumRecordAgeInSeconds to the on-failure destination', async () => {
    // arrange: the handler throws on "poison" forever; retries are unlimited, age is not.
    // (On Kinesis the age is exact; DynamoDB Local rounds record times to the minute.)
    await kinesis.send(new CreateStreamCommand({ StreamName: 'aged', ShardCount: 1 }));
    for (let i = 0; i < 50; i++) {
      const status = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'aged' }));
      if (status.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: 'aged',
        Records: ['a1', 'poison', 'a2'].map((key) => ({
          PartitionKey: key,
          Data: Buffer.from(key),
        })),
      }),
    );
    const dir = mkdtempSync(join(work, 'aged-'));
    const parked: OnFailureRecord[] = [];
    const reports: InvocationReport[] = [];
    const esm = await startEventSourceMapping({
      source: { type: 'kinesis', streamName: 'aged', clientConfig: kinesalite.clientConfig },
      handlerModule: PROBE,
      environment: { PROBE_LOG: join(dir, 'probe.log'), PROBE_MARKS: dir, PROBE_POISON: 'poison' },
      functionLogs: 'ignore',
      batchSize: 10,
      maximumRetryAttempts: -1,
      maximumRecordAgeInSeconds: 2,
      pollIntervalMs: 50,
      retryDelayMs: 50,
      onInvocation: (report) => reports.push(report),
      onFailure: (record) => parked.push(record),
    });
    // act
    await esm.drained();
    await esm.stop();
    // assert: retried until too old, then discarded to the destination, none applied (records
    // that cross the age limit a moment apart may go in two parts, as on Lambda)
    expect(parked.length).toBeGreaterThanOrEqual(1);
    expect(parked.every((p) => p.requestContext.condition === 'RecordAgeExceeded')).toBe(true);
    expect(parked.reduce((n, p) => n + p.KinesisBatchInfo!.batchSize, 0)).toBe(3);
    expect(reports.length).toBeGreaterThan(1);
    expect(reports.every((r) => r.outcome === 'function-error')).toBe(true);
    expect(esm.stats()).toMatchObject({ recordsDiscarded: 3 });
  });
});
