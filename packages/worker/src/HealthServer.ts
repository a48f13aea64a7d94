import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ConsoleRequestHandler } from './console/consoleRequestHandler.js';

/** What the health server asks the worker. */
export interface HealthProbe {
  /** Ready: started, and its leases were renewed recently (within a lease duration). */
  ready(): boolean;
  /** Details for `/readyz`. */
  status(): Record<string, unknown>;
}

/**
 * `/healthz` (the process answers), `/readyz` (the worker renews its leases), `/metrics`
 * (Prometheus text format) and, when given, the console's routes (`/console/`), on node:http —
 * no framework needed for a handful of routes.
 */
export class HealthServer {
  readonly #server: Server;

  constructor(probe: HealthProbe, registry: Registry, console?: ConsoleRequestHandler) {
    this.#server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (console?.(request, response)) return;
      if (path === '/healthz') {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = probe.ready();
        response
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify({ ready, ...probe.status() })}\n`);
      } else if (path === '/metrics') {
        registry.metrics().then(
          (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (error: unknown) => response.writeHead(500).end(String(error)),
        );
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
  }

  /**
   * Listens; resolves with the bound port (useful with port 0).
   * @param host the address to bind; see {@link defaultHttpHost}.
   */
  listen(port: number, host: string = defaultHttpHost()): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }
}

/**
 * Where the worker's HTTP server binds when no host is given: `SHARDLINE_HTTP_HOST` when set;
 * else all interfaces (`0.0.0.0`) inside an ECS task or a Kubernetes pod (their agents set
 * `ECS_CONTAINER_METADATA_URI_V4` / `ECS_CONTAINER_METADATA_URI` and `KUBERNETES_SERVICE_HOST`),
 * where health checks and scrapers reach the container from outside; else loopback
 * (`127.0.0.1`), so a worker on a laptop or a shared host exposes nothing by default.
 */
export function defaultHttpHost(env: Record<string, string | undefined> = process.env): string {
  if (env.SHARDLINE_HTTP_HOST) return env.SHARDLINE_HTTP_HOST;
  const inContainer =
    env.ECS_CONTAINER_METADATA_URI_V4 ||
    env.ECS_CONTAINER_METADATA_URI ||
    env.KUBERNETES_SERVICE_HOST;
  return inContainer ? '0.0.0.0' : '127.0.0.1';
}
