/**
 * WebSockets over HTTP/2 (RFC 8441) for the Node client: one `node:http2`
 * session per origin and TLS settings, shared by every WebSocket to it, each
 * WebSocket one extended CONNECT stream. The pool owns the sessions, waits for
 * the server's SETTINGS (a client may send an extended CONNECT only after
 * `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`, RFC 8441 §3), and remembers which
 * origins do not offer it, so that their WebSockets go straight to HTTP/1.1.
 *
 * Only the dialing lives here: once a stream is open it is handed to the
 * link, which runs it through the same `SocketTransport` as a TCP socket.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { createHash } from 'node:crypto';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';

/** Where an HTTP/2 session goes, as the link works it out from the URL and options. */
export interface Http2Target {
  /** `https://host:port` for `wss:`, `http://host:port` for `ws:` (h2c, prior knowledge). */
  readonly origin: string;
  /** The host to dial (no IPv6 brackets). */
  readonly host: string;
  readonly port: number;
  /** `wss:` only: the TLS options, as for an HTTP/1.1 connection (the pool sets ALPN). */
  readonly tls: tls.ConnectionOptions | undefined;
}

/** What a WebSocket waiting for its stream hears; exactly one of the first three, once. */
export interface Http2StreamHandler {
  /**
   * The stream's response arrived: its status and fields, for
   * `ClientConnection.receiveConnectResponse`. The stream is the
   * WebSocket's from now on; its data flows once read.
   */
  onStream(stream: http2.ClientHttp2Stream, response: ConnectResponse): void;
  /**
   * The server does not take WebSockets over HTTP/2 (ALPN chose HTTP/1.1, its
   * SETTINGS lack the extended CONNECT flag, or it does not speak h2c):
   * connect over HTTP/1.1 instead.
   */
  onFallback(): void;
  /**
   * The session could not be set up (DNS, TCP, TLS, a protocol error), or
   * the stream was reset before its response.
   */
  onError(error: Error): void;
  /**
   * After {@link onStream}: the session under the stream failed (a session
   * error, a GOAWAY with an error code, the connection dropped).
   */
  onSessionLost(error: Error): void;
}

/** An extended CONNECT response, as the protocol takes it. */
export interface ConnectResponse {
  readonly status: number;
  /** Lower-case names, string values. */
  readonly headers: Record<string, string>;
}

/** A WebSocket's claim on the pool, until its stream closes. */
export interface Http2Claim {
  /** Gives up waiting (handshake timeout, `close()` while connecting); no callback follows. */
  cancel(): void;
}

/**
 * How long a session with no WebSocket left stays open, so that a
 * WebSocket made soon after (a reconnect: `ReconnectingWebSocket` waits 1 s
 * at first) reuses it. Its timer and socket are unref'd: an idle session
 * never keeps the process alive.
 */
export const IDLE_SESSION_GRACE = 5_000;

/**
 * How long an origin's "no WebSockets over HTTP/2" answer is remembered. Long
 * enough that a burst of WebSockets pays for one probe, short enough that a
 * server that gains the setting (a redeploy) is used within minutes.
 */
export const FALLBACK_MEMORY = 10 * 60_000;

/** The ALPN offer: HTTP/2 first, HTTP/1.1 so that a server without it still answers. */
const ALPN = ['h2', 'http/1.1'];

/** One WebSocket using (or waiting for) a session. */
class Claim implements Http2Claim {
  readonly target: Http2Target;
  readonly headers: http2.OutgoingHttpHeaders;
  readonly handler: Http2StreamHandler;
  session: PooledSession | undefined;
  /** Its stream, once opened and until it closes. */
  stream: http2.ClientHttp2Stream | undefined;
  /** The stream's response arrived: the stream is the WebSocket's. */
  answered = false;
  /** A stream of it was refused (REFUSED_STREAM) once and retried on another session. */
  retried = false;
  done = false;

  constructor(
    target: Http2Target,
    headers: http2.OutgoingHttpHeaders,
    handler: Http2StreamHandler,
  ) {
    this.target = target;
    this.headers = headers;
    this.handler = handler;
  }

  cancel(): void {
    if (this.done) return;
    this.done = true;
    // A stream still waiting for its response is the pool's to end.
    if (this.stream && !this.answered) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session?.release(this);
  }
}

/** Why a session may take no more WebSockets. */
type Retired = false | 'goaway' | 'closed';

/** One `node:http2` session and the WebSockets on it. */
class PooledSession {
  readonly key: string;
  readonly target: Http2Target;
  /** Made once TLS chose h2 (at once for h2c). */
  session: http2.ClientHttp2Session | undefined;
  /** The TLS socket while its handshake runs. */
  #tls: tls.TLSSocket | undefined;
  /** Waiting for SETTINGS, in arrival order. */
  #waiting: Claim[] = [];
  /** WebSockets with a stream on this session. */
  readonly #active = new Set<Claim>();
  /** The server's SETTINGS arrived and enable extended CONNECT. */
  #ready = false;
  /** For h2c: the TCP connection was made, so a failure before SETTINGS means "not HTTP/2". */
  #connected = false;
  #retired: Retired = false;
  /** Its WebSockets were failed already (an error, then 'close', both report it). */
  #failed = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(key: string, target: Http2Target) {
    this.key = key;
    this.target = target;
    if (target.tls) this.#dialTls(target.tls);
    else this.#startSession(undefined);
  }

  /** Whether a new WebSocket may join: not retired, and under the server's stream limit. */
  get accepting(): boolean {
    if (this.#retired) return false;
    if (!this.#ready) return true;
    return this.#users() < (this.session!.remoteSettings.maxConcurrentStreams ?? Infinity);
  }

  #users(): number {
    return this.#waiting.length + this.#active.size;
  }

  join(claim: Claim): void {
    claim.session = this;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    // A waiting WebSocket keeps the process alive, as its TCP connection would.
    this.#ref(true);
    if (this.#ready) this.#open(claim);
    else this.#waiting.push(claim);
  }

  /** A WebSocket left: cancelled, or its stream closed. */
  release(claim: Claim): void {
    const index = this.#waiting.indexOf(claim);
    if (index >= 0) this.#waiting.splice(index, 1);
    this.#active.delete(claim);
    if (this.#users() > 0) return;
    this.#ref(false);
    if (this.#retired === 'closed') return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#retire('closed'), IDLE_SESSION_GRACE).unref();
  }

  #ref(on: boolean): void {
    const session = this.session;
    if (session && !session.destroyed) {
      if (on) session.ref();
      else session.unref();
    } else if (this.#tls) {
      if (on) this.#tls.ref();
      else this.#tls.unref();
    }
  }

  #dialTls(options: tls.ConnectionOptions): void {
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({ ...options, port: this.target.port, ALPNProtocols: ALPN });
    } catch (error) {
      // e.g. a key that does not parse: fail in a later turn, like a network error.
      process.nextTick(() => this.#failAll(toError(error)));
      return;
    }
    this.#tls = socket;
    const onError = (error: Error): void => this.#failAll(error);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      this.#tls = undefined;
      if (this.#retired) {
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol === 'h2') {
        this.#startSession(socket);
        if (this.#users() === 0) this.#ref(false);
        return;
      }
      // ALPN chose HTTP/1.1, or the server does not do ALPN.
      socket.destroy();
      this.#fallBack();
    });
  }

  /** Starts HTTP/2 on `socket` (TLS that chose h2), or over cleartext TCP (h2c). */
  #startSession(socket: tls.TLSSocket | undefined): void {
    const { origin } = this.target;
    // h2c: node dials TCP itself and sends the preface at once (prior knowledge).
    const session = socket
      ? http2.connect(origin, { createConnection: () => socket })
      : http2.connect(origin);
    this.session = session;
    session.once('connect', () => {
      this.#connected = true;
    });
    session.once('remoteSettings', (settings) => {
      if (this.#retired) return;
      if (settings.enableConnectProtocol !== true) {
        this.#fallBack();
        return;
      }
      this.#ready = true;
      this.#drainWaiting();
    });
    session.on('goaway', (errorCode) => {
      // RFC 9113 §6.8: streams already open run on; no new ones here. With
      // an error code node destroys the session, and 'error' follows.
      if (errorCode === http2.constants.NGHTTP2_NO_ERROR) this.#retire('goaway');
    });
    session.on('error', (error) => this.#lost(error));
    session.once('close', () => {
      this.#lost(new Error(`The HTTP/2 session to ${origin} closed`));
    });
  }

  /** SETTINGS allow extended CONNECT: open a stream for each waiting WebSocket, within the limit. */
  #drainWaiting(): void {
    const limit = this.session!.remoteSettings.maxConcurrentStreams ?? Infinity;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const claim of waiting) {
      if (claim.done) continue;
      if (this.#active.size < limit) this.#open(claim);
      // Past the server's limit: another session.
      else pool.assign(claim);
    }
  }

  #open(claim: Claim): void {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session!.request(claim.headers, { endStream: false });
    } catch (error) {
      // e.g. the session is closing: node refuses new streams synchronously.
      claim.done = true;
      claim.handler.onError(toError(error));
      this.release(claim);
      return;
    }
    claim.stream = stream;
    this.#active.add(claim);
    // Until the response, the stream's failures are the pool's to report.
    let failure: Error | undefined;
    const onError = (error: Error): void => {
      failure ??= error;
    };
    stream.on('error', onError);
    stream.once('response', (headers) => {
      stream.off('error', onError);
      if (claim.done) return;
      claim.answered = true;
      claim.handler.onStream(stream, connectResponse(headers));
    });
    stream.once('close', () => {
      claim.stream = undefined;
      this.#active.delete(claim);
      if (!claim.answered && !claim.done) this.#unanswered(claim, stream, failure);
      else claim.done = true;
      this.release(claim);
    });
  }

  /** `claim`'s stream closed before its response. */
  #unanswered(claim: Claim, stream: http2.ClientHttp2Stream, failure: Error | undefined): void {
    if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && !claim.retried) {
      // RFC 9113 §8.7: a refused stream was not processed, and may be
      // retried. Node's server refuses new streams once its session is
      // closing, before any GOAWAY reaches us: this session is done.
      claim.retried = true;
      this.#retire('goaway');
      pool.assign(claim);
      return;
    }
    claim.done = true;
    claim.handler.onError(
      failure ??
        new Error(
          `The server reset the WebSocket's HTTP/2 stream before answering (error code ${stream.rstCode})`,
        ),
    );
  }

  /** The origin does not take WebSockets over HTTP/2: remember, and send its WebSockets to HTTP/1.1. */
  #fallBack(): void {
    pool.rememberFallback(this.key);
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#retire('closed');
    for (const claim of waiting) {
      if (claim.done) continue;
      claim.done = true;
      claim.handler.onFallback();
    }
  }

  /** The session or its connection failed. */
  #lost(error: Error): void {
    if (!this.#ready && !this.#retired && !this.target.tls && this.#connected) {
      // h2c by prior knowledge, and the server answered the preface with
      // something else than SETTINGS: it does not speak HTTP/2 (RFC 9113 §3.3).
      this.#fallBack();
      return;
    }
    this.#failAll(error);
  }

  #failAll(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#retire('closed');
    for (const claim of waiting) {
      if (claim.done) continue;
      claim.done = true;
      claim.handler.onError(error);
    }
    for (const claim of this.#active) {
      // Not yet answered: its stream's close reports it (#unanswered).
      if (!claim.done && claim.answered) claim.handler.onSessionLost(error);
    }
  }

  #retire(how: Exclude<Retired, false>): void {
    if (this.#retired === 'closed') return;
    this.#retired = how;
    pool.forget(this);
    // WebSockets still waiting for a stream try another session.
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const claim of waiting) if (!claim.done) pool.assign(claim);
    if (how !== 'closed') return;
    clearTimeout(this.#idleTimer);
    this.#tls?.destroy();
    const session = this.session;
    if (session && !session.destroyed) {
      // A failed session is dropped; an idle one says GOAWAY and closes.
      if (this.#failed) session.destroy();
      else session.close();
    }
  }
}

/** The process's sessions, by origin and TLS settings. */
class SessionPool {
  readonly #sessions = new Map<string, PooledSession[]>();
  /** Origins that answered "no WebSockets over HTTP/2", until when. */
  readonly #fallbacks = new Map<string, number>();

  open(
    target: Http2Target,
    headers: http2.OutgoingHttpHeaders,
    handler: Http2StreamHandler,
  ): Http2Claim {
    const claim = new Claim(target, headers, handler);
    const key = poolKey(target);
    const until = this.#fallbacks.get(key);
    if (until !== undefined && until > Date.now()) {
      process.nextTick(() => {
        if (claim.done) return;
        claim.done = true;
        handler.onFallback();
      });
      return claim;
    }
    this.#fallbacks.delete(key);
    this.#assign(claim, key);
    return claim;
  }

  /** Puts `claim` on a session that takes it, or a new one. */
  assign(claim: Claim): void {
    this.#assign(claim, poolKey(claim.target));
  }

  #assign(claim: Claim, key: string): void {
    let list = this.#sessions.get(key);
    let session = list?.find((s) => s.accepting);
    if (!session) {
      session = new PooledSession(key, claim.target);
      if (!list) this.#sessions.set(key, (list = []));
      list.push(session);
    }
    session.join(claim);
  }

  rememberFallback(key: string): void {
    const now = Date.now();
    // Forget expired answers first, so the map stays as large as the origins in use.
    for (const [other, until] of this.#fallbacks) if (until <= now) this.#fallbacks.delete(other);
    this.#fallbacks.set(key, now + FALLBACK_MEMORY);
  }

  /** `session` takes no new WebSockets. */
  forget(session: PooledSession): void {
    const list = this.#sessions.get(session.key);
    if (!list) return;
    const index = list.indexOf(session);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#sessions.delete(session.key);
  }
}

const pool = new SessionPool();

/**
 * Opens a WebSocket's extended CONNECT stream to `target` on a shared
 * session (made if needed), or reports that the origin wants HTTP/1.1.
 * @param headers - the request's header fields (`ClientConnection.connectHeaders`).
 */
export function openHttp2Stream(
  target: Http2Target,
  headers: Readonly<Record<string, string>>,
  handler: Http2StreamHandler,
): Http2Claim {
  return pool.open(target, { ...headers }, handler);
}

/**
 * A stream's response as the protocol takes it: the status, and the other
 * fields with lower-case names (node gives them so) and string values
 * (several values joined with `, `, as HTTP/1.1 would fold them).
 */
function connectResponse(
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader,
): ConnectResponse {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    fields[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return { status: Number(headers[':status']), headers: fields };
}

/**
 * Why an answered stream closed, if that was a failure: reset by the server
 * (RST_STREAM, HTTP/2's RST) or torn down with its session, rather than
 * ended both ways (END_STREAM, HTTP/2's FIN), which the transport reports as
 * the end of the connection as over TCP. `undefined` for a clean end.
 * @param session - the stream's session, read before it closed (node
 *   detaches it then).
 */
export function streamFailure(
  stream: http2.ClientHttp2Stream,
  session: http2.Http2Session | undefined,
): Error | undefined {
  // node marks a stream `aborted` when it closed with our side still open.
  if (!stream.aborted) return undefined;
  if (session?.destroyed === true || session?.closed === true) {
    return new Error('The HTTP/2 connection under the WebSocket closed');
  }
  return new Error(
    `The server reset the WebSocket's HTTP/2 stream (error code ${stream.rstCode ?? http2.constants.NGHTTP2_NO_ERROR})`,
  );
}

/**
 * Sessions are shared only between WebSockets that would have made the same
 * connection: same origin, same server name, same trust and credentials.
 * Credentials enter as a digest, so equal PEM strings and equal buffers share.
 */
function poolKey(target: Http2Target): string {
  const options = target.tls;
  if (!options) return target.origin;
  const digest = createHash('sha256');
  for (const credential of [options.ca, options.cert, options.key]) {
    const list =
      credential === undefined ? [] : Array.isArray(credential) ? credential : [credential];
    digest.update(`[${list.length}]`);
    for (const item of list) {
      const bytes = typeof item === 'string' ? Buffer.from(item) : (item as Uint8Array);
      digest.update(`${bytes.byteLength}:`).update(bytes);
    }
  }
  return [
    target.origin,
    options.servername ?? '',
    String(options.rejectUnauthorized ?? true),
    digest.digest('base64'),
  ].join(' ');
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
