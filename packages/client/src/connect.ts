/**
 * The Node transport under a WebSocket: dials TCP or TLS, drives the
 * sans-I/O `ClientConnection` with the socket's bytes, and owns the timers.
 * Every failure to connect (DNS, TCP, TLS, a refused or malformed handshake,
 * the handshake timeout) ends the same way: `onClose` with 1006 and the error.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { MessageCompression, PerMessageDeflate } from '@proj/deflate';
import {
  ClientConnection,
  CloseCode,
  type ConnectionHandler,
  ConnectionState,
  type OpenInfo,
  type WebSocketError,
  decodeUtf8,
} from '@proj/protocol';
import type { ResolvedOptions } from './options.js';
import type { SendTarget } from './send-queue.js';

/**
 * Message buffers without zero-filling: the assembler writes every byte of a
 * message before handing it out, so filling first would be one more pass over
 * every large message.
 */
const allocateUnsafe = (size: number): Buffer => Buffer.allocUnsafe(size);

/**
 * What the transport reports to the WebSocket object, synchronously and in
 * order; the WebSocket turns each report into a queued task.
 * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
 */
export interface TransportHandler {
  /** The WebSocket connection is established. */
  onOpen(protocol: string, extensions: string): void;
  /** A message: text decoded, binary as an `ArrayBuffer` nobody else holds. */
  onMessage(data: string | ArrayBuffer): void;
  /** The server started the closing handshake. */
  onClosing(): void;
  /** `size` bytes of application data were handed to the kernel. */
  onWritten(size: number): void;
  /**
   * The connection is closed; always the last report. `error` is set when the
   * connection failed (the spec's "fail the WebSocket connection"), and is
   * then what went wrong: a `HandshakeError`, a socket error, a protocol error.
   */
  onClose(code: number, reason: string, wasClean: boolean, error: Error | undefined): void;
}

/**
 * The WebSocket's task queue, as the transport sees it: writes made while
 * events are still queued are held (corked) until those events have run.
 */
export interface WriteBoundary {
  /**
   * Calls `callback` once every task queued so far has run, and returns
   * true; returns false when no task is waiting.
   */
  afterQueued(callback: () => void): boolean;
}

/** SHA-1 through OpenSSL, for `Sec-WebSocket-Accept`. */
function sha1(data: Uint8Array): Uint8Array {
  return createHash('sha1').update(data).digest();
}

/**
 * One WebSocket connection over a Node socket.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish
 */
export class Transport implements SendTarget {
  readonly #handler: TransportHandler;
  readonly #boundary: WriteBoundary | undefined;
  readonly #connection: ClientConnection;
  readonly #closeTimeout: number;
  #socket: net.Socket | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #opened = false;
  #closed = false;
  /** Set once the connection failed: the first thing that went wrong. */
  #error: Error | undefined;
  #corked = false;
  /** Application bytes in the frame being written; claimed by the next `write`. */
  #frameAppBytes = 0;
  /** Application bytes of each write awaiting its callback, oldest first. */
  #inFlight: number[] = [];
  #inFlightHead = 0;
  readonly #options: ResolvedOptions;
  /** The permessage-deflate hooks, once the server accepted the offer. */
  #compression: MessageCompression | undefined;

  /**
   * Starts connecting to `url` (already a valid `ws:`/`wss:` URL record).
   * Never throws for network reasons: those are reported through `onClose`.
   */
  constructor(
    url: URL,
    protocols: readonly string[],
    options: ResolvedOptions,
    handler: TransportHandler,
    boundary?: WriteBoundary,
  ) {
    this.#handler = handler;
    this.#boundary = boundary;
    this.#closeTimeout = options.closeTimeout;
    this.#options = options;
    this.#connection = new ClientConnection({
      perMessageDeflate: options.deflate?.config,
      handler: this.#protocolHandler,
      host: url.host,
      path: url.pathname + url.search,
      protocols,
      origin: options.origin,
      headers: options.headers,
      maxPayload: options.maxPayload,
      maxFragments: options.maxFragments,
      allocate: allocateUnsafe,
      sha1,
    });
    this.#handshakeTimer = setTimeout(
      this.#onHandshakeTimeout,
      options.handshakeTimeout,
      options.handshakeTimeout,
    ).unref();
    try {
      this.#socket = dial(url, options);
    } catch (error) {
      // e.g. a TLS key that does not parse: fail in a later turn, like any
      // other network error.
      process.nextTick(() => this.fail(toError(error)));
      return;
    }
    const socket = this.#socket;
    socket.setNoDelay(true);
    socket.once(url.protocol === 'wss:' ? 'secureConnect' : 'connect', this.#onConnect);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onEnd);
  }

  /** Whether messages can still be sent: open, and no close frame sent or received. */
  get canSend(): boolean {
    return this.#connection.state === ConnectionState.Open;
  }

  /** Sends a text message, or discards it once the closing handshake has started. */
  sendText(text: string, size: number): void {
    if (!this.canSend) return;
    if (this.#compression) {
      this.#sendCompressed(Buffer.from(text), false, size);
      return;
    }
    this.#frameAppBytes = size;
    this.#connection.sendText(text);
    this.#frameAppBytes = 0;
  }

  /** Sends a binary message, or discards it once the closing handshake has started. */
  sendBinary(bytes: Uint8Array): void {
    if (!this.canSend) return;
    if (this.#compression) {
      this.#sendCompressed(bytes, true, bytes.byteLength);
      return;
    }
    this.#frameAppBytes = bytes.byteLength;
    this.#connection.sendBinary(bytes);
    this.#frameAppBytes = 0;
  }

  /**
   * Starts the closing handshake; without a code the close frame has no body.
   * The close timeout starts with it.
   */
  close(code: number | undefined, reason: string): void {
    // Messages still being compressed go out first.
    if (this.#compression?.busy) {
      this.#compression.afterSends(() => this.close(code, reason));
      return;
    }
    this.#connection.close(code, reason);
    this.#afterCall();
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7) without a close frame and drops
   * the socket; `error` is reported with the close. Used before the
   * connection is established, where there is no closing handshake to run.
   */
  fail(error: Error): void {
    if (this.#closed) return;
    this.#error ??= error;
    this.#connection.fail(CloseCode.Abnormal);
    if (this.#socket) this.#socket.destroy();
    else this.#connection.receiveEof();
  }

  // ---- the sans-I/O connection's side ----

  readonly #protocolHandler: ConnectionHandler = {
    write: (chunks) => this.#write(chunks),
    end: () => {
      const socket = this.#socket;
      if (!socket) return;
      // Before the opening handshake completes there is no closing handshake
      // to wait for: drop the connection at once.
      if (this.#opened) socket.end();
      else socket.destroy();
    },
    onOpen: (info: OpenInfo) => {
      this.#opened = true;
      if (info.deflate) this.#compression = this.#createCompression(info);
      clearTimeout(this.#handshakeTimer);
      this.#handler.onOpen(info.protocol, info.extensions);
    },
    onMessage: (data, binary, compressed) => {
      if (compressed) {
        this.#compression!.receive(data, binary);
        return;
      }
      this.#handler.onMessage(binary ? ownBuffer(data) : decodeUtf8(data));
      this.#holdUntilDelivered();
    },
    onClosing: () => this.#handler.onClosing(),
    onError: (error: WebSocketError) => {
      this.#error ??= error;
    },
    onClose: (code, reason, wasClean) => {
      this.#closed = true;
      this.#compression?.close();
      clearTimeout(this.#handshakeTimer);
      clearTimeout(this.#closeTimer);
      this.#handler.onClose(code, reason, wasClean, this.#error);
    },
  };

  /** Compression: pause the socket while a message inflates. */
  #createCompression(info: OpenInfo): MessageCompression {
    const deflate = new PerMessageDeflate({
      params: info.deflate!,
      isServer: false,
      maxPayload: this.#options.maxPayload,
      options: this.#options.deflate ?? undefined,
    });
    return new MessageCompression(deflate, this.#connection, {
      pause: () => this.#socket?.pause(),
      resume: () => this.#socket?.resume(),
      deliver: (run) => {
        run();
        this.#afterCall();
      },
    });
  }

  /**
   * The message just reported reaches the application in a task of its own:
   * until every queued task has run, a close frame, ping or bad frame that
   * followed it in the input waits (`hold`), so the application can still
   * answer the message first, as if those bytes had arrived a moment later.
   */
  #holdUntilDelivered(): void {
    if (this.#boundary?.afterQueued(this.#afterTasks)) this.#connection.hold();
  }

  /**
   * Runs once every queued task has: what was held takes effect (and parsing
   * goes on), then the writes those tasks made leave together, unless the
   * parsing queued more tasks, whose writes join them.
   */
  readonly #afterTasks = (): void => {
    this.#connection.release();
    this.#afterCall();
    if (this.#corked && !this.#boundary!.afterQueued(this.#afterTasks)) this.#uncork();
  };

  /** Sends one message through the compressor, in order with every other send. */
  #sendCompressed(bytes: Uint8Array, binary: boolean, size: number): void {
    this.#compression!.send(bytes, true, (payload, compressed) => {
      this.#frameAppBytes = size;
      if (binary) this.#connection.sendBinary(payload, { compressed });
      else this.#connection.sendText(payload, { compressed });
      this.#frameAppBytes = 0;
    });
  }

  #write(chunks: readonly Uint8Array[]): void {
    const socket = this.#socket;
    const appBytes = this.#frameAppBytes;
    this.#frameAppBytes = 0;
    if (!socket || !socket.writable) return;
    // Everything written in one task leaves in one writev() call. When more
    // event tasks are queued (a socket read delivered several messages), the
    // socket stays corked until they have run too, so that the answers to
    // them all leave in one syscall instead of one each (issue #6). The wait
    // is bounded: those tasks already have their Immediates, so they run in
    // this turn's check phase (the next one if queued during it), with no
    // I/O polled in between in the first case.
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      if (!this.#boundary?.afterQueued(this.#afterTasks)) process.nextTick(this.#uncork);
    }
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) socket.write(chunks[i]!);
    if (appBytes > 0) {
      this.#inFlight.push(appBytes);
      socket.write(chunks[last]!, this.#onWritten);
    } else {
      socket.write(chunks[last]!);
    }
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket?.uncork();
  };

  /** Write callbacks run in write order, so each claims the oldest entry. */
  readonly #onWritten = (error?: Error | null): void => {
    const size = this.#inFlight[this.#inFlightHead++]!;
    if (this.#inFlightHead === this.#inFlight.length) {
      this.#inFlight = [];
      this.#inFlightHead = 0;
    }
    if (!error) this.#handler.onWritten(size);
  };

  // ---- socket events ----

  readonly #onConnect = (): void => {
    this.#connection.connect();
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#connection.receiveData(chunk);
    this.#afterCall();
  };

  readonly #onEnd = (): void => {
    this.#connection.receiveEof();
  };

  readonly #onError = (error: Error): void => {
    // Before the connection is established, a socket error (DNS, refused,
    // reset, TLS) fails it. After, the transport is just gone: `close`
    // follows with 1006, as in browsers, which report no error then.
    if (!this.#opened) this.fail(error);
  };

  readonly #onHandshakeTimeout = (ms: number): void => {
    this.fail(new Error(`Opening handshake timed out after ${ms} ms`));
  };

  readonly #onCloseTimeout = (): void => {
    this.#socket?.destroy();
  };

  /** Arms the close timeout once the connection waits for the server to close. */
  #afterCall(): void {
    if (this.#closeTimer === undefined && !this.#closed && this.#connection.closeExpected) {
      this.#closeTimer = setTimeout(this.#onCloseTimeout, this.#closeTimeout).unref();
    }
  }
}

/** Opens the TCP or TLS connection for `url`. */
function dial(url: URL, options: ResolvedOptions): net.Socket {
  // URL.hostname keeps the brackets of an IPv6 literal; sockets want it bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol === 'ws:') {
    return net.connect({ host, port: Number(url.port || 80) });
  }
  const { servername, ...credentials } = options.tls;
  return tls.connect({
    host,
    port: Number(url.port || 443),
    // SNI carries host names only (RFC 6066 §3), never an IP address.
    servername: servername ?? (net.isIP(host) ? '' : host),
    // Node reads any Uint8Array where its types say Buffer.
    ...(credentials as Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>),
  });
}

/**
 * The message's bytes as an `ArrayBuffer` of their own. A message that fills
 * its buffer exactly (a socket chunk, or the assembler's per-message buffer)
 * is handed over as is; a view into a larger chunk is copied.
 */
function ownBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer;
  // An empty message may be the protocol's shared EMPTY: never hand that out.
  if (data.byteLength === 0) return new ArrayBuffer(0);
  if (
    data.byteOffset === 0 &&
    data.byteLength === buffer.byteLength &&
    buffer instanceof ArrayBuffer
  ) {
    return buffer;
  }
  // Not data.slice(): on a Buffer (socket chunks are) that is a view, not a copy.
  return new Uint8Array(data).buffer;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
