import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { type LocalClientConfig, localClientConfig } from './credentials.js';
import { freePort } from './ports.js';

/** The AWS JSON protocol family of the proxied service, which decides the error format. */
export type FaultProxyService = 'dynamodb' | 'dynamodb-streams' | 'kinesis';

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
  | { readonly type: 'drop' };

/** A fault to inject into calls of one operation. */
export interface FaultRule {
  /** The operation, as in the `x-amz-target` header (`GetRecords`), or `*` for any. */
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
  /** The real endpoint (DynamoDB Local, kinesalite). */
  readonly target: string;
  readonly service: FaultProxyService;
  readonly port?: number;
}

interface ActiveRule {
  readonly rule: FaultRule;
  skip: number;
  left: number;
}

/**
 * Starts an HTTP proxy that forwards AWS JSON-protocol calls to a local server and injects
 * faults on demand, by operation name (from `x-amz-target`) and count: throttling and other
 * errors in the service's own JSON error format, 5xx, slow responses and dropped connections.
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
    const targetHeader = String(req.headers['x-amz-target'] ?? '');
    const operation = targetHeader.split('.').pop() || 'unknown';
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
      else {
        sendError(res, options.service, fault);
        return;
      }
    }
    await forward(req, body, res);
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

  function forward(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const upstream = request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
          agent,
        },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
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

/** Writes an error the way the service does (awsJson1_0 for DynamoDB, awsJson1_1 for Kinesis). */
function sendError(res: ServerResponse, service: FaultProxyService, fault: Fault): void {
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
