import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenDouble, sendJson } from './httpDouble.js';

/** The largest external version OpenSearch accepts: a Java `long`. */
export const OPENSEARCH_MAX_VERSION = 9_223_372_036_854_775_807n;

/** How long OpenSearch keeps a delete's version by default (`index.gc_deletes`), in ms. */
export const DEFAULT_GC_DELETES_MS = 60_000;

/** A document as the double stores it. */
export interface StoredDocument {
  readonly id: string;
  readonly source: Record<string, unknown>;
  /** The document's version, exact (external versions exceed 2^53). */
  readonly version: bigint;
  readonly routing: string | undefined;
  /** The ingest pipeline named for the write, if any (the double runs none). */
  readonly pipeline: string | undefined;
}

/** Failures to inject into the next `_bulk` items. */
export interface OpenSearchFailureInjection {
  /** Reject this many of the next index/create/delete items with 429 `es_rejected_execution_exception`. */
  readonly rejectItems?: number;
  /** Answer this many of the next items with a 503 `unavailable_shards_exception`. */
  readonly unavailableItems?: number;
  /** Fail this many of the next `_bulk` requests whole, with this HTTP status (429 or 5xx). */
  readonly failRequests?: { readonly count: number; readonly status: number };
  /**
   * Documents that fail mapping with 400 `mapper_parsing_exception`: a predicate on the source,
   * or a field name whose presence fails it. Stays in force until `clearFailures`.
   */
  readonly mappingFailure?: ((source: Record<string, unknown>, id: string) => boolean) | string;
}

/** Options of {@link startOpenSearchDouble}. */
export interface OpenSearchDoubleOptions {
  /** How long a delete's version is kept, in ms (`index.gc_deletes`). @default 60_000 */
  readonly gcDeletesMs?: number;
}

/** A running OpenSearch protocol double. */
export interface OpenSearchDouble {
  /** Base URL for `new Client({ node: url })`. */
  readonly url: string;
  /** Live documents of an index, by id (tombstones excluded). */
  documents(index: string): Map<string, StoredDocument>;
  /** One live document, or `undefined`. */
  getDocument(index: string, id: string): StoredDocument | undefined;
  /** The `_bulk` requests received so far, each as its action count and byte size. */
  readonly bulkRequests: readonly { readonly actions: number; readonly bytes: number }[];
  /** Adds failures to inject; counts add up with what is still pending. */
  injectFailures(injection: OpenSearchFailureInjection): void;
  /** Drops every pending injected failure. */
  clearFailures(): void;
  stop(): Promise<void>;
}

interface Entry {
  source: Record<string, unknown>;
  version: bigint;
  seqNo: number;
  routing: string | undefined;
  pipeline: string | undefined;
  /** Set for a tombstone: when the delete happened (epoch ms). */
  deletedAt: number | undefined;
}

interface IndexState {
  readonly entries: Map<string, Entry>;
  /** Dynamic mapping of top-level fields: the first value's kind fixes the field's type. */
  readonly mapping: Map<string, FieldKind>;
  seqNo: number;
}

type FieldKind = 'number' | 'text' | 'boolean' | 'object';

type VersionType = 'internal' | 'external' | 'external_gte';

interface BulkAction {
  readonly op: 'index' | 'create' | 'delete';
  readonly index: string;
  readonly id: string | undefined;
  readonly version: bigint | undefined;
  readonly versionType: VersionType;
  readonly routing: string | undefined;
  readonly pipeline: string | undefined;
  readonly source: Record<string, unknown> | undefined;
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
  ) {
    super(reason);
  }
}

const VERSION_TYPES = new Set<string>(['internal', 'external', 'external_gte']);
const MAX_ID_BYTES = 512;

/**
 * Starts an OpenSearch protocol double: a real HTTP server on a loopback port that answers what
 * `@opensearch-project/opensearch` and the OpenSearch sink use, as OpenSearch documents it:
 * `GET /`, index create/HEAD/delete, `_bulk` (NDJSON; index, create, delete; external versions),
 * `GET /{index}/_doc/{id}` and `_refresh`.
 *
 * Versioning follows OpenSearch: with `version_type: external` a write is applied only when its
 * version is greater than the stored one (`external_gte`: greater or equal), otherwise the item
 * fails with 409 `version_conflict_engine_exception`; a delete keeps its version as a tombstone for
 * `gcDeletesMs`, so a stale index after it is rejected; versions are 63-bit and validated as
 * OpenSearch does (a bad version fails the whole request with 400). Writes are visible at once
 * (refresh is a no-op), and ingest pipelines are recorded, not run.
 *
 * @example
 * const os = await startOpenSearchDouble();
 * const client = new Client({ node: os.url });
 * os.injectFailures({ rejectItems: 2 }); // the next two bulk items get 429
 */
export async function startOpenSearchDouble(
  options: OpenSearchDoubleOptions = {},
): Promise<OpenSearchDouble> {
  const gcDeletesMs = options.gcDeletesMs ?? DEFAULT_GC_DELETES_MS;
  const indices = new Map<string, IndexState>();
  const bulkRequests: { actions: number; bytes: number }[] = [];
  let rejectItems = 0;
  let unavailableItems = 0;
  let failRequests: { count: number; status: number } | undefined;
  let mappingFailure: OpenSearchFailureInjection['mappingFailure'];

  const ensureIndex = (name: string): IndexState => {
    let state = indices.get(name);
    if (!state) {
      state = { entries: new Map(), mapping: new Map(), seqNo: 0 };
      indices.set(name, state);
    }
    return state;
  };

  const live = (entry: Entry | undefined): Entry | undefined =>
    entry && entry.deletedAt === undefined ? entry : undefined;

  /** The version a new write is compared against: a live doc's, or a tombstone's while kept. */
  const currentVersion = (entry: Entry | undefined): bigint | undefined => {
    if (!entry) return undefined;
    if (entry.deletedAt === undefined) return entry.version;
    return Date.now() - entry.deletedAt < gcDeletesMs ? entry.version : undefined;
  };

  const applyAction = (action: BulkAction): Record<string, unknown> => {
    const base = { _index: action.index, _id: action.id };
    if (rejectItems > 0) {
      rejectItems--;
      return {
        ...base,
        status: 429,
        error: {
          type: 'es_rejected_execution_exception',
          reason: `rejected execution of primary operation [shard_id=[[${action.index}][0]]] on [OpenSearchThreadPoolExecutor[name = node/write, queue capacity = 10000]]`,
        },
      };
    }
    if (unavailableItems > 0) {
      unavailableItems--;
      return {
        ...base,
        status: 503,
        error: {
          type: 'unavailable_shards_exception',
          reason: `[${action.index}][0] primary shard is not active Timeout: [1m]`,
        },
      };
    }
    const state = ensureIndex(action.index);
    const id = action.id ?? `auto-${state.seqNo}`;
    const existing = state.entries.get(id);
    const current = currentVersion(existing);
    const doc = live(existing);
    const shards = { total: 2, successful: 1, failed: 0 };
    const conflict = (reason: string) => ({
      _index: action.index,
      _id: id,
      status: 409,
      error: {
        type: 'version_conflict_engine_exception',
        reason: `[${id}]: version conflict, ${reason}`,
        index: action.index,
        shard: '0',
        index_uuid: 'double',
      },
    });

    if (action.op !== 'delete' && action.source) {
      const failure = mappingFailureOf(state, action.source, id, mappingFailure);
      if (failure) {
        return {
          _index: action.index,
          _id: id,
          status: 400,
          error: { type: 'mapper_parsing_exception', reason: failure },
        };
      }
    }

    let version: bigint;
    if (action.versionType === 'internal') {
      if (action.op === 'create' && doc) {
        return conflict(`document already exists (current version [${doc.version}])`);
      }
      version = (current ?? 0n) + 1n;
    } else {
      version = action.version!;
      if (current !== undefined) {
        const stale = action.versionType === 'external' ? current >= version : current > version;
        if (stale) {
          return conflict(
            `current version [${current}] is ${action.versionType === 'external' ? 'higher or equal to' : 'higher than'} the one provided [${version}]`,
          );
        }
      }
    }
    const seqNo = state.seqNo++;
    if (action.op === 'delete') {
      state.entries.set(id, {
        source: {},
        version,
        seqNo,
        routing: action.routing,
        pipeline: undefined,
        deletedAt: Date.now(),
      });
      return {
        ...base,
        _id: id,
        _version: Number(version),
        result: doc ? 'deleted' : 'not_found',
        _shards: shards,
        _seq_no: seqNo,
        _primary_term: 1,
        status: doc ? 200 : 404,
      };
    }
    recordMapping(state, action.source!);
    state.entries.set(id, {
      source: action.source!,
      version,
      seqNo,
      routing: action.routing,
      pipeline: action.pipeline,
      deletedAt: undefined,
    });
    return {
      ...base,
      _id: id,
      _version: Number(version),
      result: doc ? 'updated' : 'created',
      _shards: shards,
      _seq_no: seqNo,
      _primary_term: 1,
      status: doc ? 200 : 201,
    };
  };

  const bulk = (path: string, query: URLSearchParams, body: Buffer): Record<string, unknown> => {
    const started = Date.now();
    const pathIndex = /^\/([^/_][^/]*)\/_bulk$/.exec(path)?.[1];
    const actions = parseBulk(body.toString('utf8'), {
      index: pathIndex ? decodeURIComponent(pathIndex) : undefined,
      routing: query.get('routing') ?? undefined,
      pipeline: query.get('pipeline') ?? undefined,
    });
    bulkRequests.push({ actions: actions.length, bytes: body.length });
    const items = actions.map((action) => ({ [action.op]: applyAction(action) }));
    const errors = items.some((item) => {
      const result = Object.values(item)[0] as { error?: unknown };
      return result.error !== undefined;
    });
    return { took: Date.now() - started, errors, items };
  };

  const handle = (request: IncomingMessage, body: Buffer, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://double');
    const path = url.pathname;
    const method = request.method ?? 'GET';
    try {
      if (path === '/' && (method === 'GET' || method === 'HEAD')) {
        sendJson(response, 200, {
          name: 'opensearch-double',
          cluster_name: 'shardline-test',
          cluster_uuid: 'double',
          version: {
            distribution: 'opensearch',
            number: '2.19.0',
            build_type: 'tar',
            lucene_version: '9.12.0',
            minimum_wire_compatibility_version: '7.10.0',
            minimum_index_compatibility_version: '7.0.0',
          },
          tagline: 'The OpenSearch Project: https://opensearch.org/',
        });
        return;
      }
      if (/^\/([^/]+\/)?_bulk$/.test(path) && (method === 'POST' || method === 'PUT')) {
        if (failRequests && failRequests.count > 0) {
          failRequests.count--;
          const status = failRequests.status;
          throw new RequestError(
            status,
            status === 429 ? 'es_rejected_execution_exception' : 'internal_server_error',
            status === 429 ? 'rejected execution of coordinating operation' : 'injected failure',
          );
        }
        sendJson(response, 200, bulk(path, url.searchParams, body));
        return;
      }
      if (/^\/([^/]+\/)?_refresh$/.test(path) && (method === 'POST' || method === 'GET')) {
        sendJson(response, 200, { _shards: { total: 2, successful: 1, failed: 0 } });
        return;
      }
      const docMatch = /^\/([^/_][^/]*)\/_doc\/(.+)$/.exec(path);
      if (docMatch && (method === 'PUT' || method === 'POST')) {
        const index = decodeURIComponent(docMatch[1]!);
        const id = decodeURIComponent(docMatch[2]!);
        const meta = JSON.stringify({
          index: {
            _index: index,
            _id: id,
            ...(url.searchParams.has('version_type')
              ? { version_type: url.searchParams.get('version_type') }
              : {}),
            ...(url.searchParams.has('routing')
              ? { routing: url.searchParams.get('routing') }
              : {}),
          },
        });
        const version = url.searchParams.get('version');
        const line = version === null ? meta : `${meta.slice(0, -2)},"version":${version}}}`;
        const [action] = parseBulk(`${line}\n${body.toString('utf8')}\n`, {
          index,
          routing: undefined,
          pipeline: url.searchParams.get('pipeline') ?? undefined,
        });
        const result = applyAction(action!);
        sendJson(
          response,
          result.status as number,
          result.error ? { error: result.error, status: result.status } : result,
        );
        return;
      }
      if (docMatch && (method === 'GET' || method === 'HEAD')) {
        const index = decodeURIComponent(docMatch[1]!);
        const id = decodeURIComponent(docMatch[2]!);
        const state = indices.get(index);
        if (!state) throw indexNotFound(index);
        const entry = live(state.entries.get(id));
        if (!entry) {
          sendJson(response, 404, { _index: index, _id: id, found: false });
          return;
        }
        sendJson(response, 200, {
          _index: index,
          _id: id,
          _version: Number(entry.version),
          _seq_no: entry.seqNo,
          _primary_term: 1,
          ...(entry.routing === undefined ? {} : { _routing: entry.routing }),
          found: true,
          _source: entry.source,
        });
        return;
      }
      const indexMatch = /^\/([^/_][^/]*)$/.exec(path);
      if (indexMatch) {
        const index = decodeURIComponent(indexMatch[1]!);
        if (method === 'HEAD') {
          response.writeHead(indices.has(index) ? 200 : 404, { 'content-length': '0' });
          response.end();
          return;
        }
        if (method === 'PUT') {
          if (indices.has(index)) {
            throw new RequestError(
              400,
              'resource_already_exists_exception',
              `index [${index}/double] already exists`,
            );
          }
          ensureIndex(index);
          sendJson(response, 200, { acknowledged: true, shards_acknowledged: true, index });
          return;
        }
        if (method === 'DELETE') {
          if (!indices.delete(index)) throw indexNotFound(index);
          sendJson(response, 200, { acknowledged: true });
          return;
        }
      }
      throw new RequestError(
        405,
        'invalid_request',
        `Incorrect HTTP method for uri [${path}] and method [${method}] (not implemented by the double)`,
      );
    } catch (error) {
      if (!(error instanceof RequestError)) throw error;
      sendJson(response, error.status, {
        error: {
          root_cause: [{ type: error.type, reason: error.message }],
          type: error.type,
          reason: error.message,
        },
        status: error.status,
      });
    }
  };

  const server = await listenDouble('OpenSearch', handle);
  return {
    url: server.url,
    documents(index) {
      const out = new Map<string, StoredDocument>();
      for (const [id, entry] of indices.get(index)?.entries ?? []) {
        if (entry.deletedAt === undefined) out.set(id, toStored(id, entry));
      }
      return out;
    },
    getDocument(index, id) {
      const entry = live(indices.get(index)?.entries.get(id));
      return entry ? toStored(id, entry) : undefined;
    },
    bulkRequests,
    injectFailures(injection) {
      rejectItems += injection.rejectItems ?? 0;
      unavailableItems += injection.unavailableItems ?? 0;
      if (injection.failRequests) failRequests = { ...injection.failRequests };
      if (injection.mappingFailure !== undefined) mappingFailure = injection.mappingFailure;
    },
    clearFailures() {
      rejectItems = 0;
      unavailableItems = 0;
      failRequests = undefined;
      mappingFailure = undefined;
    },
    stop: server.stop,
  };
}

function toStored(id: string, entry: Entry): StoredDocument {
  return {
    id,
    source: entry.source,
    version: entry.version,
    routing: entry.routing,
    pipeline: entry.pipeline,
  };
}

function indexNotFound(index: string): RequestError {
  return new RequestError(404, 'index_not_found_exception', `no such index [${index}]`);
}

function kindOf(value: unknown): FieldKind | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return kindOf(value.find((v) => v !== null && v !== undefined));
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'object') return 'object';
  return 'text';
}

/** The reason a document fails the index's dynamic mapping (or an injected rule), if it does. */
function mappingFailureOf(
  state: IndexState,
  source: Record<string, unknown>,
  id: string,
  injected: OpenSearchFailureInjection['mappingFailure'],
): string | undefined {
  if (typeof injected === 'string' && injected in source) {
    return `failed to parse field [${injected}] of type [long] in document with id '${id}'. Preview of field's value: '${String(source[injected])}'`;
  }
  if (typeof injected === 'function' && injected(source, id)) {
    return `failed to parse document with id '${id}' (injected mapping failure)`;
  }
  for (const [field, value] of Object.entries(source)) {
    const mapped = state.mapping.get(field);
    const kind = kindOf(value);
    if (!mapped || !kind || mapped === kind) continue;
    // OpenSearch coerces numeric strings into numeric fields and anything into text.
    if (mapped === 'text' && kind !== 'object') continue;
    if (mapped === 'number' && kind === 'text' && Number.isFinite(Number(value))) continue;
    if (mapped === 'object') {
      return `object mapping for [${field}] tried to parse field [${field}] as object, but found a concrete value`;
    }
    return `failed to parse field [${field}] of type [${mapped === 'number' ? 'long' : mapped}] in document with id '${id}'. Preview of field's value: '${JSON.stringify(value)}'`;
  }
  return undefined;
}

function recordMapping(state: IndexState, source: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(source)) {
    const kind = kindOf(value);
    if (kind && !state.mapping.has(field)) state.mapping.set(field, kind);
  }
}

interface BulkDefaults {
  readonly index: string | undefined;
  readonly routing: string | undefined;
  readonly pipeline: string | undefined;
}

/** Parses an NDJSON `_bulk` body; a malformed request throws a 400 as OpenSearch does. */
function parseBulk(text: string, defaults: BulkDefaults): BulkAction[] {
  if (text.length > 0 && !text.endsWith('\n')) {
    throw new RequestError(
      400,
      'illegal_argument_exception',
      'The bulk request must be terminated by a newline [\\n]',
    );
  }
  const lines = text.split('\n');
  lines.pop();
  const actions: BulkAction[] = [];
  const validation: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const header = parseJson(line) as Record<string, Record<string, unknown>>;
    const op = Object.keys(header)[0];
    if (op === 'update') {
      throw new RequestError(400, 'illegal_argument_exception', 'update is not in the double');
    }
    if (op !== 'index' && op !== 'create' && op !== 'delete') {
      throw new RequestError(
        400,
        'illegal_argument_exception',
        `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${op}]`,
      );
    }
    const meta = header[op] ?? {};
    const index = (meta._index as string | undefined) ?? defaults.index;
    if (index === undefined) validation.push('index is missing');
    const id = meta._id === undefined ? undefined : String(meta._id);
    if (id !== undefined && Buffer.byteLength(id) > MAX_ID_BYTES) {
      validation.push(
        `id [${id}] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(id)}`,
      );
    }
    if (op === 'delete' && id === undefined) validation.push('id is missing');
    const versionType = (meta.version_type as string | undefined) ?? 'internal';
    if (!VERSION_TYPES.has(versionType)) {
      throw new RequestError(
        400,
        'illegal_argument_exception',
        `No version type match [${versionType}]`,
      );
    }
    const version = rawVersion(line);
    if (versionType === 'internal' && version !== undefined) {
      validation.push(
        'internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead',
      );
    }
    if (versionType !== 'internal') {
      if (op === 'create') {
        validation.push('create operations only support internal versioning. use index instead');
      } else if (version === undefined || version < 0n) {
        validation.push(
          `illegal version value [${version ?? -3}] for version type [${versionType.toUpperCase()}]`,
        );
      }
    }
    let source: Record<string, unknown> | undefined;
    if (op !== 'delete') {
      const next = lines[++i];
      if (next === undefined || next.trim() === '') {
        throw new RequestError(
          400,
          'illegal_argument_exception',
          `The bulk request must be terminated by a newline [\\n] (no source for action on line ${i})`,
        );
      }
      source = parseJson(next) as Record<string, unknown>;
    }
    actions.push({
      op,
      index: index ?? '',
      id,
      version,
      versionType: versionType as VersionType,
      routing: (meta.routing as string | undefined) ?? defaults.routing,
      pipeline: (meta.pipeline as string | undefined) ?? defaults.pipeline,
      source,
    });
  }
  if (validation.length > 0) {
    throw new RequestError(
      400,
      'action_request_validation_exception',
      `Validation Failed: ${validation.map((v, n) => `${n + 1}: ${v};`).join(' ')}`,
    );
  }
  return actions;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (error) {
    throw new RequestError(
      400,
      'x_content_parse_exception',
      `Failed to parse bulk line: ${String(error)}`,
    );
  }
}

/**
 * The `version` of an action line read from its text, exactly: JSON numbers above 2^53 lose
 * precision in `JSON.parse`, and OpenSearch parses a Java long.
 */
function rawVersion(line: string): bigint | undefined {
  const match = /"version"\s*:\s*(?:"(-?\d+)"|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))/.exec(line);
  if (!match) return undefined;
  const text = match[1] ?? match[2]!;
  if (!/^-?\d+$/.test(text)) {
    throw new RequestError(
      400,
      'illegal_argument_exception',
      `Current token (VALUE_NUMBER_FLOAT) not numeric, can not use numeric value accessors (version [${text}])`,
    );
  }
  const value = BigInt(text);
  if (value > OPENSEARCH_MAX_VERSION || value < -OPENSEARCH_MAX_VERSION - 1n) {
    throw new RequestError(
      400,
      'illegal_argument_exception',
      `Numeric value (${text}) out of range of long (-9223372036854775808 - 9223372036854775807)`,
    );
  }
  return value;
}
