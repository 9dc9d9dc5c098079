/**
 * A raw `node:net` server that plays the server's part byte by byte: it reads
 * the client's request head, answers the handshake by hand (or does not), and
 * writes any bytes. Sockets and the server are closed after the test.
 */
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { acceptKey } from './accept-key.js';
import { onCleanup } from './cleanup.js';

/** A listening raw server. */
export interface RawServer {
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly server: net.Server;
}

/** Starts a raw TCP server on 127.0.0.1, port 0: `onSocket` plays the server's part. */
export async function startRawServer(
  onSocket: (socket: net.Socket) => void,
  options: net.ServerOpts = {},
): Promise<RawServer> {
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

/** Options of {@link readHead}. */
export interface ReadHeadOptions {
  /** Rejects when no whole head arrived within this many ms. */
  readonly timeoutMs?: number;
  /** Pauses the socket after the head, so nothing after it is read before the caller listens. */
  readonly pause?: boolean;
}

/** Reads an HTTP head from `socket`; resolves with its text and the bytes after it. */
export function readHead(
  socket: net.Socket,
  { timeoutMs, pause = false }: ReadHeadOptions = {},
): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => finish(new Error('no complete HTTP head')), timeoutMs);
    const finish = (error: Error | null, result?: { head: string; rest: Buffer }): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (pause) socket.pause();
      if (error) reject(error);
      else resolve(result!);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      finish(null, {
        head: buffered.subarray(0, end).toString('latin1'),
        rest: buffered.subarray(end + 4),
      });
    };
    const onClose = (): void => finish(new Error('connection closed during the handshake'));
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** The `Sec-WebSocket-Key` of a request head ('' when there is none). */
export function keyOf(head: string): string {
  return /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
}

/** The `Sec-WebSocket-Accept` for a request head, computed independently of the code under test. */
export function acceptFor(head: string): string {
  return acceptKey(keyOf(head));
}

/** A 101 answer for `key`, plus `extra` header lines. */
export function response101(key: string, extra: readonly string[] = []): string {
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
    ...extra,
    '',
    '',
  ].join('\r\n');
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
  socket.write(response101(keyOf(request.head), extra));
  return request;
}

/** What a raw server received after the handshake; `until` resolves once `predicate` holds. */
export interface Collected {
  readonly bytes: Buffer;
  until(predicate: (bytes: Buffer) => boolean): Promise<Buffer>;
}

/** Collects what a raw server receives after the handshake. */
export function collect(socket: net.Socket, initial: Buffer = Buffer.alloc(0)): Collected {
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
