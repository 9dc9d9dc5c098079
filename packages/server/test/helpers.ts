/**
 * Test helpers for @proj/server: servers on 127.0.0.1 port 0, `ws` clients as
 * the reference peer; the raw `node:net` client for malformed input and the
 * cleanup registry come from @proj/test-utils. Every server and socket made
 * here is registered for cleanup, which `useCleanup()` runs after each test.
 */
import WebSocket, { type ClientOptions } from 'ws';
import { Opcode } from '@proj/protocol';
import {
  type Authenticate,
  type ServerOptions,
  type ServerSettings,
  WebSocketServer,
} from '@proj/server';
import { nextEmit as nextEvent, onCleanup } from '@proj/test-utils';

export { Opcode };

// ---- cleanup and events (shared with every package: @proj/test-utils) --------

export {
  RawClient,
  type RawFrame,
  type RawResponse,
  type RequestOptions,
  cleanup,
  handshakeRequest,
  acceptKey as expectedAccept,
  nextEmit as nextEvent,
  onCleanup,
  quiet,
  useCleanup,
} from '@proj/test-utils';

/** Records every emission of an event, and waits for a count of them. */
export class Collector<T> {
  readonly items: T[] = [];
  #waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Resolves with the items once there are at least `count`. */
  async until(count: number): Promise<T[]> {
    while (this.items.length < count) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.items;
  }
}

// ---- servers and ws clients ------------------------------------------------

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

/** The next message of a `ws` client, text decoded. */
export async function wsMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = await nextEvent<[Buffer, boolean]>(ws, 'message');
  return { data, isBinary };
}

/** The `close` of a `ws` client. */
export async function wsClose(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
  const [code, reason] = await nextEvent<[number, Buffer]>(ws, 'close');
  return { code, reason: reason.toString() };
}

/** Sends a text message and waits for its echo. */
export async function echo(ws: WebSocket, text: string): Promise<string> {
  const reply = wsMessage(ws);
  ws.send(text);
  return (await reply).data.toString();
}
