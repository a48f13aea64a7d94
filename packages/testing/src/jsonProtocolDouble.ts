import { createServer, type Server } from 'node:http';
import { freePort, type LocalClientConfig, localClientConfig } from '@shardline/local';

/** One call received by a {@link JsonProtocolDouble}. */
export interface JsonProtocolCall {
  /** The operation, from `x-amz-target` (`DescribeStream`). */
  readonly operation: string;
  /** The parsed JSON request body. */
  readonly input: Record<string, unknown>;
}

/** What the double answers: a JSON body, or an error code in the service's format. */
export type JsonProtocolAnswer =
  | { readonly output: unknown }
  | { readonly error: string; readonly status?: number; readonly message?: string };

/** A running protocol double. */
export interface JsonProtocolDouble {
  readonly endpoint: string;
  /** Client settings with `maxAttempts: 1`. */
  readonly clientConfig: LocalClientConfig;
  /** Every call received, in order. */
  readonly calls: JsonProtocolCall[];
  stop(): Promise<void>;
}

/**
 * A scripted HTTP server that speaks the AWS JSON protocol (awsJson 1.0 for DynamoDB Streams,
 * 1.1 for Kinesis), for API behaviour no local server has: paged `DescribeStream`, `ListShards`
 * with `NextToken`, `ChildShards`. The real SDK client talks to it, so requests and answers go
 * through the SDK's own serializers (this is not a mock of the SDK).
 */
export async function startJsonProtocolDouble(
  service: 'dynamodb-streams' | 'kinesis',
  answer: (call: JsonProtocolCall) => JsonProtocolAnswer,
): Promise<JsonProtocolDouble> {
  const calls: JsonProtocolCall[] = [];
  const contentType =
    service === 'kinesis' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      const text = Buffer.concat(chunks).toString('utf8');
      const call = { operation, input: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
      calls.push(call);
      let result: JsonProtocolAnswer;
      try {
        result = answer(call);
      } catch (error) {
        result = { error: 'InternalFailure', status: 500, message: String(error) };
      }
      const status = 'error' in result ? (result.status ?? 400) : 200;
      const body = JSON.stringify(
        'error' in result
          ? {
              __type:
                service === 'kinesis'
                  ? result.error
                  : `com.amazonaws.dynamodb.v20120810#${result.error}`,
              message: result.message ?? result.error,
            }
          : result.output,
      );
      res.writeHead(status, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    clientConfig: localClientConfig(endpoint, { maxAttempts: 1 }),
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
