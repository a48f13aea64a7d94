import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1, found by binding port 0 and closing at once. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `url` answers any HTTP response, polling every 100 ms up to `timeoutMs`. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  isAlive?: () => string | undefined,
): Promise<void> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    const dead = isAlive?.();
    if (dead) throw new Error(dead);
    try {
      const response = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(
    `${url} did not answer within ${timeoutMs} ms (last error: ${String(lastError)})`,
  );
}
