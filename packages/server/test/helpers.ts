/**
 * Test helpers for @proj/server: servers on 127.0.0.1 port 0, `ws` clients as
 * the reference peer, and a raw `node:net` client for malformed input. Every
 * server and socket made here is registered for {@link cleanup}, which
 * {@link useCleanup} runs after each test, so vitest exits cleanly.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Socket, connect as netConnect } from 'node:net';
import { afterAll, afterEach, expect } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import { FrameParser, Opcode, WEBSOCKET_GUID, encodeFrame } from '@proj/protocol';
import { type ServerOptions, WebSocketServer } from '@proj/server';

export { Opcode };

// ---- cleanup -------------------------------------------------------------

const cleanups: Array<() => unknown> = [];
const uncaught: unknown[] = [];
const recordUncaught = (error: unknown): void => void uncaught.push(error);

/** Registers `fn` to run after the current test (last registered runs first). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** Runs every registered cleanup: clients first, then servers. */
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // A cleanup failing must not hide the test's own result.
    }
  }
}

/**
 * Call at the top of a test file: cleans up after each test and fails the
 * test if anything reached `uncaughtException` / `unhandledRejection`.
 */
export function useCleanup(): void {
  process.on('uncaughtException', recordUncaught);
  process.on('unhandledRejection', recordUncaught);
  afterEach(async () => {
    await cleanup();
    const errors = uncaught.splice(0);
    expect(errors, 'no uncaught exception or unhandled rejection').toEqual([]);
  });
  afterAll(() => {
    process.off('uncaughtException', recordUncaught);
    process.off('unhandledRejection', recordUncaught);
  });
}

// ---- events --------------------------------------------------------------

/** Anything with `once` (typed emitters included). */
interface Emitter {
  once(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * The arguments of the next `event`. Unlike `events.once` it adds no `error`
 * listener: the server emits `error` only when someone listens.
 */
export function nextEvent<Args extends unknown[] = unknown[]>(
  emitter: Emitter,
  event: string,
): Promise<Args> {
  return new Promise((resolve) =>
    emitter.once(event, (...args: unknown[]) => resolve(args as Args)),
  );
}

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

/** Resolves after `ms`; only for "nothing happens within X ms" checks. */
export function quiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- servers and ws clients ------------------------------------------------

/** A standalone server on an ephemeral port. */
export interface Started<Data> {
  server: WebSocketServer<Data>;
  port: number;
  url: string;
}

type StandaloneOptions<Data> = Omit<ServerOptions<Data>, 'port' | 'server' | 'noServer'>;

/** Starts a standalone server on 127.0.0.1, port 0; closed after the test. */
export async function startServer<Data = undefined>(
  options: StandaloneOptions<Data> = {},
): Promise<Started<Data>> {
  const server = new WebSocketServer<Data>({ ...options, port: 0, host: '127.0.0.1' });
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

// ---- raw sockets -----------------------------------------------------------

/** An HTTP response read off a raw socket. */
export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  head: string;
}

/** One frame the server sent, payload copied. */
export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Options of {@link handshakeRequest}. */
export interface RequestOptions {
  method?: string;
  path?: string;
  version?: string;
  /** Header fields; `undefined` removes one of the defaults. */
  headers?: Record<string, string | undefined>;
}

/** A valid opening handshake request (RFC 6455 §4.1), changed by `options`. */
export function handshakeRequest(options: RequestOptions = {}): { text: string; key: string } {
  const key = randomBytes(16).toString('base64');
  const fields: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...options.headers,
  };
  let text = `${options.method ?? 'GET'} ${options.path ?? '/'} HTTP/${options.version ?? '1.1'}\r\n`;
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) text += `${name}: ${value}\r\n`;
  }
  return { text: text + '\r\n', key };
}

/** The `Sec-WebSocket-Accept` for `key`, computed independently of the server. */
export function expectedAccept(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/** Parses an HTTP response head + body; `undefined` while incomplete. */
function parseResponse(data: Buffer, complete: boolean): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const head = data.subarray(0, end).toString('latin1');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(match[1]);
  const body = data.subarray(end + 4);
  const length = headers['content-length'];
  if (status !== 101 && length === undefined && !complete) return undefined;
  if (length !== undefined && body.length < Number(length)) return undefined;
  return {
    status,
    headers,
    body: status === 101 ? '' : body.toString('utf8'),
    head,
  };
}

/**
 * A raw TCP client: write any bytes, read HTTP responses and then (after a
 * 101) the server's frames, parsed with the protocol's client-side parser so
 * that a masked or malformed frame from the server is caught too.
 */
export class RawClient {
  readonly socket: Socket;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
  /** Resolves when the server half-closed (FIN received). */
  readonly ended: Promise<void>;
  /** Every byte received before frame mode (the HTTP response). */
  data = Buffer.alloc(0);
  readonly frames: RawFrame[] = [];
  /** Set if the server's bytes broke a framing rule. */
  parseError: unknown;
  isClosed = false;
  /** When the socket closed (`performance.now()`). */
  closedAt = 0;
  #parser: FrameParser | undefined;
  #current: { header: Omit<RawFrame, 'payload'>; chunks: Buffer[] } | undefined;
  #read = 0;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.ended = new Promise((resolve) => socket.once('end', resolve));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.closedAt = performance.now();
        this.#notify();
        resolve();
      }),
    );
    onCleanup(() => socket.destroy());
  }

  /** Opens a TCP connection to 127.0.0.1:`port`. */
  static async connect(
    port: number,
    options: { allowHalfOpen?: boolean } = {},
  ): Promise<RawClient> {
    const socket = netConnect({ port, host: '127.0.0.1', ...options });
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return client;
  }

  /** Connects, sends `request` and resolves with the complete response. */
  static async request(port: number, request: string | Buffer): Promise<RawResponse> {
    const client = await RawClient.connect(port);
    client.write(request);
    return client.response();
  }

  /** Connects and completes a valid handshake; frames follow. */
  static async open(
    port: number,
    options: RequestOptions & { allowHalfOpen?: boolean } = {},
  ): Promise<RawClient> {
    const client = await RawClient.connect(port, { allowHalfOpen: options.allowHalfOpen });
    const { text, key } = handshakeRequest(options);
    client.write(text);
    const response = await client.response();
    if (response.status !== 101) throw new Error(`handshake refused: ${response.head}`);
    expect(response.headers['sec-websocket-accept']).toBe(expectedAccept(key));
    return client;
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Sends one frame, masked with a random key unless `mask: false`. */
  sendFrame(
    opcode: number,
    payload: string | Uint8Array = new Uint8Array(0),
    options: { fin?: boolean; rsv1?: boolean; rsv2?: boolean; rsv3?: boolean; mask?: boolean } = {},
  ): void {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const mask = options.mask === false ? undefined : randomBytes(4);
    for (const chunk of encodeFrame(opcode, bytes, { ...options, mask })) this.write(chunk);
  }

  /** Sends a close frame with `code` (and `reason`). */
  sendClose(code?: number, reason = ''): void {
    if (code === undefined) {
      this.sendFrame(Opcode.Close);
      return;
    }
    const body = Buffer.alloc(2 + Buffer.byteLength(reason));
    body.writeUInt16BE(code, 0);
    body.write(reason, 2);
    this.sendFrame(Opcode.Close, body);
  }

  /**
   * Reads the HTTP response. A 101 switches to frame mode: the bytes after its
   * head are frames.
   */
  async response(): Promise<RawResponse> {
    const response = await this.until(() => parseResponse(this.data, this.isClosed));
    if (response.status === 101) {
      const rest = this.data.subarray(this.data.indexOf('\r\n\r\n') + 4);
      this.#startFrames();
      if (rest.length > 0) this.#pushFrames(Buffer.from(rest));
    }
    return response;
  }

  /** The next frame the server sent. Rejects if the socket closes first. */
  async nextFrame(): Promise<RawFrame> {
    const frame = await this.until(() => this.frames[this.#read]);
    this.#read++;
    return frame;
  }

  /** Skips to the server's close frame and returns its code and reason. */
  async closeFrame(): Promise<{ code: number | undefined; reason: string }> {
    for (;;) {
      const frame = await this.nextFrame();
      if (frame.opcode !== Opcode.Close) continue;
      return {
        code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined,
        reason: frame.payload.subarray(2).toString(),
      };
    }
  }

  /**
   * Resolves with the first non-undefined value of `check`, re-checked on each
   * received chunk; rejects if the socket closes without it.
   */
  async until<T>(check: () => T | undefined): Promise<T> {
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.isClosed) throw new Error('socket closed before the expected data arrived');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #onData(chunk: Buffer): void {
    if (this.#parser) this.#pushFrames(chunk);
    else this.data = Buffer.concat([this.data, chunk]);
    this.#notify();
  }

  #pushFrames(chunk: Buffer): void {
    if (this.parseError !== undefined) return;
    try {
      this.#parser!.push(chunk);
    } catch (error) {
      this.parseError = error;
    }
  }

  #startFrames(): void {
    this.#parser = new FrameParser(
      {
        onFrameHeader: (header) => {
          this.#current = {
            header: {
              fin: header.fin,
              rsv: (header.rsv1 ? 4 : 0) | (header.rsv2 ? 2 : 0) | (header.rsv3 ? 1 : 0),
              opcode: header.opcode,
              masked: header.masked,
            },
            chunks: [],
          };
        },
        onFramePayload: (data) => this.#current!.chunks.push(Buffer.from(data)),
        onFrameEnd: () => {
          const { header, chunks } = this.#current!;
          this.frames.push({ ...header, payload: Buffer.concat(chunks) });
          this.#current = undefined;
        },
      },
      { expectMasked: false },
    );
  }
}
