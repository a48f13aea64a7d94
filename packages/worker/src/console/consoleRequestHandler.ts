import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toError } from '@shardline/core';
import type { ConsoleState } from './ConsoleState.js';

/** Handles one HTTP request if it is the console's; returns false for other paths. */
export type ConsoleRequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/** The page's files, shipped in the package's `console/` folder (no front-end build). */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/console/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

// The page loads only its own script and style and talks only to its own server.
const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const cache = new Map<string, Buffer>();

function asset(file: string): Buffer {
  let body = cache.get(file);
  if (!body) {
    // src/console/*.ts and dist/console/*.js both sit two folders below the package root.
    body = readFileSync(new URL(`../../console/${file}`, import.meta.url));
    cache.set(file, body);
  }
  return body;
}

/**
 * The console's routes: the page at `/console/` and its state as JSON at `/console/api/state`.
 * Read-only: any method other than GET or HEAD is refused (405), and nothing on these routes
 * changes a lease, a checkpoint or a setting. `state` is asked once per state request; the
 * caller caches what is costly (see `LeaseTableView`).
 */
export function consoleRequestHandler(state: () => Promise<ConsoleState>): ConsoleRequestHandler {
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { ...HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain' })
        .end('The console is read-only.\n');
      return true;
    }
    if (path === '/console') {
      response.writeHead(308, { ...HEADERS, location: '/console/' }).end();
      return true;
    }
    if (path === '/console/api/state') {
      state().then(
        (value) =>
          response
            .writeHead(200, { ...HEADERS, 'content-type': 'application/json' })
            .end(JSON.stringify(value)),
        (error: unknown) =>
          response
            .writeHead(503, { ...HEADERS, 'content-type': 'application/json' })
            .end(JSON.stringify({ error: toError(error).message })),
      );
      return true;
    }
    const known = ASSETS[path];
    if (!known) {
      response.writeHead(404, { ...HEADERS, 'content-type': 'text/plain' }).end('not found\n');
      return true;
    }
    response.writeHead(200, { ...HEADERS, 'content-type': known.type }).end(asset(known.file));
    return true;
  };
}
