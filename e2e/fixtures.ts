/**
 * The fixture every spec uses. `serve()` starts, for the one test:
 * - `@proj/server` (the built package) on 127.0.0.1, port 0: standalone for
 *   `ws:`, attached to its own `node:https` server for `wss:`;
 * - a page server on 127.0.0.1, port 0 (HTTP, or HTTPS with the same
 *   certificate), serving the test page, the page harness and the esbuild
 *   bundle of `@proj/client` made by global-setup.ts (`/client.js`, imported
 *   only by bundle.spec.ts).
 * The page is served from 127.0.0.1 because Chromium refuses to let other
 * origins reach loopback (Local Network Access). Both are torn down after the test.
 *
 * The harness opens every socket with the browser's own `WebSocket`: in a
 * browser bundle `@proj/client` exports that very class, so a spec run "with
 * the bundle" would test the same object twice. bundle.spec.ts checks the one
 * thing the bundle adds, that its import resolves to the native class.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestListener,
  type Server as HttpServer,
  createServer as createHttpServer,
} from 'node:http';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test as base, expect, type Page } from '@playwright/test';
import { type ServerOptions, type ServerWebSocket, WebSocketServer } from '@proj/server';
import { makeTestCertificate } from '@proj/test-utils/certificate';
import { type WireTap, startWireTap } from './wire-tap.js';

export { expect };
export type { WireTap };

/** What the server saw of one message: text in full, binary as size and checksum. */
export interface ReceivedMessage {
  isBinary: boolean;
  size: number;
  sha256: string;
  text: string | undefined;
}

export interface ServerClose {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** One accepted connection, with what it received. */
export interface Peer {
  socket: ServerWebSocket<unknown>;
  request: IncomingMessage;
  messages: ReceivedMessage[];
  /** Resolves once `count` messages arrived; returns them. */
  received(count: number): Promise<ReceivedMessage[]>;
  closed: Promise<ServerClose>;
}

export interface Rejection {
  status: number;
  reason: string;
  headers: IncomingHttpHeaders;
}

export type WsServerOptions = Omit<ServerOptions<unknown>, 'port' | 'host' | 'server' | 'noServer'>;

export interface Env {
  /** The page's origin, e.g. `http://127.0.0.1:40123`. */
  pageOrigin: string;
  /** Where the page connects: `ws://127.0.0.1:PORT/` or `wss://…`. */
  wsUrl: string;
  server: WebSocketServer<unknown>;
  rejected: Rejection[];
  peers: Peer[];
  /** Resolves with the `index`-th accepted connection. */
  peer(index?: number): Promise<Peer>;
  /** Navigates the test's page to the harness page. */
  open(): Promise<void>;
  /**
   * Starts a TCP relay to the WebSocket server that records the frames each
   * way as they cross the wire (ws: only); connect the page to its `url`.
   */
  tap(): Promise<WireTap>;
}

export interface Fixtures {
  /** Serve the page and the WebSocket server over TLS (`https:` / `wss:`), self-signed. */
  tls: boolean;
  /**
   * Starts the servers; options go to `new WebSocketServer` (a function gets
   * the page's origin, for `allowedOrigins`).
   */
  serve(
    options?: WsServerOptions | ((context: { pageOrigin: string }) => WsServerOptions),
  ): Promise<Env>;
}

export const sha256 = (data: Uint8Array | string): string =>
  createHash('sha256').update(data).digest('hex');

function bundles(): { client: string; harness: string } {
  const dir = process.env['PROJ_E2E_BUNDLES'];
  if (!dir)
    throw new Error('PROJ_E2E_BUNDLES is not set: run the suite through playwright.config.ts');
  return {
    client: readFileSync(join(dir, 'client.js'), 'utf8'),
    harness: readFileSync(join(dir, 'harness.js'), 'utf8'),
  };
}

const PAGE = `<!doctype html>
<html lang="en">
  <meta charset="utf-8" />
  <title>@proj e2e</title>
  <script type="module" src="/harness.js"></script>
</html>
`;

function pageHandler(): RequestListener {
  const { client, harness } = bundles();
  const files: Record<string, [string, string]> = {
    '/': ['text/html; charset=utf-8', PAGE],
    '/client.js': ['text/javascript; charset=utf-8', client],
    '/harness.js': ['text/javascript; charset=utf-8', harness],
  };
  return (request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://x').pathname];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  };
}

type Server = HttpServer | HttpsServer;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function stop(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

function track(socket: ServerWebSocket<unknown>, request: IncomingMessage): Peer {
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data, isBinary) => {
    // `data` may be a view into a reused buffer: summarize it now.
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    messages.push({
      isBinary,
      size: bytes.length,
      sha256: sha256(bytes),
      text: typeof data === 'string' ? data : undefined,
    });
    for (const wake of [...waiters]) wake();
  });
  const closed = new Promise<ServerClose>((resolve) =>
    socket.once('close', (code, reason, wasClean) => resolve({ code, reason, wasClean })),
  );
  return {
    socket,
    request,
    messages,
    closed,
    async received(count) {
      while (messages.length < count) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
        });
      }
      return messages.slice(0, count);
    },
  };
}

async function openPage(page: Page, pageOrigin: string): Promise<void> {
  await page.goto(`${pageOrigin}/`);
  await page.waitForFunction(() => window.harness !== undefined);
}

export const test = base.extend<Fixtures>({
  tls: [false, { option: true }],

  serve: async ({ page, tls }, use) => {
    const cleanups: (() => Promise<void> | void)[] = [];

    const credentials = tls ? makeTestCertificate() : undefined;
    const makeServer = (handler?: RequestListener): Server =>
      credentials ? createHttpsServer(credentials, handler) : createHttpServer(handler);

    const serve: Fixtures['serve'] = async (options = {}) => {
      const pageServer = makeServer(pageHandler());
      cleanups.push(() => stop(pageServer));
      const pageOrigin = `${tls ? 'https' : 'http'}://127.0.0.1:${await listen(pageServer)}`;

      const wsOptions = typeof options === 'function' ? options({ pageOrigin }) : options;
      let server: WebSocketServer<unknown>;
      let wsPort: number;
      if (credentials) {
        // Standalone mode is plain HTTP; wss: means attaching to an https server.
        const httpsServer = makeServer();
        cleanups.push(() => stop(httpsServer));
        server = new WebSocketServer<unknown>({ ...wsOptions, server: httpsServer });
        wsPort = await listen(httpsServer);
      } else {
        server = new WebSocketServer<unknown>({ ...wsOptions, port: 0, host: '127.0.0.1' });
        await server.ready();
        wsPort = (server.address() as AddressInfo).port;
      }
      cleanups.unshift(async () => {
        for (const client of server.clients) client.terminate();
        await server.close({ timeout: 0 });
      });

      const peers: Peer[] = [];
      const rejected: Rejection[] = [];
      const waiters = new Set<() => void>();
      server.on('connection', (socket, request) => {
        // These servers are node:http(s): every request is an HTTP/1.1 IncomingMessage.
        peers.push(track(socket, request as IncomingMessage));
        for (const wake of [...waiters]) wake();
      });
      server.on('rejected', (status, reason, request) =>
        rejected.push({ status, reason, headers: request.headers }),
      );

      return {
        pageOrigin,
        wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${wsPort}/`,
        server,
        peers,
        rejected,
        async peer(index = 0) {
          while (peers.length <= index) {
            await new Promise<void>((resolve) => {
              const wake = (): void => {
                waiters.delete(wake);
                resolve();
              };
              waiters.add(wake);
            });
          }
          return peers[index]!;
        },
        open: () => openPage(page, pageOrigin),
        async tap() {
          if (tls) throw new Error('tap() relays ws: only: TLS would hide the frames');
          const tap = await startWireTap(wsPort);
          cleanups.unshift(() => tap.close());
          return tap;
        },
      };
    };

    await use(serve);

    for (const cleanup of cleanups) await cleanup();
  },
});
