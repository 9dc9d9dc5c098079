/**
 * The link under one Node WebSocket object: dials TCP or TLS, directly or
 * through an HTTP proxy's CONNECT tunnel, runs the opening handshake against
 * its timeout, and turns what the shared transport reports into the
 * WebSocket's feedback. Every failure to connect (DNS, TCP, the proxy, TLS, a
 * refused or malformed handshake, the handshake timeout) ends the same way:
 * `onClose` with 1006 and the error.
 * @packageDocumentation
 */
import process from 'node:process';
import { createHash } from 'node:crypto';
import type { ClientHttp2Stream } from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  ClientConnection,
  CloseCode,
  ConnectionState,
  type OpenInfo,
  type WebSocketError,
  buildConnectRequest,
  buildDeflateOffer,
  decodeUtf8,
} from '@proj/protocol';
import {
  SocketTransport,
  type TransportEvents,
  type TransportSocket,
  type WriteBoundary,
  allocateUnsafe,
  kOnClose,
  kOnClosing,
  kOnError,
  kOnMessage,
  kOnOpen,
  kOnPong,
  kOnSocketError,
  withStreamAbort,
} from '@proj/transport';
import { type Http2Claim, openHttp2Stream, streamFailure } from './http2-session-pool.js';
import type { ResolvedOptions } from './options.js';
import { PingInterval } from './ping-interval.js';
import { selectProxy } from './proxy-env.js';
import { ProxyTunnel } from './proxy-tunnel.js';

/**
 * What the link reports to the WebSocket object, synchronously and in
 * order; the WebSocket turns each report into a queued task.
 * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
 */
export interface LinkHandler {
  /** The WebSocket connection is established. */
  onOpen(protocol: string, extensions: string): void;
  /** A message: text decoded, binary as an `ArrayBuffer` nobody else holds. */
  onMessage(data: string | ArrayBuffer): void;
  /** A pong arrived: its payload, copied. */
  onPong(data: ArrayBuffer): void;
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

/** Why a `Blob` passed to `send()` never went out. */
const BLOB_READ_FAILED = 'Failed to read a Blob passed to send()';

/** SHA-1 through OpenSSL, for `Sec-WebSocket-Accept`. */
function sha1(data: Uint8Array): Uint8Array {
  return createHash('sha1').update(data).digest();
}

/**
 * One WebSocket connection over a Node socket, from dialing to close.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish
 */
export class NodeLink implements TransportEvents {
  readonly #handler: LinkHandler;
  readonly #options: ResolvedOptions;
  /** Made once there is a socket to the server: at once, or when the proxy's tunnel is up. */
  #transport: SocketTransport | undefined;
  /** The proxy's CONNECT, while it has not answered. */
  #tunnel: ProxyTunnel | undefined;
  /** With `http2`: the pool's claim while the session or its SETTINGS are awaited. */
  #http2: Http2Claim | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  /** The `pingInterval` heartbeat, while open. */
  #pingInterval: PingInterval | undefined;
  #opened = false;
  #closed = false;
  /** Set once the connection failed: the first thing that went wrong. */
  #error: Error | undefined;
  /** Application bytes of each send awaiting its write callback, oldest first. */
  #inFlight: number[] = [];
  #inFlightHead = 0;

  /**
   * Starts connecting to `url` (already a valid `ws:`/`wss:` URL record),
   * through the proxy the `proxy` option or the environment names, if any.
   * Never throws for network reasons: those are reported through `onClose`.
   * @throws {TypeError} when the environment variable that names the proxy
   *   for `url` (`HTTPS_PROXY`, `HTTP_PROXY`) does not hold a valid one.
   */
  constructor(
    url: URL,
    protocols: readonly string[],
    options: ResolvedOptions,
    handler: LinkHandler,
    boundary: WriteBoundary,
  ) {
    this.#handler = handler;
    this.#options = options;
    // Read now, for this connection: the environment as it is when the
    // WebSocket is made. First, so that a bad variable throws before any timer.
    const proxy = selectProxy(url, options.proxy);
    this.#handshakeTimer = setTimeout(
      this.#onHandshakeTimeout,
      options.handshakeTimeout,
      options.handshakeTimeout,
    ).unref();
    const start = (socket: net.Socket): void => this.#start(socket, url, protocols, boundary);
    if (proxy) {
      this.#tunnel = new ProxyTunnel(proxy, `${url.hostname}:${urlPort(url)}`, {
        onTunnel: (socket) => {
          this.#tunnel = undefined;
          this.#tunnelUp(socket, url, start);
        },
        onError: (error) => {
          this.#tunnel = undefined;
          this.#failUnconnected(error);
        },
      });
      return;
    }
    // Through a proxy, HTTP/1.1 only (README: "HTTP/2").
    if (options.http2) {
      this.#dialHttp2(url, protocols, boundary);
      return;
    }
    this.#dialHttp1(url, start);
  }

  /** Opens the TCP or TLS connection for the HTTP/1.1 Upgrade. */
  #dialHttp1(url: URL, start: (socket: net.Socket) => void): void {
    const options = this.#options;
    let socket: net.Socket;
    try {
      socket = dial(url, options);
    } catch (error) {
      // e.g. a TLS key that does not parse: fail in a later turn, like any
      // other network error.
      process.nextTick(() => this.#failUnconnected(toError(error)));
      return;
    }
    start(socket);
  }

  /**
   * The `http2` option: an extended CONNECT stream (RFC 8441) on the
   * origin's shared HTTP/2 session, or HTTP/1.1 when the server has no
   * WebSockets over HTTP/2. The request's fields are the ones the
   * connection builds for itself: `buildConnectRequest` with the same inputs.
   */
  #dialHttp2(url: URL, protocols: readonly string[], boundary: WriteBoundary): void {
    const options = this.#options;
    const secure = url.protocol === 'wss:';
    const headers = buildConnectRequest({
      authority: url.host,
      scheme: secure ? 'https' : 'http',
      path: url.pathname + url.search,
      protocols,
      extensions: options.deflate ? buildDeflateOffer(options.deflate.config) : undefined,
      origin: options.origin,
      headers: options.headers,
    });
    const { allowHalfOpen: _, ...secureOptions } = tlsOptions(url, options);
    const target = {
      // url.hostname keeps an IPv6 literal's brackets, as an origin needs them.
      origin: `${secure ? 'https' : 'http'}://${url.hostname}:${urlPort(url)}`,
      host: bareHost(url),
      port: urlPort(url),
      tls: secure ? secureOptions : undefined,
    };
    this.#http2 = openHttp2Stream(target, headers, {
      onStream: (stream, response) => {
        this.#http2 = undefined;
        this.#start(withStreamAbort(stream), url, protocols, boundary, stream);
        const connection = this.#transport!.connection as ClientConnection;
        connection.receiveConnectResponse(response.status, response.headers);
      },
      onFallback: () => {
        this.#http2 = undefined;
        this.#dialHttp1(url, (socket) => this.#start(socket, url, protocols, boundary));
      },
      onError: (error) => {
        this.#http2 = undefined;
        this.#failUnconnected(error);
      },
      // As a dropped connection, but with the error event: the session's error says what happened.
      onSessionLost: (error) => this.fail(error),
    });
  }

  /**
   * Puts the transport on `socket` (connecting, or connected when it is a
   * proxy's tunnel), and sends the handshake request once it is connected.
   * Over HTTP/2, `socket` is the extended CONNECT stream (`stream`), already
   * answered: the caller hands its response to the connection.
   */
  #start(
    socket: TransportSocket,
    url: URL,
    protocols: readonly string[],
    boundary: WriteBoundary,
    stream?: ClientHttp2Stream,
  ): void {
    const options = this.#options;
    // Before the transport's own listener: a stream reset or torn down with
    // its session is a failure to report (error event), not a quiet 1006.
    // (node detaches the session from a closed stream: keep it now.)
    const session = stream?.session;
    stream?.once('close', () => {
      const connection = this.#transport?.connection;
      if (this.#closed || this.#error || !connection || connection.closeHandshakeComplete) return;
      const failure = streamFailure(stream, session);
      if (failure) this.fail(failure);
    });
    this.#transport = new SocketTransport({
      socket,
      connect: (connectionHandler) =>
        new ClientConnection({
          perMessageDeflate: options.deflate?.config,
          handler: connectionHandler,
          host: url.host,
          path: url.pathname + url.search,
          protocols,
          // The WHATWG rule, as in browsers: an offer nobody chose fails.
          requireProtocol: true,
          origin: options.origin,
          headers: options.headers,
          maxPayload: options.maxPayload,
          maxFragments: options.maxFragments,
          allocate: allocateUnsafe,
          sha1,
          http2: stream && { scheme: url.protocol === 'wss:' ? 'https' : 'http' },
        }),
      events: this,
      settings: options,
      boundary,
    });
    const connection = this.#transport.connection as ClientConnection;
    if (stream) {
      // After open a stream error (RST_STREAM, the session torn down) fails
      // the connection with its error, as a lost session does.
      stream.once('error', (error) => this.fail(error));
      return;
    }
    const tcp = socket as net.Socket;
    if (url.protocol === 'wss:') tcp.once('secureConnect', () => connection.connect());
    else if (tcp.connecting) tcp.once('connect', () => connection.connect());
    else connection.connect();
  }

  /**
   * The proxy's tunnel is up: TLS over it for `wss:`, then the handshake.
   * The tunnel hands the socket over paused, so that what the proxy sent
   * after its answer waits for the transport (for ws:) or TLS (for wss:).
   */
  #tunnelUp(socket: net.Socket, url: URL, start: (socket: net.Socket) => void): void {
    if (url.protocol === 'ws:') {
      start(socket);
      socket.resume();
      return;
    }
    let secure: tls.TLSSocket;
    try {
      secure = tls.connect({ ...tlsOptions(url, this.#options), socket });
    } catch (error) {
      socket.destroy();
      this.#failUnconnected(toError(error));
      return;
    }
    start(secure);
  }

  /** Whether messages can still be sent: open, and no close frame sent or received. */
  get canSend(): boolean {
    return this.#transport?.connection.state === ConnectionState.Open;
  }

  /** Sends a text message of `size` UTF-8 bytes, or discards it once closing. */
  sendText(text: string, size: number): void {
    if (!this.canSend) return;
    this.#inFlight.push(size);
    this.#transport!.send(text, false, true, true, this.#onWritten);
  }

  /** Sends a binary message, or discards it once closing. */
  sendBinary(bytes: Uint8Array): void {
    if (!this.canSend) return;
    // `length`: V8 11.3 loads `byteLength` of a typed array through its generic IC.
    this.#inFlight.push(bytes.length);
    this.#transport!.send(bytes, true, true, true, this.#onWritten);
  }

  /** Sends a `Blob`, in its turn once read; a Blob that cannot be read fails the connection. */
  sendBlob(blob: Blob): void {
    if (!this.canSend) return;
    this.#inFlight.push(blob.size);
    const bytes = blob.arrayBuffer().then((buffer) => new Uint8Array(buffer));
    this.#transport!.sendPending(bytes, BLOB_READ_FAILED, this.#onBlobWritten);
  }

  /**
   * Sends a ping now, ahead of waiting messages, or does nothing once
   * closing. The caller checked the size (at most 125 bytes).
   */
  ping(bytes: Uint8Array): void {
    if (this.canSend) this.#transport!.ping(bytes);
  }

  /**
   * Starts the closing handshake, after every message sent before it;
   * without a code the close frame has no body. The close timeout starts with it.
   */
  close(code: number | undefined, reason: string): void {
    this.#transport?.close(code, reason);
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7) without a close frame and drops
   * the socket; `error` is reported with the close. Used before the
   * connection is established, where there is no closing handshake to run,
   * and when `pingInterval` finds the peer gone, which would answer none.
   */
  fail(error: Error): void {
    if (this.#closed) return;
    this.#error ??= error;
    if (this.#transport) {
      this.#transport.fail(CloseCode.Abnormal);
    } else {
      this.#tunnel?.abort();
      this.#tunnel = undefined;
      this.#http2?.cancel();
      this.#http2 = undefined;
      this.#failUnconnected(error);
    }
  }

  // ---- TransportEvents ----

  /** @internal */
  [kOnOpen](info: OpenInfo): void {
    this.#opened = true;
    clearTimeout(this.#handshakeTimer);
    // Not kept for the life of the connection: a cleared Timeout is 120 B.
    this.#handshakeTimer = undefined;
    if (info.deflate) {
      this.#transport!.useCompression({
        params: info.deflate,
        isServer: false,
        maxPayload: this.#options.maxPayload,
        options: this.#options.deflate ?? undefined,
      });
    }
    if (this.#options.pingInterval > 0) {
      this.#pingInterval = new PingInterval(
        this.#transport!,
        this.#options.pingInterval,
        this.#onPingTimeout,
      );
    }
    this.#handler.onOpen(info.protocol, info.extensions);
  }

  /** @internal */
  [kOnMessage](data: Buffer, binary: boolean): void {
    this.#handler.onMessage(binary ? ownBuffer(data) : decodeUtf8(data));
  }

  /** @internal */
  [kOnPong](data: Buffer): void {
    // A copy: the payload may be a view into a buffer the parser reuses.
    this.#handler.onPong(new Uint8Array(data).buffer);
  }

  /** @internal */
  [kOnClosing](): void {
    this.#handler.onClosing();
  }

  /** @internal */
  [kOnError](error: WebSocketError): void {
    this.#error ??= error;
  }

  /** @internal */
  [kOnClose](code: number, reason: string, wasClean: boolean): void {
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    this.#pingInterval?.stop();
    this.#handler.onClose(code, reason, wasClean, this.#error);
  }

  /** @internal */
  [kOnSocketError](error: Error): void {
    // Before the connection is established, a socket error (DNS, refused,
    // reset, TLS) fails it. After, the transport is just gone: `close`
    // follows with 1006, as in browsers, which report no error then.
    if (!this.#opened) this.fail(error);
  }

  // ---- internals ----

  /** Write callbacks run in send order, so each claims the oldest entry. */
  readonly #onWritten = (error?: Error | null): void => {
    const size = this.#inFlight[this.#inFlightHead++]!;
    if (this.#inFlightHead === this.#inFlight.length) {
      this.#inFlight = [];
      this.#inFlightHead = 0;
    }
    if (!error) this.#handler.onWritten(size);
  };

  readonly #onBlobWritten = (error?: Error | null): void => {
    this.#onWritten(error);
    if (error?.message === BLOB_READ_FAILED) this.fail(error);
  };

  /** The heartbeat found the connection half-open: fail it (error, then close 1006). */
  readonly #onPingTimeout = (error: Error): void => {
    this.fail(error);
  };

  readonly #onHandshakeTimeout = (ms: number): void => {
    const proxy = this.#tunnel ? `, waiting for the proxy ${this.#tunnel.proxy} (CONNECT)` : '';
    this.fail(new Error(`Opening handshake timed out after ${ms} ms${proxy}`));
  };

  /** There is no socket (dialing threw): report the failure as a close. */
  #failUnconnected(error: Error): void {
    if (this.#closed) return;
    this.#error ??= error;
    this[kOnClose](CloseCode.Abnormal, '', false);
  }
}

/** Opens the TCP or TLS connection for `url`. */
function dial(url: URL, options: ResolvedOptions): net.Socket {
  // Half-open allowed, as on the server: after the server's FIN the transport
  // still answers what arrived before it (a pong, a close frame), then ends.
  if (url.protocol === 'ws:') {
    return net.connect({ host: bareHost(url), port: urlPort(url), allowHalfOpen: true });
  }
  return tls.connect({ ...tlsOptions(url, options), port: urlPort(url) });
}

/**
 * The TLS options for `url`'s server, directly or through a tunnel. `host`
 * is the name the certificate must carry: with a `socket` (a proxy's
 * tunnel), Node would otherwise check it against the proxy's host.
 */
function tlsOptions(
  url: URL,
  options: ResolvedOptions,
): tls.ConnectionOptions & { allowHalfOpen: boolean } {
  const host = bareHost(url);
  const { servername, ...credentials } = options.tls;
  // tls.connect passes allowHalfOpen to its TLSSocket; @types/node leaves it out.
  return {
    host,
    allowHalfOpen: true,
    // SNI carries host names only (RFC 6066 §3), never an IP address.
    servername: servername ?? (net.isIP(host) ? '' : host),
    // Node reads any Uint8Array where its types say Buffer.
    ...(credentials as Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>),
  };
}

/** URL.hostname keeps the brackets of an IPv6 literal; sockets want it bare. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The port `url` connects to: its own, or its scheme's. */
function urlPort(url: URL): number {
  return Number(url.port || (url.protocol === 'wss:' ? 443 : 80));
}

/**
 * The message's bytes as an `ArrayBuffer` of their own. A message that fills
 * its buffer exactly (a socket chunk, or the assembler's per-message buffer)
 * is handed over as is; a view into a larger chunk is copied.
 */
function ownBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer;
  // An empty message may be the protocol's shared EMPTY: never hand that out.
  if (data.length === 0) return new ArrayBuffer(0);
  if (data.byteOffset === 0 && data.length === buffer.byteLength && buffer instanceof ArrayBuffer) {
    return buffer;
  }
  // Not data.slice(): on a Buffer (socket chunks are) that is a view, not a copy.
  return new Uint8Array(data).buffer;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
