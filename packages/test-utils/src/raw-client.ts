/**
 * A raw `node:net` client that plays the client's part byte by byte: any
 * request (valid, malformed or none), any frame, and a record of what the
 * server answered, frames read by the independent {@link FrameDecoder} held
 * to the rules for a server (unmasked, no reserved bits), so a masked or
 * malformed frame from the server is caught too.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { type Socket, connect as netConnect } from 'node:net';
import { expect } from 'vitest';
import { acceptKey, newKey } from './accept-key.js';
import { onCleanup } from './cleanup.js';
import {
  FrameDecoder,
  OP,
  type WireFrame,
  buildFrame,
  closeBody,
  readCloseBody,
} from './frames.js';

/** An HTTP response read off a raw socket. */
export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  head: string;
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
  const key = newKey();
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

/** Header fields of an HTTP head (its first line skipped), names lower-cased. */
export function headerFields(head: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Parses an HTTP response head + body; `undefined` while incomplete. */
function parseResponse(data: Buffer, complete: boolean): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const head = data.subarray(0, end).toString('latin1');
  const statusLine = head.split('\r\n', 1)[0]!;
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
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

/** Options of {@link RawClient.sendFrame}. */
export interface SendOptions {
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** `false` sends the frame unmasked (a client must not). */
  mask?: boolean;
}

/**
 * A raw TCP client: write any bytes, read HTTP responses and then (after a
 * 101) the server's frames. Its socket is destroyed after the test.
 */
export class RawClient {
  readonly socket: Socket;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
  /** Resolves when the server half-closed (FIN received). */
  readonly ended: Promise<void>;
  /** Every byte received before frame mode (the HTTP response). */
  data = Buffer.alloc(0);
  /** Set if the server's bytes broke a framing rule. */
  parseError: unknown;
  isClosed = false;
  /** When the socket closed (`performance.now()`). */
  closedAt = 0;
  #decoder: FrameDecoder | undefined;
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

  /** Every frame received so far, payloads unmasked. */
  get frames(): readonly WireFrame[] {
    return this.#decoder?.frames ?? [];
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

  /** Connects and completes a valid handshake, checking the accept key; frames follow. */
  static async open(
    port: number,
    options: RequestOptions & { allowHalfOpen?: boolean } = {},
  ): Promise<RawClient> {
    const client = await RawClient.connect(port, { allowHalfOpen: options.allowHalfOpen });
    const { text, key } = handshakeRequest(options);
    client.write(text);
    const response = await client.response();
    if (response.status !== 101) throw new Error(`handshake refused: ${response.head}`);
    expect(response.headers['sec-websocket-accept']).toBe(acceptKey(key));
    return client;
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Sends one frame, masked with a random key unless `mask: false`. */
  sendFrame(
    opcode: number,
    payload: string | Uint8Array = new Uint8Array(0),
    options: SendOptions = {},
  ): void {
    const mask = options.mask === false ? undefined : randomBytes(4);
    this.write(buildFrame(opcode, payload, { ...options, mask }));
  }

  /** Sends a close frame with `code` (and `reason`), or an empty one. */
  sendClose(code?: number, reason = ''): void {
    this.sendFrame(OP.Close, code === undefined ? undefined : closeBody(code, reason));
  }

  /**
   * Reads the HTTP response. A 101 switches to frame mode: the bytes after its
   * head are frames.
   */
  async response(): Promise<RawResponse> {
    const response = await this.until(() => parseResponse(this.data, this.isClosed));
    if (response.status === 101) {
      const rest = this.data.subarray(this.data.indexOf('\r\n\r\n') + 4);
      // RSV1 marks compressed messages once permessage-deflate was agreed (RFC 7692 §6).
      const extensions = String(response.headers['sec-websocket-extensions'] ?? '');
      this.#decoder = new FrameDecoder({
        expectMasked: false,
        allowRsv1: /\bpermessage-deflate\b/i.test(extensions),
      });
      if (rest.length > 0) this.#pushFrames(Buffer.from(rest));
    }
    return response;
  }

  /** The next frame the server sent. Rejects if the socket closes first. */
  async nextFrame(): Promise<WireFrame> {
    const frame = await this.until(() => this.frames[this.#read]);
    this.#read++;
    return frame;
  }

  /** Skips to the server's close frame and returns its code and reason. */
  async closeFrame(): Promise<{ code: number | undefined; reason: string }> {
    for (;;) {
      const frame = await this.nextFrame();
      if (frame.opcode === OP.Close) return readCloseBody(frame.payload);
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
    if (this.#decoder) this.#pushFrames(chunk);
    else this.data = Buffer.concat([this.data, chunk]);
    this.#notify();
  }

  #pushFrames(chunk: Buffer): void {
    if (this.parseError !== undefined) return;
    try {
      this.#decoder!.push(chunk);
    } catch (error) {
      this.parseError = error;
    }
  }
}
