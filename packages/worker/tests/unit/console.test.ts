import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Lease, ShardInfo } from '@shardline/core';
import { describe, expect, it } from 'vitest';
import {
  buildConsoleState,
  ConsoleHistory,
  consoleRequestHandler,
  defaultHttpHost,
  type LeaseTableSnapshot,
  loadWorkerSettings,
} from '../../src/index.js';

const shard = (shardId: string, parents: string[] = [], ending?: string): ShardInfo => ({
  shardId,
  parentShardIds: parents,
  startingSequenceNumber: '1',
  endingSequenceNumber: ending,
});

const lease = (shardId: string, owner: string | undefined, checkpoint?: Lease['checkpoint']) =>
  ({
    leaseKey: shardId,
    streamId: 'stream-a',
    shardId,
    leaseOwner: owner,
    leaseCounter: 1,
    checkpoint,
    ownerSwitchesSinceCheckpoint: 0,
    parentShardIds: [],
    childShardIds: [],
  }) satisfies Lease;

function snapshot(shards: ShardInfo[], leases: Lease[]): LeaseTableSnapshot {
  return {
    leases,
    workers: [{ workerId: 'w1', leaseCount: 1, heartbeatAgeMs: 120 }],
    shards: new Map([['stream-a', shards]]),
    problems: [],
  };
}

describe('ConsoleHistory', () => {
  it('keeps the newest samples per shard, oldest first, and forgets a shard idle for a window', () => {
    // arrange
    const history = new ConsoleHistory(3);
    // act: five samples of a, b only in the first
    for (let t = 1; t <= 5; t++) {
      const samples = new Map([['a', { lagMs: t * 10, recordsPerSecond: t }]]);
      if (t === 1) samples.set('b', { lagMs: 0, recordsPerSecond: 0 });
      history.add(t, samples);
    }
    // assert
    expect(history.series()).toEqual([
      {
        shardId: 'a',
        points: [
          [3, 30, 3],
          [4, 40, 4],
          [5, 50, 5],
        ],
      },
    ]);
    expect(history.latest('a')).toEqual({ lagMs: 50, recordsPerSecond: 5 });
    expect(history.latest('b')).toBeUndefined();
  });
});

describe('buildConsoleState', () => {
  it('orders the lineage depth first, parents before children, a merged child under its first parent', () => {
    // arrange: p1 split into c1 and c2, which merged into m; r is another root
    const shards = [
      shard('shardId-r'),
      shard('shardId-m', ['shardId-c1', 'shardId-c2']),
      shard('shardId-c2', ['shardId-p1'], '90'),
      shard('shardId-p1', [], '50'),
      shard('shardId-c1', ['shardId-p1'], '80'),
    ];
    const leases = [lease('shardId-p1', undefined, 'SHARD_END'), lease('shardId-m', 'w1')];
    // act
    const state = buildConsoleState({
      application: 'app',
      servedBy: { kind: 'worker', workerId: 'w1' },
      snapshot: snapshot(shards, leases),
      history: new ConsoleHistory(2),
      sampleIntervalMs: 1000,
      lagMeaning: 'test',
    });
    // assert
    expect(state.shards.map((s) => [s.shardId, s.depth, s.status])).toEqual([
      ['shardId-p1', 0, 'closed'],
      ['shardId-c1', 1, 'closed'],
      ['shardId-m', 2, 'active'],
      ['shardId-c2', 1, 'closed'],
      ['shardId-r', 0, 'active'],
    ]);
    expect(state.shards[0]).toMatchObject({ finished: true, checkpoint: 'SHARD_END' });
    expect(state.workers).toEqual([
      {
        workerId: 'w1',
        shardIds: ['shardId-m'],
        publishedLeaseCount: 1,
        heartbeatAgeMs: 120,
        self: true,
      },
    ]);
  });

  it('places a leased shard the stream no longer lists by the parents its lease records', () => {
    // arrange: the parent aged out of the listing but its lease is still there
    const trimmedParent = { ...lease('shardId-old', undefined, 'SHARD_END') };
    const child = { ...lease('shardId-new', 'w1'), parentShardIds: ['shardId-old'] };
    // act
    const state = buildConsoleState({
      application: 'app',
      servedBy: { kind: 'cli' },
      snapshot: snapshot([shard('shardId-new', ['shardId-old'])], [trimmedParent, child]),
      history: new ConsoleHistory(2),
      sampleIntervalMs: 1000,
      lagMeaning: 'test',
    });
    // assert
    expect(state.shards.map((s) => [s.shardId, s.depth])).toEqual([
      ['shardId-old', 0],
      ['shardId-new', 1],
    ]);
  });
});

describe('the HTTP bind address', () => {
  it('is loopback outside a container, all interfaces in ECS or Kubernetes, SHARDLINE_HTTP_HOST when set', () => {
    expect(defaultHttpHost({})).toBe('127.0.0.1');
    expect(defaultHttpHost({ ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/x' })).toBe(
      '0.0.0.0',
    );
    expect(defaultHttpHost({ KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toBe('0.0.0.0');
    expect(
      defaultHttpHost({ SHARDLINE_HTTP_HOST: '::1', ECS_CONTAINER_METADATA_URI_V4: 'x' }),
    ).toBe('::1');
  });

  it('is read from SHARDLINE_HTTP_HOST and validated', () => {
    const env = { SHARDLINE_APPLICATION_NAME: 'app', SHARDLINE_HTTP_HOST: '0.0.0.0' };
    expect(loadWorkerSettings(env).httpHost).toBe('0.0.0.0');
    expect(() =>
      loadWorkerSettings({ SHARDLINE_APPLICATION_NAME: 'app', SHARDLINE_HTTP_HOST: 'a b' }),
    ).toThrow(/SHARDLINE_HTTP_HOST="a b" is invalid/);
  });
});

describe('consoleRequestHandler', () => {
  it('serves the page and its state, refuses writes and leaves other paths alone', async () => {
    // arrange
    const handler = consoleRequestHandler(async () => {
      throw new Error('lease table unreachable');
    });
    const server = createServer((request, response) => {
      if (!handler(request, response)) response.writeHead(418).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // act
      const page = await fetch(`${base}/console/`);
      const script = await fetch(`${base}/console/app.js`);
      const failing = await fetch(`${base}/console/api/state`);
      const put = await fetch(`${base}/console/api/state`, { method: 'PUT' });
      const other = await fetch(`${base}/metrics`);
      // assert
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('Shardline console');
      expect(script.headers.get('content-type')).toContain('javascript');
      expect(failing.status).toBe(503);
      expect(await failing.json()).toEqual({ error: 'lease table unreachable' });
      expect(put.status).toBe(405);
      expect(other.status).toBe(418);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
