import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What the health server asks the worker. */
export interface HealthProbe {
  /** Ready: started, and its leases were renewed recently (within a lease duration). */
  ready(): boolean;
  /** Details for `/readyz`. */
  status(): Record<string, unknown>;
}

/**
 * `/healthz` (the process answers), `/readyz` (the worker renews its leases) and `/metrics`
 * (Prometheus text format), on node:http — no framework needed for three routes.
 */
export class HealthServer {
  readonly #server: Server;

  constructor(probe: HealthProbe, registry: Registry) {
    this.#server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
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

  /** Listens; resolves with the bound port (useful with port 0). */
  listen(port: number, host = '0.0.0.0'): Promise<number> {
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
