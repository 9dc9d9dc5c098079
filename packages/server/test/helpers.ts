/**
 * Test helpers for @proj/server: servers on 127.0.0.1 port 0, `ws` clients as
 * the reference peer; the raw `node:net` client for malformed input and the
 * cleanup registry come from @proj/test-utils. Every server and socket made
 * here is registered for cleanup, which `useCleanup()` runs after each test.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import {
  type Authenticate,
  type CloseCause,
  type ServerOptions,
  type ServerSettings,
  type ServerWebSocket,
  WebSocketServer,
} from '@proj/server';
import {
  RawClient,
  type RawResponse,
  type RequestOptions,
  handshakeRequest,
  nextEmit,
  onCleanup,
} from '@proj/test-utils';
import { Collector } from './collector.js';

// The integration tests (integration/backpressure-e2e.test.ts) take these from
// here; this package's own tests import them from where they live.
export { Opcode } from '@proj/protocol';
export { RawClient, type RawFrame, nextEmit as nextEvent, useCleanup } from '@proj/test-utils';
export { Collector };

// ---- timing and warnings -------------------------------------------------------

/**
 * How much later than its deadline a timer may fire: CI machines are shared
 * 2-core boxes, so the upper bounds of timing tests are generous.
 */
const SLACK = 3000;

/** Asserts that `elapsed` ms is at least `min` and not much over `deadline` (a busy machine's slack). */
export function expectElapsed(elapsed: number, min: number, deadline: number): void {
  expect(elapsed).toBeGreaterThanOrEqual(min);
  expect(elapsed).toBeLessThan(deadline + SLACK);
}

/** A process warning as Node emits it. */
export type Warning = Error & { code?: string; detail?: string };

/** Collects process warnings with `code` until the test ends. */
export function warningsWithCode(code: string): Collector<Warning> {
  const warnings = new Collector<Warning>();
  const onWarning = (warning: Warning): void => {
    if (warning.code === code) warnings.push(warning);
  };
  process.on('warning', onWarning);
  onCleanup(() => void process.off('warning', onWarning));
  return warnings;
}

// ---- servers and their connections ---------------------------------------------

/** A standalone server on an ephemeral port. */
export interface Started<Data> {
  server: WebSocketServer<Data>;
  port: number;
  url: string;
}

/**
 * Options of a standalone test server. `authenticate` stays optional here
 * whatever `Data` is (inferred from it), unlike `ServerOptions`.
 */
type StandaloneOptions<Data> = Omit<ServerSettings, 'port' | 'server' | 'noServer'> & {
  authenticate?: Authenticate<Data>;
};

/** Starts a standalone server on 127.0.0.1, port 0; closed after the test. */
export async function startServer<Data = undefined>(
  options: StandaloneOptions<Data> = {},
): Promise<Started<Data>> {
  const server = new WebSocketServer<Data>({
    ...options,
    port: 0,
    host: '127.0.0.1',
  } as ServerOptions<Data>);
  onCleanup(() => server.close({ timeout: 100 }));
  await server.ready();
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { server, port: address.port, url: `ws://127.0.0.1:${address.port}` };
}

/** Starts an echo server: text back as text, binary as binary. */
export async function startEchoServer<Data = undefined>(
  options: StandaloneOptions<Data> = {},
): Promise<Started<Data>> {
  const started = await startServer(options);
  started.server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return started;
}

/**
 * Starts `server` (node:http or node:https, for attached mode) on
 * 127.0.0.1:0; it and its connections are closed after the test.
 */
export async function listen(server: HttpServer | HttpsServer): Promise<number> {
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  server.listen(0, '127.0.0.1');
  await nextEmit(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** The arguments of a connection's `close` event. */
export type CloseArgs = [code: number, reason: string, wasClean: boolean, cause: CloseCause];

/** The server's next connection. */
export function nextConnection<Data>(
  server: WebSocketServer<Data>,
): Promise<ServerWebSocket<Data>> {
  return nextEmit<[ServerWebSocket<Data>]>(server, 'connection').then(([socket]) => socket);
}

/** The `close` of `socket`. */
export function closeOf(socket: ServerWebSocket<unknown>): Promise<CloseArgs> {
  return nextEmit<CloseArgs>(socket, 'close');
}

/** The `close` of the server's next connection. */
export function nextConnectionClose<Data>(server: WebSocketServer<Data>): Promise<CloseArgs> {
  return nextConnection(server).then(closeOf);
}

/** Every `error` the server emits (a listener also keeps them from becoming warnings). */
export function serverErrors<Data>(server: WebSocketServer<Data>): Collector<Error> {
  const errors = new Collector<Error>();
  server.on('error', (error) => errors.push(error));
  return errors;
}

// ---- clients -----------------------------------------------------------------

/**
 * A raw client that has written a handshake request (changed by `options`);
 * reading the response is left to the test.
 */
export async function sendHandshake(port: number, options?: RequestOptions): Promise<RawClient> {
  const raw = await RawClient.connect(port);
  raw.write(handshakeRequest(options).text);
  return raw;
}

/** The whole response to a handshake request changed by `options`. */
export function handshakeResponse(port: number, options?: RequestOptions): Promise<RawResponse> {
  return RawClient.request(port, handshakeRequest(options).text);
}

/** Makes a `ws` client, terminated after the test. Stray errors are ignored. */
export function wsClient(
  url: string,
  protocols?: string | string[],
  options?: ClientOptions,
): WebSocket {
  const ws = new WebSocket(url, protocols, options);
  ws.on('error', () => {});
  onCleanup(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  return ws;
}

/** Opens a `ws` client and resolves once it is open; rejects on error. */
export function connectWs(
  url: string,
  protocols?: string | string[],
  options?: ClientOptions,
): Promise<WebSocket> {
  const ws = wsClient(url, protocols, options);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_request, response) =>
      reject(new Error(`unexpected response ${response.statusCode}`)),
    );
  });
}

/** Connects a `ws` client to a started server: the client and the server's side of it. */
export async function connectPair<Data>({
  server,
  url,
}: Started<Data>): Promise<{ ws: WebSocket; socket: ServerWebSocket<Data> }> {
  const connected = nextConnection(server);
  const ws = await connectWs(url);
  return { ws, socket: await connected };
}

/** Opens a raw client on a started server: the client and the server's side of it. */
export async function openRaw<Data>(
  { server, port }: Started<Data>,
  options?: RequestOptions & { allowHalfOpen?: boolean },
): Promise<{ raw: RawClient; socket: ServerWebSocket<Data> }> {
  const connected = nextConnection(server);
  const raw = await RawClient.open(port, options);
  return { raw, socket: await connected };
}

/** A server with `count` connected `ws` clients, and the server's side of each in order. */
export async function serverWithClients(
  count: number,
  options: StandaloneOptions<undefined> = {},
): Promise<Started<undefined> & { clients: WebSocket[]; sockets: ServerWebSocket[] }> {
  const started = await startServer(options);
  const sockets = new Collector<ServerWebSocket>();
  started.server.on('connection', (socket) => sockets.push(socket));
  const clients: WebSocket[] = [];
  for (let i = 0; i < count; i++) clients.push(await connectWs(started.url));
  return { ...started, clients, sockets: (await sockets.until(count)).slice() };
}

/** The next message of a `ws` client, text decoded. */
export async function wsMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = await nextEmit<[Buffer, boolean]>(ws, 'message');
  return { data, isBinary };
}

/** The `close` of a `ws` client. */
export async function wsClose(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
  const [code, reason] = await nextEmit<[number, Buffer]>(ws, 'close');
  return { code, reason: reason.toString() };
}

/** Sends a text message and waits for its echo. */
export async function echo(ws: WebSocket, text: string): Promise<string> {
  const reply = wsMessage(ws);
  ws.send(text);
  return (await reply).data.toString();
}
