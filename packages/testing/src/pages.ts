/**
 * A page server in one line, for the test server's `http` option: the page
 * under test is then served from the WebSocket server's own origin
 * (`http://127.0.0.1:PORT/`), so a browser test needs no second server, no
 * `allowedOrigins`, and nothing that Chromium's Local Network Access rules
 * would stop (a page from another origin reaching loopback).
 */
import type { RequestListener } from 'node:http';

/** A file to serve: its text, or a body with its content type. */
export type PageFile = string | { readonly body: string | Uint8Array; readonly type: string };

/** Content types by extension; a path without one (`/`, `/chat`) is HTML. */
const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  txt: 'text/plain; charset=utf-8',
};

/**
 * A request listener that serves `files` by path (the query is ignored):
 * `200` with the file, never cached; `404` for other paths; `405` for
 * methods other than GET and HEAD. A string's content type comes from the
 * path's extension (a path without one is HTML).
 * @throws {TypeError} for a path that does not start with `/`, or an
 *   extension whose type is not known (give `{ body, type }` for those).
 * @example
 * const server = await startTestServer({
 *   http: servePages({ '/': '<script type="module" src="/app.js"></script>', '/app.js': code }),
 * });
 * await page.goto(server.httpUrl);
 */
export function servePages(files: Readonly<Record<string, PageFile>>): RequestListener {
  const served = new Map<string, { body: string | Uint8Array; type: string }>();
  for (const [path, file] of Object.entries(files)) {
    if (!path.startsWith('/')) {
      throw new TypeError(`servePages() paths start with "/", got ${JSON.stringify(path)}`);
    }
    served.set(path, typeof file === 'string' ? { body: file, type: typeOf(path) } : file);
  }
  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': TYPES['txt']! });
      response.end('Method not allowed');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const file = served.get(path);
    if (!file) {
      response.writeHead(404, { 'content-type': TYPES['txt']! });
      response.end(`Not found: ${path}`);
      return;
    }
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : file.body);
  };
}

function typeOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot === -1) return TYPES['html']!;
  const type = TYPES[name.slice(dot + 1).toLowerCase()];
  if (type === undefined) {
    throw new TypeError(
      `servePages() does not know the content type of ${JSON.stringify(path)}: give { body, type }`,
    );
  }
  return type;
}
