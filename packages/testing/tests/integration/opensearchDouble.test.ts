import { Client } from '@opensearch-project/opensearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenSearchDouble, startOpenSearchDouble } from '../../src/index.js';

interface BulkItem {
  status: number;
  result?: string;
  error?: { type: string; reason: string };
}

/** A pre-serialized NDJSON body: the transport sends strings as they are. */
function ndjson(text: string): Parameters<Client['bulk']>[0]['body'] {
  return text as unknown as Parameters<Client['bulk']>[0]['body'];
}

type ErrorMeta = { statusCode: number; body: { error: { type: string } } };

function items(body: unknown): BulkItem[] {
  return (body as { items: Record<string, BulkItem>[] }).items.map((i) => Object.values(i)[0]!);
}

describe('OpenSearch double through @opensearch-project/opensearch', () => {
  let os: OpenSearchDouble;
  let client: Client;

  beforeAll(async () => {
    os = await startOpenSearchDouble();
    client = new Client({ node: os.url });
  });
  afterAll(async () => {
    await client.close();
    await os.stop();
  });

  it('answers info, index create and HEAD', async () => {
    // act
    const info = await client.info();
    const created = await client.indices.create({ index: 'movies' });
    const exists = await client.indices.exists({ index: 'movies' });
    const missing = await client.indices.exists({ index: 'nope' });
    // assert
    expect(info.body.version.distribution).toBe('opensearch');
    expect(created.body.acknowledged).toBe(true);
    expect(exists.body).toBe(true);
    expect(missing.body).toBe(false);
  });

  it('indexes and deletes with external versions, 201/200/404 as OpenSearch', async () => {
    // act
    const response = await client.bulk({
      body: [
        { index: { _index: 'v', _id: 'a', version: 5, version_type: 'external' } },
        { title: 'first' },
        { index: { _index: 'v', _id: 'a', version: 6, version_type: 'external' } },
        { title: 'second' },
        { delete: { _index: 'v', _id: 'missing', version: 1, version_type: 'external' } },
        { delete: { _index: 'v', _id: 'a', version: 7, version_type: 'external' } },
      ],
    });
    // assert
    expect(response.body.errors).toBe(false);
    expect(items(response.body).map((i) => [i.status, i.result])).toEqual([
      [201, 'created'],
      [200, 'updated'],
      [404, 'not_found'],
      [200, 'deleted'],
    ]);
    expect(os.getDocument('v', 'a')).toBeUndefined();
  });

  it('rejects a version not above the stored one with 409, and a stale index after a delete', async () => {
    // arrange
    await client.bulk({
      body: [
        { index: { _index: 'c', _id: 'k', version: 10, version_type: 'external' } },
        { n: 1 },
        { delete: { _index: 'c', _id: 'd', version: 20, version_type: 'external' } },
      ],
    });
    // act
    const response = await client.bulk({
      body: [
        { index: { _index: 'c', _id: 'k', version: 10, version_type: 'external' } },
        { n: 2 },
        { index: { _index: 'c', _id: 'd', version: 19, version_type: 'external' } },
        { n: 3 },
        { index: { _index: 'c', _id: 'k', version: 10, version_type: 'external_gte' } },
        { n: 4 },
      ],
    });
    // assert
    expect(response.body.errors).toBe(true);
    const [same, afterDelete, gte] = items(response.body);
    expect(same?.status).toBe(409);
    expect(same?.error?.type).toBe('version_conflict_engine_exception');
    expect(same?.error?.reason).toContain(
      'current version [10] is higher or equal to the one provided [10]',
    );
    expect(afterDelete?.status).toBe(409);
    expect(gte?.status).toBe(200);
    expect(os.getDocument('c', 'k')?.source).toEqual({ n: 4 });
    expect(os.getDocument('c', 'd')).toBeUndefined();
  });

  it('forgets a delete after gc_deletes, as OpenSearch does', async () => {
    // arrange
    const short = await startOpenSearchDouble({ gcDeletesMs: 0 });
    const shortClient = new Client({ node: short.url });
    await shortClient.bulk({
      body: [{ delete: { _index: 'g', _id: 'x', version: 9, version_type: 'external' } }],
    });
    // act
    const response = await shortClient.bulk({
      body: [{ index: { _index: 'g', _id: 'x', version: 3, version_type: 'external' } }, { n: 1 }],
    });
    // assert
    expect(items(response.body)[0]?.status).toBe(201);
    await shortClient.close();
    await short.stop();
  });

  it('keeps 63-bit versions exact and rejects one beyond Long.MAX_VALUE with 400', async () => {
    // arrange
    const max = '9223372036854775807';
    const body = `{"index":{"_index":"big","_id":"1","version":${max},"version_type":"external"}}\n{"n":1}\n`;
    // act
    const ok = await client.bulk({ body: ndjson(body) });
    const tooBig = await client
      .bulk({
        body: ndjson(
          `{"index":{"_index":"big","_id":"2","version":9223372036854775808,"version_type":"external"}}\n{"n":1}\n`,
        ),
      })
      .catch((error: { meta: ErrorMeta }) => error.meta);
    const negative = await client
      .bulk({
        body: [{ index: { _index: 'big', _id: '3', version: -1, version_type: 'external' } }, {}],
      })
      .catch((error: { meta: ErrorMeta }) => error.meta);
    // assert
    expect(ok.body.errors).toBe(false);
    expect(os.getDocument('big', '1')?.version).toBe(BigInt(max));
    expect(tooBig.statusCode).toBe(400);
    expect(negative.statusCode).toBe(400);
    expect((negative.body as ErrorMeta['body']).error.type).toBe(
      'action_request_validation_exception',
    );
  });

  it('injects 429 rejections and mapping failures per item', async () => {
    // arrange
    os.injectFailures({ rejectItems: 1, mappingFailure: 'bad' });
    // act
    const response = await client.bulk({
      body: [
        { index: { _index: 'f', _id: '1' } },
        { ok: true },
        { index: { _index: 'f', _id: '2' } },
        { bad: 'x' },
        { index: { _index: 'f', _id: '3' } },
        { ok: true },
      ],
    });
    os.clearFailures();
    // assert
    expect(items(response.body).map((i) => [i.status, i.error?.type])).toEqual([
      [429, 'es_rejected_execution_exception'],
      [400, 'mapper_parsing_exception'],
      [201, undefined],
    ]);
  });

  it('fails a document whose field type conflicts with the dynamic mapping', async () => {
    // arrange
    await client.index({ index: 'm', id: '1', body: { count: 1 } });
    // act
    const response = await client.bulk({
      body: [{ index: { _index: 'm', _id: '2' } }, { count: 'many' }],
    });
    // assert
    expect(items(response.body)[0]?.error?.type).toBe('mapper_parsing_exception');
  });

  it('gets a document with its routing, and 404 for a missing one', async () => {
    // arrange
    await client.bulk({
      body: [{ index: { _index: 'r', _id: 'x', routing: 'tenant-1', pipeline: 'p' } }, { a: 1 }],
    });
    // act
    const found = await client.get({ index: 'r', id: 'x' });
    const missing = await client
      .get({ index: 'r', id: 'y' })
      .catch((e: { meta: { statusCode: number } }) => e.meta);
    // assert
    expect(found.body._source).toEqual({ a: 1 });
    expect(found.body._routing).toBe('tenant-1');
    expect(os.getDocument('r', 'x')?.pipeline).toBe('p');
    expect(missing.statusCode).toBe(404);
  });
});
