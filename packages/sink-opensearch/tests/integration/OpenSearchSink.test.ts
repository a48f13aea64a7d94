import { Client } from '@opensearch-project/opensearch';
import {
  BatchProcessor,
  bootstrapRecord,
  ConfigurationError,
  InMemoryFailureDestination,
} from '@shardline/core';
import { type OpenSearchDouble, startOpenSearchDouble } from '@shardline/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpenSearchSink } from '../../src/index.js';
import { change, kinesisChange } from '../helpers/records.js';

const T = 1_731_924_555; // epoch seconds

describe('OpenSearchSink against the OpenSearch double, through the real client', () => {
  let os: OpenSearchDouble;
  let client: Client;

  beforeAll(async () => {
    os = await startOpenSearchDouble();
    client = new Client({ node: os.url });
  });
  afterEach(() => os.clearFailures());
  afterAll(async () => {
    await client.close();
    await os.stop();
  });

  it('indexes new images under the canonical key and deletes on REMOVE', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'basic' });
    const records = [
      change({ keys: { id: 'a' }, newImage: { id: 'a', n: 1 }, approximateCreationDateTime: T }),
      change({ keys: { id: 'b' }, newImage: { id: 'b', n: 2 }, approximateCreationDateTime: T }),
      change({
        keys: { id: 'a' },
        oldImage: { id: 'a', n: 1 },
        newImage: { id: 'a', n: 3 },
        approximateCreationDateTime: T,
      }),
      change({
        keys: { id: 'b' },
        oldImage: { id: 'b', n: 2 },
        approximateCreationDateTime: T + 1,
      }),
    ];
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect([...os.documents('basic').keys()]).toEqual(['id=S:a']);
    expect(os.getDocument('basic', 'id=S:a')?.source).toEqual({ id: 'a', n: 3 });
  });

  it('never lets a replayed or older change overwrite a newer document', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'replay' });
    const v1 = change({
      keys: { id: 'k' },
      newImage: { id: 'k', v: 1 },
      approximateCreationDateTime: T,
    });
    const v2 = change({
      keys: { id: 'k' },
      newImage: { id: 'k', v: 2 },
      approximateCreationDateTime: T,
    });
    const v3 = change({
      keys: { id: 'k' },
      newImage: { id: 'k', v: 3 },
      approximateCreationDateTime: T + 5,
    });
    await sink.write([v1, v2, v3], { attempt: 1 });
    // act: the whole batch again, then the oldest change alone
    const replay = await sink.write([v1, v2, v3], { attempt: 1 });
    const older = await sink.write([v1], { attempt: 1 });
    // assert: 409s are successes, and the document is the newest change
    expect(replay.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(older.map((r) => r.status)).toEqual(['ok']);
    expect(os.getDocument('replay', 'id=S:k')?.source).toEqual({ id: 'k', v: 3 });
  });

  it('keeps a delete: a stale index after it is refused', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'deletes' });
    const put = change({
      keys: { id: 'd' },
      newImage: { id: 'd' },
      approximateCreationDateTime: T,
    });
    const remove = change({
      keys: { id: 'd' },
      oldImage: { id: 'd' },
      approximateCreationDateTime: T,
    });
    await sink.write([put, remove], { attempt: 1 });
    // act
    const results = await sink.write([put], { attempt: 1 });
    // assert
    expect(results[0]?.status).toBe('ok');
    expect(os.getDocument('deletes', 'id=S:d')).toBeUndefined();
  });

  it('writes an item read by a bootstrap only where the index holds nothing of it', async () => {
    // arrange: a stream change at second T; the bootstrap read the item before it, in the same
    // second (its read time alone would not order them), and read two more items
    const sink = new OpenSearchSink({ client, index: 'bootstrap' });
    const scanned = (id: string, v: string) =>
      bootstrapRecord(
        { id: { S: id }, v: { S: v } },
        {
          tableName: 'Users',
          keySchema: ['id'],
          bootstrapId: 'b1',
          shardId: 'scan-0',
          readAtMs: T * 1000 + 999,
        },
      );
    const streamed = change({
      keys: { id: 'a' },
      newImage: { id: 'a', v: 'stream' },
      approximateCreationDateTime: T,
    });
    const put = change({
      keys: { id: 'c' },
      newImage: { id: 'c', v: 'stream' },
      approximateCreationDateTime: T,
    });
    const remove = change({
      keys: { id: 'c' },
      oldImage: { id: 'c' },
      approximateCreationDateTime: T,
    });
    await sink.write([streamed, put, remove], { attempt: 1 });
    // act
    const results = await sink.write(
      [scanned('a', 'scanned'), scanned('b', 'scanned'), scanned('c', 'scanned')],
      {
        attempt: 1,
      },
    );
    // assert: the stream's change kept, the absent item written, the deleted one not revived
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(os.getDocument('bootstrap', 'id=S:a')?.source).toEqual({ id: 'a', v: 'stream' });
    expect(os.getDocument('bootstrap', 'id=S:b')?.source).toEqual({ id: 'b', v: 'scanned' });
    expect(os.getDocument('bootstrap', 'id=S:c')).toBeUndefined();
    // and a later stream change still replaces the bootstrapped document
    await sink.write(
      [
        change({
          keys: { id: 'b' },
          newImage: { id: 'b', v: 'later' },
          approximateCreationDateTime: T + 1,
        }),
      ],
      { attempt: 1 },
    );
    expect(os.getDocument('bootstrap', 'id=S:b')?.source).toEqual({ id: 'b', v: 'later' });
  });

  it('ends on the newest change when Kinesis delivers changes out of order', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'kds' });
    const older = kinesisChange({
      keys: { id: 'x' },
      newImage: { id: 'x', v: 'old' },
      creationMs: T * 1000 + 1,
      kinesisSequenceNumber: '49590338271490256608559692538361571095921575989136588999',
    });
    const newer = kinesisChange({
      keys: { id: 'x' },
      newImage: { id: 'x', v: 'new' },
      creationMs: T * 1000 + 2,
      kinesisSequenceNumber: '49590338271490256608559692538361571095921575989136588001',
    });
    // act
    await sink.write([newer], { attempt: 1 });
    await sink.write([older], { attempt: 1 });
    // assert
    expect(os.getDocument('kds', 'id=S:x')?.source).toEqual({ id: 'x', v: 'new' });
  });

  it('applies the transform, skips on null, and sets index, routing and pipeline per record', async () => {
    // arrange
    const sink = new OpenSearchSink({
      client,
      index: (r) => `tenant-${String(r.newImage?.tenant ?? r.keys?.tenant)}`,
      transform: (image) => (image.hidden ? null : { title: String(image.title).toUpperCase() }),
      routing: (r) => String(r.keys?.tenant),
      pipeline: (r) => (r.newImage?.enrich ? 'enrich' : undefined),
      documentId: (r) => String(r.keys?.id),
    });
    const records = [
      change({
        keys: { tenant: 't1', id: '1' },
        newImage: { tenant: 't1', id: '1', title: 'a', enrich: true },
      }),
      change({
        keys: { tenant: 't1', id: '2' },
        newImage: { tenant: 't1', id: '2', title: 'b', hidden: true },
      }),
      change({ keys: { tenant: 't2', id: '3' }, newImage: { tenant: 't2', id: '3', title: 'c' } }),
    ];
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(os.getDocument('tenant-t1', '1')).toMatchObject({
      source: { title: 'A' },
      routing: 't1',
      pipeline: 'enrich',
    });
    expect(os.getDocument('tenant-t1', '2')).toBeUndefined();
    expect(os.getDocument('tenant-t2', '3')).toMatchObject({
      source: { title: 'C' },
      pipeline: undefined,
    });
  });

  it('bounds every _bulk request by action count and by bytes', async () => {
    // arrange
    const before = os.bulkRequests.length;
    const sink = new OpenSearchSink({
      client,
      index: 'bounds',
      maxBulkActions: 10,
      maxBulkBytes: 4096,
    });
    const records = Array.from({ length: 45 }, (_, i) =>
      change({
        keys: { id: `r${i}` },
        newImage: { id: `r${i}`, pad: 'x'.repeat(i === 7 ? 3600 : 10) },
      }),
    );
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    const requests = os.bulkRequests.slice(before);
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(os.documents('bounds').size).toBe(45);
    expect(requests.length).toBeGreaterThanOrEqual(6);
    expect(requests.every((r) => r.actions <= 10 && r.bytes <= 4096)).toBe(true);
  });

  it('reports 429 items as retriable and mapping errors as not retriable', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'items' });
    os.injectFailures({ rejectItems: 1, mappingFailure: 'bad' });
    const records = [
      change({ keys: { id: '1' }, newImage: { id: '1' } }),
      change({ keys: { id: '2' }, newImage: { id: '2', bad: 'x' } }),
      change({ keys: { id: '3' }, newImage: { id: '3' } }),
    ];
    // act
    const results = await sink.write(records, { attempt: 1 });
    // assert
    expect(results[0]).toMatchObject({ status: 'failed', retriable: true });
    expect(results[1]).toMatchObject({ status: 'failed', retriable: false });
    expect(results[1]?.status === 'failed' && results[1].error.message).toContain(
      'mapper_parsing_exception',
    );
    expect(results[2]).toEqual({ status: 'ok' });
  });

  it('retries injected 429s through the BatchProcessor until every document is in', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'retry' });
    const processor = new BatchProcessor({
      sink,
      retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 2 },
    });
    os.injectFailures({ rejectItems: 4, unavailableItems: 1 });
    const records = Array.from({ length: 6 }, (_, i) =>
      change({ keys: { id: `q${i}` }, newImage: { id: `q${i}` } }),
    );
    // act
    const result = await processor.process(records);
    // assert
    expect(result.succeeded).toBe(6);
    expect(result.firstNotDone).toBe(-1);
    expect(os.documents('retry').size).toBe(6);
  });

  it('parks mapping failures in the failure destination with the reason, and moves on', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'parked' });
    const failures = new InMemoryFailureDestination();
    const processor = new BatchProcessor({
      sink,
      failureDestination: failures,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    });
    os.injectFailures({ mappingFailure: (source) => source.poison === true });
    const records = [
      change({ keys: { id: 'p1' }, newImage: { id: 'p1' } }),
      change({ keys: { id: 'p2' }, newImage: { id: 'p2', poison: true } }),
      change({ keys: { id: 'p3' }, newImage: { id: 'p3' } }),
    ];
    // act
    const result = await processor.process(records);
    // assert
    expect(result.outcomes.map((o) => o.status)).toEqual(['succeeded', 'parked', 'succeeded']);
    expect(failures.records).toHaveLength(1);
    expect(failures.records[0]).toMatchObject({
      sequenceNumber: records[1]!.sequenceNumber,
      attempts: 1,
      error: { name: 'OpenSearchItemError', retriable: false },
    });
    expect(failures.records[0]?.error.message).toContain('mapper_parsing_exception');
  });

  it('throws a retriable error when the whole bulk request fails, and recovers through the pipeline', async () => {
    // arrange
    const sink = new OpenSearchSink({
      client: new Client({ node: os.url, maxRetries: 0 }),
      index: 'whole',
    });
    const records = [change({ keys: { id: 'w' }, newImage: { id: 'w' } })];
    os.injectFailures({ failRequests: { count: 1, status: 503 } });
    // act
    const thrown = await sink.write(records, { attempt: 1 }).catch((e: unknown) => e);
    os.injectFailures({ failRequests: { count: 1, status: 503 } });
    const result = await new BatchProcessor({
      sink,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    }).process(records);
    // assert
    expect(thrown).toMatchObject({ name: 'ShardlineError', retriable: true });
    expect(result.succeeded).toBe(1);
    expect(os.getDocument('whole', 'id=S:w')).toBeDefined();
  });

  it('is idempotent under a replay through the pipeline with dedup off', async () => {
    // arrange
    const sink = new OpenSearchSink({ client, index: 'pipeline-replay' });
    const processor = new BatchProcessor({ sink, deduper: false });
    const batch = [
      change({ keys: { id: 'z' }, newImage: { id: 'z', v: 1 }, approximateCreationDateTime: T }),
      change({ keys: { id: 'z' }, oldImage: { id: 'z', v: 1 }, approximateCreationDateTime: T }),
      change({ keys: { id: 'z' }, newImage: { id: 'z', v: 2 }, approximateCreationDateTime: T }),
    ];
    // act
    await processor.process(batch);
    const replay = await processor.process([batch[0]!, batch[1]!]);
    // assert
    expect(replay.succeeded).toBe(2);
    expect(os.getDocument('pipeline-replay', 'id=S:z')?.source).toEqual({
      id: 'z',
      v: 2,
    });
  });

  it('fails fast on bad options, naming the value and the fix', () => {
    expect(() => new OpenSearchSink({ client, index: '' })).toThrow(ConfigurationError);
    expect(() => new OpenSearchSink({ client, index: 'i', maxBulkBytes: 10 })).toThrow(
      /maxBulkBytes must be .* got 10/,
    );
    expect(() => new OpenSearchSink({ client, index: 'i', maxBulkActions: 0 })).toThrow(
      /maxBulkActions/,
    );
  });
});
