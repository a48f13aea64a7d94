/**
 * Guarantees of the worker runtime on DynamoDB Streams, where production differs most from
 * DynamoDB Local: a fleet of three worker processes reads a multi-shard stream (the multi-shard
 * server, fed by DynamoDB Local's own stream, so images and sequence numbers are real) while
 * every shard rolls over and one splits, one worker stops with SIGTERM and comes back with the
 * same id, and another is killed with -9 mid-batch and restarted. Each worker writes the vote
 * recipe's summary through its sink (the contribution ledger), as in production.
 *
 * Properties, for a seeded random workload (inserts, changed votes, deletes, hot keys):
 * - the summary equals a Scan of the Votes table (effects once, whatever was read twice);
 * - every change is applied, and per item, first applications follow the stream order (across
 *   parents and children);
 * - a change is applied again only past the checkpoint the killed worker had committed.
 *
 * The workers read through the fault proxy, which injects seeded bursts of throttling, expired
 * iterators, 5xx and dropped connections.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { canonicalKey, comparePositions, type StreamPosition } from '@shardline/core';
import {
  countVotesByScan,
  createVoteTables,
  readSummary,
  sameTally,
  type Tally,
} from '@shardline/example-vote-aggregation';
import { DynamoDBLeaseStore } from '@shardline/store-dynamodb';
import {
  type DynamoDBLocalServer,
  type FaultProxy,
  type FaultRule,
  type MultiShardStreamsServer,
  startDynamoDBLocal,
  startFaultProxy,
  startMultiShardStreamsServer,
} from '@shardline/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Applied,
  checkApplications,
  type FleetWorker,
  readApplied,
  seeded,
  startFleetWorker,
  until,
} from './helpers/fleet.js';

const USERS = 40;
let dynamo: DynamoDBLocalServer;
let server: MultiShardStreamsServer;
let proxy: FaultProxy;
let ddb: DynamoDBClient;
let dir: string;
const running: FleetWorker[] = [];

beforeAll(async () => {
  dynamo = await startDynamoDBLocal();
  ddb = new DynamoDBClient(dynamo.clientConfig);
  await createVoteTables(ddb, { votesTable: 'Votes', summaryTable: 'VoteSummary' });
  const table = await ddb.send(new DescribeTableCommand({ TableName: 'Votes' }));
  server = await startMultiShardStreamsServer({
    source: dynamo.clientConfig,
    sourceStreamArn: table.Table?.LatestStreamArn ?? '',
    shardCount: 4,
    seed: 5,
  });
  // The workers read the stream through a fault proxy: throttling, expired iterators, 5xx and
  // dropped connections are injected between the rounds.
  proxy = await startFaultProxy({ target: server.endpoint, service: 'dynamodb-streams' });
  dir = mkdtempSync(join(tmpdir(), 'shardline-ddb-fleet-'));
}, 60_000);

afterAll(async () => {
  for (const w of running) w.process.kill('SIGKILL');
  ddb?.destroy();
  await proxy?.stop();
  await server?.close();
  await dynamo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Writes `count` seeded random votes: a quarter of them on four hot users, a fifth deletes.
 * `expected` gets, per item, the values its stream changes carry (`put:<n>` / `del:<n>`).
 */
async function vote(
  random: () => number,
  count: number,
  state: { writes: number; items: Map<string, number> },
  expected: Map<string, string[]>,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const user = random() < 0.25 ? Math.floor(random() * 4) : Math.floor(random() * USERS);
    const marshalled = { UserID: { S: `user-${user}` } };
    const key = canonicalKey(marshalled).replaceAll(' ', '_');
    const values = expected.get(key) ?? [];
    if (random() < 0.2) {
      const n = state.items.get(key);
      await ddb.send(new DeleteItemCommand({ TableName: 'Votes', Key: marshalled }));
      if (n !== undefined) values.push(`del:${n}`); // deleting nothing makes no change
      state.items.delete(key);
    } else {
      const n = state.writes++;
      const choice = ['A', 'B', 'C'][Math.floor(random() * 3)]!;
      await ddb.send(
        new PutItemCommand({
          TableName: 'Votes',
          Item: { ...marshalled, vote: { S: choice }, n: { N: String(n) } },
        }),
      );
      values.push(`put:${n}`);
      state.items.set(key, n);
    }
    expected.set(key, values);
  }
}

/** A seeded burst of read faults: what AWS answers a busy fleet now and then. */
function faults(random: () => number): void {
  const menu: FaultRule['fault'][] = [
    { type: 'throttle' },
    { type: 'expiredIterator' },
    { type: 'serverError' },
    { type: 'drop' },
  ];
  for (let i = 0; i < 3; i++) {
    proxy.inject({
      operation: random() < 0.8 ? 'GetRecords' : 'DescribeStream',
      fault: menu[Math.floor(random() * menu.length)]!,
      times: 1 + Math.floor(random() * 3),
      skip: Math.floor(random() * 5),
    });
  }
}

describe('a worker fleet on a multi-shard DynamoDB stream with rollovers, a split, SIGTERM and kill -9', () => {
  it('ends with the summary equal to a Scan, every change applied, per-key order kept', {
    timeout: 180_000,
  }, async () => {
    // arrange
    const random = seeded(23);
    const out = join(dir, 'votes.log');
    const app = 'votes-fleet';
    const env = {
      SOURCE: 'dynamodb',
      MODE: 'votes',
      DDB_ENDPOINT: dynamo.endpoint,
      STREAMS_ENDPOINT: proxy.endpoint,
      STREAM_ARN: server.streamArn,
      SUMMARY_TABLE: 'VoteSummary',
      APP: app,
      OUT_FILE: out,
      LEASE_MS: '1500',
      DEBUG_WARN: '1',
    };
    const allWorkers: FleetWorker[] = [];
    const start = async (id: string) => {
      const w = startFleetWorker(id, env);
      running.push(w);
      allWorkers.push(w);
      await until(() => w.events.some((e) => e.event === 'started'), 30_000, `${id} started`);
      return w;
    };
    const stop = async (w: FleetWorker) => {
      w.process.kill('SIGTERM');
      return w.exited;
    };
    const store = new DynamoDBLeaseStore({
      client: ddb,
      tableName: app,
      streamId: server.streamArn,
    });
    const state = { writes: 0, items: new Map<string, number>() };
    const expected = new Map<string, string[]>();
    const w1 = await start('w1');
    let [w2, w3] = await Promise.all([start('w2'), start('w3')]);

    // act: votes in rounds, a fault between rounds
    await vote(random, 80, state, expected);
    await until(() => readApplied(out).length >= 30, 60_000, 'first votes applied');
    server.rollover(); // every open shard closes and gets a child
    faults(random);
    await vote(random, 80, state, expected);
    expect(await stop(w2)).toEqual({ code: 0, signal: null }); // SIGTERM: graceful
    w2 = await start('w2'); // same id
    const open = server.shards().filter((s) => s.endingSequenceNumber === undefined);
    server.split(open[Math.floor(random() * open.length)]!.shardId);
    await vote(random, 80, state, expected);
    await until(
      () => readApplied(out).filter((a) => a.worker === 'w3').length >= 10,
      60_000,
      'w3 applied votes',
    );
    w3.process.kill('SIGKILL'); // mid-batch, no release, no final checkpoint
    await w3.exited;
    const killedAt = readApplied(out).length;
    const atDeath = new Map(
      (await store.listLeases())
        .filter((l) => l.leaseOwner === 'w3')
        .map((l) => [l.shardId, l.checkpoint]),
    );
    faults(random);
    await vote(random, 60, state, expected);
    w3 = await start('w3'); // same id: takes back what names it
    server.rollover();
    await vote(random, 60, state, expected);
    await server.sync();
    const changes = server.shards().reduce((n, s) => n + s.recordCount, 0);
    await until(
      () => new Set(readApplied(out).map((a) => `${a.shardId} ${a.seq}`)).size >= changes,
      90_000,
      `all ${changes} changes applied`,
    );
    let summary: Tally = {};
    let scan: Tally = {};
    await until(
      async () => {
        [summary, scan] = await Promise.all([
          readSummary(ddb, 'VoteSummary'),
          countVotesByScan(ddb, 'Votes'),
        ]);
        return sameTally(summary, scan);
      },
      20_000,
      'summary equal to the Scan',
    ).catch(() => undefined); // the assertion below shows the difference
    const exits = await Promise.all([w1, w2, w3].map(stop));

    // assert
    expect(proxy.faulted('*')).toBeGreaterThan(0);
    expect(summary).toEqual(scan);
    expect(Object.values(scan).reduce((a, b) => a + b, 0)).toBe(state.items.size);
    expect(exits.every((e) => e.code === 0)).toBe(true);
    expect(server.shards().length).toBeGreaterThanOrEqual(4 + 4 + 2 + 5);
    const pastDeadCheckpoint = (first: Applied, again: Applied) => {
      if (first.worker !== 'w3' || first.at >= killedAt || again.at < killedAt) return false;
      const checkpoint = atDeath.get(first.shardId);
      if (checkpoint === undefined) return false;
      if (typeof checkpoint === 'string') return checkpoint === 'TRIM_HORIZON';
      return comparePositions({ sequenceNumber: first.seq }, checkpoint as StreamPosition) > 0;
    };
    const result = checkApplications(readApplied(out), expected, pastDeadCheckpoint);
    if (result.badRepeats.length > 0) {
      // What the workers said about their leases, to tell why a record was applied twice.
      const timeline = allWorkers
        .flatMap((w) => w.events.map((e) => ({ w: w.id, ...e })))
        .filter((e) => e.event !== 'started')
        .sort((a, b) => a.at - b.at);
      console.log(JSON.stringify(timeline));
    }
    expect(result.missing).toEqual([]);
    expect(result.outOfOrder).toEqual([]);
    expect(result.badRepeats).toEqual([]);
  });
});
