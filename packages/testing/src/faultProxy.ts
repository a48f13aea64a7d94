import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, type LocalClientConfig, localClientConfig } from '@shardline/local';

/**
 * The proxied service, which decides how operations are named and the error format: the AWS
 * JSON protocol (`x-amz-target`) for DynamoDB, DynamoDB Streams and Kinesis; S3's REST protocol
 * (operation from method and query, XML errors) for `s3`.
 */
export type FaultProxyService = 'dynamodb' | 'dynamodb-streams' | 'kinesis' | 's3';

/** What the proxy does to a matching request. */
export type Fault =
  /** The service's throttling error: LimitExceededException (Streams), ProvisionedThroughputExceededException (Kinesis, DynamoDB). */
  | { readonly type: 'throttle' }
  /** ExpiredIteratorException (HTTP 400). */
  | { readonly type: 'expiredIterator' }
  /** TrimmedDataAccessException (HTTP 400). */
  | { readonly type: 'trimmed' }
  /** Any modelled error in the service's JSON error format. */
  | {
      readonly type: 'error';
      readonly code: string;
      readonly status?: number;
      readonly message?: string;
    }
  /** A 5xx with the service's internal error (InternalServerError / InternalFailure). @default status 500 */
  | { readonly type: 'serverError'; readonly status?: number }
  /** Forwards the request after `ms`. */
  | { readonly type: 'delay'; readonly ms: number }
  /** Reads the request, then destroys the connection with no response. */
  | { readonly type: 'drop' }
  /**
   * Forwards the request and lets the service apply it, then destroys the connection instead
   * of returning the response: the call took effect, but the client sees a network error.
   */
  | { readonly type: 'dropResponse' };

/** A fault to inject into calls of one operation. */
export interface FaultRule {
  /**
   * The operation, as in the `x-amz-target` header (`GetRecords`), for S3 the API name
   * (`PutObject`, `GetObject`, `ListObjectsV2`, `UploadPart`, …), or `*` for any.
   */
  readonly operation: string;
  readonly fault: Fault;
  /** How many matching calls get the fault. @default 1 */
  readonly times?: number;
  /** How many matching calls pass through untouched before the fault starts. @default 0 */
  readonly skip?: number;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** The proxy URL: give it as the SDK client's `endpoint`. */
  readonly endpoint: string;
  /**
   * Client settings pointing at the proxy, with `maxAttempts: 1` so every injected fault reaches
   * the code under test instead of being absorbed by the SDK's own retries.
   */
  readonly clientConfig: LocalClientConfig;
  /** Adds a fault rule; rules are matched in the order added. */
  inject(rule: FaultRule): void;
  /** Calls seen for an operation (`*` for all), faulted or not. */
  calls(operation: string): number;
  /** Calls of an operation that received a fault. */
  faulted(operation: string): number;
  /** Removes every rule not yet used up. */
  clear(): void;
  stop(): Promise<void>;
}

/** Options of {@link startFaultProxy}. */
export interface StartFaultProxyOptions {
  /** The real endpoint (DynamoDB Local, kinesalite, s3rver). */
  readonly target: string;
  readonly service: FaultProxyService;
  readonly port?: number;
  /**
   * Called with every forwarded call's operation and raw JSON bodies (wire format), e.g. to
   * capture GetRecords output as fixtures. Buffers each response when set.
   */
  readonly onExchange?: (exchange: {
    readonly operation: string;
    readonly request: string;
    readonly status: number;
    readonly response: string;
  }) => void;
}

interface ActiveRule {
  readonly rule: FaultRule;
  skip: number;
  left: number;
}

/**
 * Starts an HTTP proxy that forwards AWS calls to a local server and injects faults on demand,
 * by operation name (from `x-amz-target`, or S3's method and query) and count: throttling and
 * other errors in the service's own error format, 5xx, slow responses, dropped connections, and
 * responses lost after the service applied the call.
 *
 * Why a proxy and not an SDK mock: the faults travel through the real SDK client (its
 * deserializers, retry classification and `$metadata`), exactly as production ones do.
 *
 * @example
 * const proxy = await startFaultProxy({ target: ddb.endpoint, service: 'dynamodb-streams' });
 * const client = new DynamoDBStreamsClient(proxy.clientConfig);
 * proxy.inject({ operation: 'GetRecords', fault: { type: 'throttle' }, times: 2 });
 */
export async function startFaultProxy(options: StartFaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const rules: ActiveRule[] = [];
  const calls = new Map<string, number>();
  const faulted = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const operation =
      options.service === 's3'
        ? s3Operation(req)
        : String(req.headers['x-amz-target'] ?? '')
            .split('.')
            .pop() || 'unknown';
    bump(calls, operation);
    bump(calls, '*');
    const fault = take(operation);
    if (fault) {
      bump(faulted, operation);
      bump(faulted, '*');
      if (fault.type === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault.type === 'delay') await delay(fault.ms);
      else if (fault.type === 'dropResponse') {
        await forward(req, body, res, operation, true);
        return;
      } else {
        sendError(res, options.service, fault);
        return;
      }
    }
    await forward(req, body, res, operation);
  }

  function take(operation: string): Fault | undefined {
    for (const active of rules) {
      if (active.left <= 0) continue;
      if (active.rule.operation !== operation && active.rule.operation !== '*') continue;
      if (active.skip > 0) {
        active.skip--;
        continue;
      }
      active.left--;
      return active.rule.fault;
    }
    return undefined;
  }

  function forward(
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
    operation: string,
    dropResponse = false,
  ): Promise<void> {
    return new Promise((resolve) => {
      const upstream = request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          // S3 signs the host header (s3rver checks it): keep the one the client signed.
          headers: options.service === 's3' ? req.headers : { ...req.headers, host: target.host },
          agent,
        },
        (upstreamRes) => {
          if (dropResponse) {
            upstreamRes.resume();
            upstreamRes.on('end', () => {
              req.socket.destroy();
              resolve();
            });
            return;
          }
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          if (options.onExchange) {
            const chunks: Buffer[] = [];
            upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
            upstreamRes.on('end', () =>
              options.onExchange?.({
                operation,
                request: body.toString('utf8'),
                status: upstreamRes.statusCode ?? 0,
                response: Buffer.concat(chunks).toString('utf8'),
              }),
            );
          }
          upstreamRes.pipe(res);
          upstreamRes.on('end', resolve);
          upstreamRes.on('error', () => {
            res.destroy();
            resolve();
          });
        },
      );
      upstream.on('error', () => {
        res.destroy();
        resolve();
      });
      upstream.end(body);
    });
  }

  const port = options.port ?? (await freePort());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    clientConfig: localClientConfig(endpoint, { maxAttempts: 1 }),
    inject(rule) {
      rules.push({ rule, skip: rule.skip ?? 0, left: rule.times ?? 1 });
    },
    calls: (operation) => calls.get(operation) ?? 0,
    faulted: (operation) => faulted.get(operation) ?? 0,
    clear() {
      rules.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The S3 API name of a REST request, from its method and query (path-style requests). */
function s3Operation(req: IncomingMessage): string {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const query = url.searchParams;
  const hasKey = url.pathname.split('/').filter(Boolean).length > 1;
  switch (req.method) {
    case 'GET':
      if (!hasKey) return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      return 'GetObject';
    case 'HEAD':
      return hasKey ? 'HeadObject' : 'HeadBucket';
    case 'PUT':
      if (!hasKey) return 'CreateBucket';
      return query.has('uploadId') ? 'UploadPart' : 'PutObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      return query.has('delete') ? 'DeleteObjects' : 'PostObject';
    case 'DELETE':
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return 'unknown';
  }
}

/** Writes an S3 REST error (XML): SlowDown 503 for throttling, InternalError 500 for 5xx. */
function sendS3Error(res: ServerResponse, fault: Fault): void {
  let code: string;
  let status: number;
  switch (fault.type) {
    case 'throttle':
      [code, status] = ['SlowDown', 503];
      break;
    case 'serverError':
      [code, status] = ['InternalError', fault.status ?? 500];
      break;
    case 'error':
      [code, status] = [fault.code, fault.status ?? 400];
      break;
    default:
      throw new Error(
        `The fault ${fault.type} has no S3 error; use throttle, serverError or error.`,
      );
  }
  const payload = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code} (injected by the fault proxy).</Message><RequestId>fault-proxy-${Date.now()}</RequestId></Error>`;
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(payload),
    'x-amz-request-id': `fault-proxy-${Date.now()}`,
  });
  res.end(payload);
}

/** Writes an error the way the service does (awsJson1_0 for DynamoDB, awsJson1_1 for Kinesis, XML for S3). */
function sendError(res: ServerResponse, service: FaultProxyService, fault: Fault): void {
  if (service === 's3') {
    sendS3Error(res, fault);
    return;
  }
  const kinesis = service === 'kinesis';
  let code: string;
  let status = 400;
  let message: string;
  switch (fault.type) {
    case 'throttle':
      code =
        service === 'dynamodb-streams'
          ? 'LimitExceededException'
          : 'ProvisionedThroughputExceededException';
      message = 'Rate exceeded (injected by the fault proxy).';
      break;
    case 'expiredIterator':
      code = 'ExpiredIteratorException';
      message = 'Iterator expired (injected by the fault proxy).';
      break;
    case 'trimmed':
      code = 'TrimmedDataAccessException';
      message = 'The requested data was trimmed (injected by the fault proxy).';
      break;
    case 'serverError':
      code = kinesis ? 'InternalFailure' : 'InternalServerError';
      status = fault.status ?? 500;
      message = 'Internal server error (injected by the fault proxy).';
      break;
    case 'error':
      code = fault.code;
      status = fault.status ?? 400;
      message = fault.message ?? `${fault.code} (injected by the fault proxy).`;
      break;
    default:
      throw new Error(`not an error fault: ${fault.type}`);
  }
  const type = kinesis ? code : `com.amazonaws.dynamodb.v20120810#${code}`;
  const payload = JSON.stringify({ __type: type, message });
  res.writeHead(status, {
    'content-type': kinesis ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': `fault-proxy-${Date.now()}`,
  });
  res.end(payload);
}
