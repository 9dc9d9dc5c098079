/**
 * Test peers on 127.0.0.1, port 0: `ws` as the reference server, raw
 * `node:net` servers for hostile answers, and small awaitable helpers, so no
 * test sleeps where it can wait for an event.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { WebSocketServer, type ServerOptions, type WebSocket as PeerSocket } from 'ws';
import {
  type CloseEvent,
  type ErrorEvent,
  type MessageEvent,
  WebSocket as WebSocketClass,
} from '@proj/client';

type WebSocket = WebSocketClass;

/** Self-signed for localhost and 127.0.0.1, valid for 100 years (openssl req -x509, P-256). */
export const TLS_CERT = readFileSync(new URL('./fixtures/cert.pem', import.meta.url));
export const TLS_KEY = readFileSync(new URL('./fixtures/key.pem', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `cleanup` after the current test, in reverse order of registration. */
export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

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

/** A raw TCP server: `onSocket` plays the server's part byte by byte. */
export async function startRaw(
  onSocket: (socket: net.Socket) => void,
  options: net.ServerOpts = {},
): Promise<{ url: string; port: number; server: net.Server }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(options, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  onCleanup(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${port}`, port, server };
}

/** Reads an HTTP head from `socket`; resolves with its text and the bytes after it. */
export function readHead(socket: net.Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      resolve({
        head: buffered.subarray(0, end).toString('latin1'),
        rest: buffered.subarray(end + 4),
      });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed before the head')));
  });
}

/** The `Sec-WebSocket-Accept` for a request head, computed independently of the code under test. */
export function acceptFor(head: string): string {
  const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
  return createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
}

/**
 * Answers a client's handshake with 101 (plus `extra` header lines), then
 * resolves with the request head and any bytes that followed it.
 */
export async function acceptRaw(
  socket: net.Socket,
  extra: string[] = [],
): Promise<{ head: string; rest: Buffer }> {
  const request = await readHead(socket);
  socket.write(
    [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(request.head)}`,
      ...extra,
      '',
      '',
    ].join('\r\n'),
  );
  return request;
}

/** An unmasked server frame. */
export function frame(opcode: number, payload: Uint8Array | string = '', fin = true): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  if (body.length > 125) throw new Error('test frames are small');
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, body.length]), body]);
}

/** Unmasks the client frames in `bytes` (complete frames only; small payloads). */
export function parseClientFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let offset = 0;
  while (offset + 6 <= bytes.length) {
    const opcode = bytes[offset]! & 0x0f;
    const length = bytes[offset + 1]! & 0x7f;
    if (length > 125) throw new Error('test frames are small');
    const mask = bytes.subarray(offset + 2, offset + 6);
    const payload = Buffer.from(bytes.subarray(offset + 6, offset + 6 + length));
    if (payload.length < length) break;
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    frames.push({ opcode, payload });
    offset += 6 + length;
  }
  return frames;
}

/** Collects what a raw server receives after the handshake; resolves once `predicate` holds. */
export function collect(socket: net.Socket, initial: Buffer = Buffer.alloc(0)) {
  let bytes = initial;
  const waiters: { predicate: (bytes: Buffer) => boolean; resolve: (bytes: Buffer) => void }[] = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      if (waiter.predicate(bytes)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(bytes);
      }
    }
  };
  socket.on('data', (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    check();
  });
  return {
    get bytes(): Buffer {
      return bytes;
    },
    until(predicate: (bytes: Buffer) => boolean): Promise<Buffer> {
      return new Promise((resolve) => {
        waiters.push({ predicate, resolve });
        check();
      });
    },
  };
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

/** Resolves after `turns` trips around the event loop (to show nothing more happens). */
export async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Polls `condition` on each event-loop turn until it holds; `timeout` is only an upper bound. */
export async function until(condition: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
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
