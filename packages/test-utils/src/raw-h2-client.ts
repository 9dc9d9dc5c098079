/**
 * A raw HTTP/2 WebSocket peer (RFC 8441): a `node:http2` client session that
 * sends any extended CONNECT request, reads the response's status and header
 * fields, then writes frames built by hand on the stream and reads the
 * server's frames with the independent {@link FrameDecoder}, held to the
 * rules for a server (unmasked, no reserved bits unless deflate is on).
 * Sessions and streams are destroyed after the test.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  connect as http2Connect,
  constants,
} from 'node:http2';
import { onCleanup } from './cleanup.js';
import {
  FrameDecoder,
  OP,
  type WireFrame,
  buildFrame,
  closeBody,
  readCloseBody,
} from './frames.js';
import type { SendOptions } from './raw-client.js';

/** A response to an extended CONNECT (or any request) on an HTTP/2 stream. */
export interface RawH2Response {
  status: number;
  /** Lower-case names, pseudo-headers left out. */
  headers: Record<string, string>;
}

/** Options of {@link RawH2Session.open}. */
export interface RawH2OpenOptions {
  /** `:path`; default `/`. */
  path?: string;
  /**
   * Header fields, pseudo-headers included: they replace the defaults
   * (`:method CONNECT`, `:protocol websocket`, `:scheme`, `:path`,
   * `:authority`, `sec-websocket-version: 13`); `undefined` removes one.
   */
  headers?: Record<string, string | undefined>;
  /** Allow RSV1 on the server's data frames (permessage-deflate was offered). */
  allowRsv1?: boolean;
}

/**
 * One HTTP/2 connection to a server, for as many WebSocket streams and page
 * requests as a test needs (they share the session, as a browser's do).
 */
export class RawH2Session {
  readonly session: ClientHttp2Session;
  readonly #authority: string;
  readonly #scheme: string;
  readonly #streams = new Set<ClientHttp2Stream>();
  /** Resolves when the session closed. */
  readonly closed: Promise<void>;

  private constructor(session: ClientHttp2Session, authority: string, scheme: string) {
    this.session = session;
    this.#authority = authority;
    this.#scheme = scheme;
    session.on('error', () => {});
    this.closed = new Promise((resolve) => session.once('close', resolve));
    onCleanup(() => this.destroy());
  }

  /**
   * Resets the streams still open, then destroys the session. Node 20's
   * `ClientHttp2Session.destroy()` never returns (a loop that runs the
   * process out of memory) when one stream is open and another closed after
   * its response: seen with plain node:http2, no WebSocket code involved.
   */
  async destroy(): Promise<void> {
    const open = [...this.#streams].filter((stream) => !stream.closed);
    for (const stream of open) stream.close(constants.NGHTTP2_CANCEL);
    await Promise.all(
      open.map((stream) => new Promise((resolve) => stream.once('close', resolve))),
    );
    this.session.destroy();
  }

  /**
   * Connects to `url` (`https://host:port` or `http://` for h2c) and waits
   * for the server's SETTINGS, so {@link RawH2Session.enableConnectProtocol}
   * is known.
   * @param ca - the certificate to trust (the test certificate's `cert`).
   */
  static async connect(url: string, options: { ca?: string } = {}): Promise<RawH2Session> {
    const target = new URL(url);
    const session = http2Connect(url, { ca: options.ca });
    const raw = new RawH2Session(session, target.host, target.protocol.slice(0, -1));
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
      session.once('close', () => reject(new Error('HTTP/2 session closed before SETTINGS')));
    });
    return raw;
  }

  /** Whether the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3). */
  get enableConnectProtocol(): boolean {
    return this.session.remoteSettings.enableConnectProtocol === true;
  }

  /** Sends an extended CONNECT request; the response (or reset) follows on the stream. */
  open(options: RawH2OpenOptions = {}): RawH2WebSocket {
    const fields: Record<string, string | undefined> = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': this.#scheme,
      ':path': options.path ?? '/',
      ':authority': this.#authority,
      'sec-websocket-version': '13',
      ...options.headers,
    };
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields))
      if (value !== undefined) headers[name] = value;
    const stream = this.session.request(headers, { endStream: false });
    this.#streams.add(stream);
    stream.once('close', () => this.#streams.delete(stream));
    return new RawH2WebSocket(stream, options.allowRsv1 ?? false);
  }

  /**
   * Opens an extended CONNECT stream and resolves once the server accepted
   * it (a 2xx); rejects with the status otherwise.
   */
  async openWebSocket(options: RawH2OpenOptions = {}): Promise<RawH2WebSocket> {
    const socket = this.open(options);
    const response = await socket.response;
    if (response.status < 200 || response.status > 299) {
      throw new Error(`extended CONNECT refused: ${response.status} ${socket.body}`);
    }
    return socket;
  }

  /** An ordinary request (a page) on the same session: its status and body. */
  async get(path: string): Promise<{ status: number; body: string }> {
    const stream = this.session.request({ ':path': path });
    this.#streams.add(stream);
    stream.once('close', () => this.#streams.delete(stream));
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (headers) => resolve(Number(headers[':status'])));
      stream.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    return { status, body: Buffer.concat(chunks).toString('utf8') };
  }

  /** Closes the session gracefully (after its open streams end). */
  close(): Promise<void> {
    this.session.close();
    return this.closed;
  }
}

/**
 * One extended CONNECT stream: the response, then frames both ways. Until
 * the response is a 2xx the stream's DATA is the refusal's body.
 */
export class RawH2WebSocket {
  readonly stream: ClientHttp2Stream;
  /** The response's status and header fields; rejects if the stream closes first. */
  readonly response: Promise<RawH2Response>;
  /** Resolves when the server ended its side (END_STREAM). */
  readonly ended: Promise<void>;
  /** Resolves when the stream closed, with its RST_STREAM code (0: NGHTTP2_NO_ERROR). */
  readonly closed: Promise<number>;
  /** A refused request's body. */
  body = '';
  /** Set if the server's bytes broke a framing rule. */
  parseError: unknown;
  isClosed = false;
  /** Whether the server's END_STREAM arrived. */
  isEnded = false;
  #accepted = false;
  readonly #decoder: FrameDecoder;
  #read = 0;
  #waiters: Array<() => void> = [];

  constructor(stream: ClientHttp2Stream, allowRsv1: boolean) {
    this.stream = stream;
    this.#decoder = new FrameDecoder({ expectMasked: false, allowRsv1 });
    stream.on('error', () => {});
    this.response = new Promise((resolve, reject) => {
      stream.once('response', (headers: IncomingHttpHeaders) => {
        const status = Number(headers[':status']);
        this.#accepted = status >= 200 && status <= 299;
        resolve({ status, headers: plainHeaders(headers) });
      });
      stream.once('close', () =>
        reject(new Error(`stream closed before a response (RST_STREAM ${stream.rstCode})`)),
      );
    });
    // A stream refused by RST_STREAM alone rejects `response`; a test that
    // expects that awaits it, others must not see an unhandled rejection.
    this.response.catch(() => {});
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.ended = new Promise((resolve) =>
      stream.once('end', () => {
        this.isEnded = true;
        resolve();
      }),
    );
    this.closed = new Promise((resolve) =>
      stream.once('close', () => {
        this.isClosed = true;
        this.#notify();
        resolve(stream.rstCode ?? constants.NGHTTP2_NO_ERROR);
      }),
    );
  }

  /** Every frame received so far, payloads unmasked. */
  get frames(): readonly WireFrame[] {
    return this.#decoder.frames;
  }

  write(data: Uint8Array): void {
    this.stream.write(data);
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

  /** The next frame the server sent. Rejects if the stream closes first. */
  async nextFrame(): Promise<WireFrame> {
    const frame = await this.until(() => this.frames[this.#read]);
    this.#read++;
    return frame;
  }

  /** The next text or binary frame's payload as text (pings and pongs skipped). */
  async nextText(): Promise<string> {
    for (;;) {
      const frame = await this.nextFrame();
      if (frame.opcode === OP.Text || frame.opcode === OP.Binary) return frame.payload.toString();
    }
  }

  /** Skips to the server's close frame and returns its code and reason. */
  async closeFrame(): Promise<{ code: number | undefined; reason: string }> {
    for (;;) {
      const frame = await this.nextFrame();
      if (frame.opcode === OP.Close) return readCloseBody(frame.payload);
    }
  }

  /**
   * The closing handshake as a browser does it: a close frame, the server's
   * echo, then this side's END_STREAM. Resolves with the server's code and
   * the stream's RST_STREAM code once it closed (0 for a clean close).
   */
  async close(code = 1000, reason = ''): Promise<{ code: number | undefined; rstCode: number }> {
    this.sendClose(code, reason);
    const echoed = await this.closeFrame();
    this.stream.end();
    return { code: echoed.code, rstCode: await this.closed };
  }

  /** Resets the stream (RST_STREAM, CANCEL by default), as a tab closing does. */
  reset(code: number = constants.NGHTTP2_CANCEL): void {
    this.stream.close(code);
  }

  /**
   * Resolves with the first non-undefined value of `check`, re-checked on each
   * received chunk; rejects if the stream closes without it.
   */
  async until<T>(check: () => T | undefined): Promise<T> {
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.isClosed) throw new Error('stream closed before the expected data arrived');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #onData(chunk: Buffer): void {
    if (!this.#accepted) this.body += chunk.toString('utf8');
    else if (this.parseError === undefined) {
      try {
        this.#decoder.push(chunk);
      } catch (error) {
        this.parseError = error;
      }
    }
    this.#notify();
  }
}

function plainHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') && name !== ':status') continue;
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  delete out[':status'];
  return out;
}
