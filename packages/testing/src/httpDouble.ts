import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from '@shardline/local';

/** Handles one request of a protocol double; the body is read whole before the call. */
export type DoubleHandler = (
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
) => void | Promise<void>;

/** A protocol double's HTTP server, listening on a loopback port. */
export interface RunningDouble {
  readonly url: string;
  readonly port: number;
  /** Closes the server and every open connection. */
  stop(): Promise<void>;
}

/**
 * Starts an HTTP/1.1 server on a free 127.0.0.1 port for a protocol double. A handler that
 * throws answers 500 with the message, so a bug in a double shows up in the test that hit it.
 */
export async function listenDouble(name: string, handler: DoubleHandler): Promise<RunningDouble> {
  const port = await freePort();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      Promise.resolve()
        .then(() => handler(request, Buffer.concat(chunks), response))
        .catch((error: unknown) => {
          if (response.headersSent) {
            response.destroy();
            return;
          }
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`${name} double failed: ${String(error)}`);
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) =>
      reject(new Error(`${name} double could not listen on 127.0.0.1:${port}: ${error.message}`)),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a JSON response. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}
