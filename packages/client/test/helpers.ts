/**
 * Test peers on 127.0.0.1, port 0: `ws` as the reference server, raw
 * `node:net` servers for hostile answers (@proj/test-utils), and small
 * awaitable helpers, so no test sleeps where it can wait for an event.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket as PeerSocket } from 'ws';
import {
  type CloseEvent,
  type ErrorEvent,
  type MessageEvent,
  WebSocket as WebSocketClass,
} from '@proj/client';
import {
  type Collected,
  FrameDecoder,
  type RawServer,
  acceptRaw,
  buildFrame,
  collect,
  onCleanup,
  startRawServer,
  useCleanup,
} from '@proj/test-utils';

export {
  acceptFor,
  acceptRaw,
  collect,
  onCleanup,
  readHead,
  startRawServer as startRaw,
  turns,
  until,
} from '@proj/test-utils';

type WebSocket = WebSocketClass;

/** Self-signed for localhost and 127.0.0.1, valid for 100 years (openssl req -x509, P-256). */
export const TLS_CERT = readFileSync(new URL('./fixtures/cert.pem', import.meta.url));
export const TLS_KEY = readFileSync(new URL('./fixtures/key.pem', import.meta.url));

// Every peer and client made here is torn down after each test.
useCleanup({ failOnUncaught: false });

/** A `ws` server and its clients, closed after the test. */
export interface PeerServer {
  readonly wss: WebSocketServer;
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The next connection (or the one already made and not yet taken). */
  connection(): Promise<PeerSocket>;
  /** The last upgrade request's headers. */
  lastRequest(): http.IncomingMessage | undefined;
}

function trackPeers(wss: WebSocketServer): {
  connection(): Promise<PeerSocket>;
  lastRequest(): http.IncomingMessage | undefined;
} {
  const waiting: ((socket: PeerSocket) => void)[] = [];
  const ready: PeerSocket[] = [];
  let request: http.IncomingMessage | undefined;
  wss.on('connection', (socket, req) => {
    request = req;
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else ready.push(socket);
  });
  wss.on('headers', (_headers, req) => {
    request = req;
  });
  return {
    connection: () => {
      const socket = ready.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
    lastRequest: () => request,
  };
}

/** Starts a `ws` WebSocketServer on 127.0.0.1, port 0. */
export async function startPeer(options: Omit<ServerOptions, 'port'> = {}): Promise<PeerServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  onCleanup(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { wss, url: `ws://127.0.0.1:${port}`, port, ...trackPeers(wss) };
}

/** A `ws` server behind `https`, with the fixture certificate. */
export async function startTlsPeer(): Promise<PeerServer> {
  const server = https.createServer({ cert: TLS_CERT, key: TLS_KEY });
  const wss = new WebSocketServer({ server });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  onCleanup(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { wss, url: `wss://127.0.0.1:${port}`, port, ...trackPeers(wss) };
}

/**
 * A raw server that answers every handshake with a valid 101 (with the
 * `headers` lines), then hands `onOpen` the socket and what the client sends
 * from then on.
 */
export function startAccepting(
  onOpen: (socket: net.Socket, received: Collected) => void = () => {},
  headers: string[] = [],
): Promise<RawServer> {
  return startRawServer((socket) => {
    void acceptRaw(socket, headers).then(({ rest }) => onOpen(socket, collect(socket, rest)));
  });
}

/** An unmasked server frame. */
export function frame(opcode: number, payload: Uint8Array | string = '', fin = true): Buffer {
  return Buffer.from(buildFrame(opcode, payload, { fin }));
}

/** The client frames in `bytes`, unmasked (complete frames only). */
export function parseClientFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  return new FrameDecoder().push(bytes).map(({ opcode, payload }) => ({ opcode, payload }));
}

/** The next event of `type` dispatched at `ws`. */
export function nextEvent<K extends 'open' | 'message' | 'error' | 'close'>(
  ws: WebSocket,
  type: K,
): Promise<{ open: Event; message: MessageEvent; error: ErrorEvent; close: CloseEvent }[K]> {
  return new Promise((resolve) => {
    ws.addEventListener(type, (event) => resolve(event as never), { once: true });
  });
}

/** One dispatched event, with the readyState seen by its listener. */
export interface Seen {
  readonly type: string;
  readonly readyState: number;
  readonly event: Event;
}

/**
 * Records every event at `ws`; `closed` resolves on the close event. The
 * record keeps growing, so a test can check nothing follows the close.
 */
export function record(ws: WebSocket): { events: Seen[]; closed: Promise<CloseEvent> } {
  const events: Seen[] = [];
  for (const type of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(type, (event) => {
      events.push({ type, readyState: ws.readyState, event });
    });
  }
  return { events, closed: nextEvent(ws, 'close') };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Closes `ws` if still open and waits for its close event; for cleanup. */
export function closeQuietly(ws: WebSocket): void {
  onCleanup(async () => {
    if (ws.readyState === ws.CLOSED) return;
    const closed = nextEvent(ws, 'close');
    if (ws.readyState !== ws.CLOSING) ws.close();
    await closed;
  });
}

/**
 * A WebSocket that is closed (and awaited) after the test if still open.
 * Its close timeout is 1 s unless given, so that cleanup after a raw server
 * that ignores our close frame stays quick.
 */
export function connect(
  url: string,
  protocols?: string | string[],
  options?: ConstructorParameters<typeof WebSocketClass>[2],
): WebSocket {
  const ws = new WebSocketClass(url, protocols, { closeTimeout: 1000, ...options });
  closeQuietly(ws);
  return ws;
}

/** {@link connect}, then wait for `open`. */
export async function connectOpen(
  url: string,
  protocols?: string | string[],
  options?: ConstructorParameters<typeof WebSocketClass>[2],
): Promise<WebSocket> {
  const ws = connect(url, protocols, options);
  await nextEvent(ws, 'open');
  return ws;
}

/** A `ws` peer (started with `serverOptions`) and an open client connected to it. */
export async function openPair(
  options?: ConstructorParameters<typeof WebSocketClass>[2],
  serverOptions?: Omit<ServerOptions, 'port'>,
): Promise<{ ws: WebSocket; peer: PeerSocket; server: PeerServer }> {
  const server = await startPeer(serverOptions);
  const ws = await connectOpen(server.url, [], options);
  return { ws, peer: await server.connection(), server };
}
