/**
 * `ReconnectingWebSocket`: the WHATWG WebSocket's interface over a
 * succession of WebSockets, one per connection, reopened with backoff when
 * one is lost. Runtime-neutral: the WebSocket class and event classes are
 * injected ({@link WebSocketRuntime}), Node's own by the Node entry, the
 * browser's native ones by the browser entry, and nothing here touches Node.
 *
 * Two halves, kept apart so that a session layer can sit between them: the
 * transport attempts (providers, one underlying socket each, the retry
 * policy) and the application-facing socket (readyState, the offline queue,
 * the events). With the `session` option, the resumable session's layer
 * (`session-layer.ts`, {@link ClientSession}) sits there: it sees every
 * socket that opens, every message and every send, and tells this class when
 * to open to the application, what to dispatch, and when a connection is
 * over (its `ready`, `end`, a protocol breach, a dead link). Subclasses have
 * the protected hooks ({@link ReconnectingWebSocketBase.socketOpened} and
 * the others) for layers of their own.
 * @packageDocumentation
 */
import {
  HandshakeRejectedError,
  MAX_CLOSE_REASON_BYTES,
  type ProtocolError,
  parseSelectedProtocol,
  truncateCloseReason,
  utf8Length,
} from '@proj/protocol';
import { buildTarget, checkProtocols, checkUrl, provide } from './attempt-target.js';
import { OfflineQueue, type SendData } from './offline-queue.js';
import {
  GiveUpEvent,
  ReconnectedEvent,
  ReconnectingEvent,
  type SessionLostEvent,
  UnsentEvent,
} from './reconnect-events.js';
import {
  type OptionCapabilities,
  type ProtocolsSource,
  type ReconnectOptions,
  type ResolvedReconnectOptions,
  type UrlSource,
  resolveReconnectOptions,
} from './reconnect-options.js';
import { closeRetryAfter, httpRetryAfter } from './retry-hint.js';
import { type GiveUp, type GiveUpReason, type Ending, RetryPolicy } from './retry-policy.js';
import { ClientSession, SESSION_ERROR_CLOSE_CODE, type SessionDetach } from './session-layer.js';
import { type EventHandlerSlots, getEventHandler, setEventHandler } from './event-handlers.js';
import { toClampedUnsignedShort, toUSVString } from './webidl.js';
import {
  CLOSED,
  CLOSING,
  CONNECTING,
  OPEN,
  type ReadyState,
  type ReadyStateConstants,
  defineWebSocketInterface,
} from './websocket-interface.js';

/** What the class needs of a WebSocket: the WHATWG interface, nothing more. */
export interface WebSocketLike extends EventTarget {
  readonly url: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  readonly extensions: string;
  binaryType: string;
  /** Read for its type only: the event type it takes is the one re-dispatched. */
  onopen: unknown;
  /** Read for its type only. */
  onmessage: unknown;
  /** Read for its type only. */
  onerror: unknown;
  /** Read for its type only. */
  onclose: unknown;
  send(data: SendData): void;
  close(code?: number, reason?: string): void;
}

/** The event an `on*` attribute's handler takes, or `Fallback`. */
type HandlerEvent<H, Fallback> =
  NonNullable<H> extends (event: infer E extends Fallback) => unknown ? E : Fallback;

/** A `close` event, as any WebSocket dispatches it. */
export interface CloseEventLike extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** A `message` event, as any WebSocket dispatches it. */
export interface MessageEventLike extends Event {
  readonly data: unknown;
  readonly origin: string;
  readonly lastEventId: string;
}

/** The `close` event class of the WebSocket `S`. */
export type CloseEventOf<S extends WebSocketLike> = HandlerEvent<S['onclose'], CloseEventLike>;
/** The `message` event class of the WebSocket `S`. */
export type MessageEventOf<S extends WebSocketLike> = HandlerEvent<
  S['onmessage'],
  MessageEventLike
>;
/** The `error` event class of the WebSocket `S`: Node's `ErrorEvent`, a browser's plain `Event`. */
export type ErrorEventOf<S extends WebSocketLike> = HandlerEvent<S['onerror'], Event>;

/**
 * A runtime's WebSocket and event classes: how the Node and browser entries
 * bind the class (see each entry's `ReconnectingWebSocket`).
 * @typeParam S - the runtime's WebSocket.
 * @typeParam SocketOptions - what `socketOptions` takes (Node's
 *   `WebSocketOptions`; `never` in browsers).
 */
export interface WebSocketRuntime<
  S extends WebSocketLike,
  SocketOptions = never,
> extends OptionCapabilities<SocketOptions> {
  /**
   * Opens one underlying WebSocket. A throw (a `SyntaxError` for a URL or
   * protocols the WebSocket refuses) ends the ReconnectingWebSocket: no retry
   * can mend it.
   * @param headers - request headers (the token), only where `requestHeaders` is true.
   */
  connect(
    url: string,
    protocols: string[],
    headers: Record<string, string> | undefined,
    socketOptions: SocketOptions | undefined,
  ): S;
  /** Makes the re-dispatched `close` events. */
  readonly CloseEvent: new (
    type: string,
    init: { code?: number; reason?: string; wasClean?: boolean },
  ) => CloseEventOf<S>;
  /** Makes the re-dispatched `message` events. */
  readonly MessageEvent: new (
    type: string,
    init: { data?: unknown; origin?: string; lastEventId?: string },
  ) => MessageEventOf<S>;
  /**
   * Makes `error` events that carry a cause (a provider's failure, the open
   * timeout), and copies of the underlying socket's error events that are
   * instances of it; other error events are copied as plain `Event`s.
   */
  readonly ErrorEvent: new (
    type: string,
    init: { message?: string; error?: unknown; filename?: string; lineno?: number; colno?: number },
  ) => ErrorEventOf<S>;
  /** The base of relative URLs (a page's URL), if the runtime has one. */
  baseURL?(): string | undefined;
}

/** The events a ReconnectingWebSocket dispatches, by type. */
export interface ReconnectingWebSocketEventMap<S extends WebSocketLike = WebSocketLike> {
  /** A connection opened (every time; `reconnected` follows the second and later ones). */
  open: Event;
  /** A message arrived on the current connection. */
  message: MessageEventOf<S>;
  /** An underlying socket failed, or an attempt could not be made (a provider failed, the open timeout). */
  error: ErrorEventOf<S>;
  /**
   * An underlying socket closed (readyState then CONNECTING if a retry
   * follows), or, once, the ReconnectingWebSocket did (readyState CLOSED).
   */
  close: CloseEventOf<S>;
  /** A retry is scheduled. */
  reconnecting: ReconnectingEvent;
  /** A connection opened again, after one had been open. */
  reconnected: ReconnectedEvent;
  /** The network is down: no attempt until it is back. */
  offline: Event;
  /** Queued messages that will never be sent. */
  unsent: UnsentEvent;
  /** It stopped reconnecting on its own. */
  giveup: GiveUpEvent;
  /** With `session`: the session could not be resumed; a new one starts. */
  sessionlost: SessionLostEvent;
}

/** An event handler IDL attribute's value. */
export type ReconnectingEventHandler<T, E extends Event> = ((this: T, event: E) => unknown) | null;

/** The close code reported when the ReconnectingWebSocket ends with no socket to report it. */
const ABNORMAL = 1006;

/**
 * `active`: connecting, open or waiting to retry; `closing`: close() called
 * (or the server ended the session); `closed`: done.
 */
type Phase = 'active' | 'closing' | 'closed';

/** How the current socket ended. */
interface SocketEnding<S extends WebSocketLike> {
  /** The `close` event to dispatch. */
  readonly close: CloseEventOf<S>;
  readonly code: number;
  readonly reason: string;
  /** What the session layer makes of it (`retry` without one). */
  readonly session: SessionDetach;
}

/**
 * A WebSocket that reconnects: the WHATWG interface (`send`, `close`,
 * `readyState`, `bufferedAmount`, `protocol`, `onmessage`...) over one
 * underlying WebSocket per connection, reopened with exponential backoff
 * and full jitter when one is lost. Use each entry's `ReconnectingWebSocket`,
 * which binds this class to the runtime's WebSocket.
 *
 * - `readyState` is CONNECTING until a connection opens and again while
 *   reconnecting, OPEN while one is open, CLOSING after `close()`, and
 *   CLOSED only after `close()` or giving up.
 * - `send()` while not OPEN queues the message (bounded by
 *   `maxQueuedMessages` and `maxQueuedBytes`; what does not fit throws
 *   {@link OfflineQueueFullError}); queued messages go out, in order, as soon
 *   as a connection opens, before its `open` event.
 * - The URL, the protocols and a token may be providers, called before every
 *   attempt; a provider that fails fails that attempt, which is retried.
 * - No retry after the close codes 1002, 1003 and 1007-1010 (and
 *   `finalCloseCodes`); a 1012 or 1013 whose reason holds
 *   `retry-after=<seconds>`, or (Node) a 503 or 429 handshake answer with
 *   `Retry-After`, sets the next delay.
 * - With the `session` option, a resumable session
 *   (`docs/session-protocol.md`) runs over the connections: every message
 *   sent is logged until the server acknowledges it and replayed on the next
 *   connection, the server's messages are delivered once each, and a
 *   connection silent past `keepAliveTimeout` is dropped and resumed. The
 *   replay log takes the offline queue's place (and its limits).
 * @typeParam S - the runtime's WebSocket.
 * @typeParam SocketOptions - Node's `WebSocketOptions`; `never` in browsers.
 */
// The interface of the same name below only adds typed listener overloads.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ReconnectingWebSocketBase<
  S extends WebSocketLike,
  SocketOptions = never,
> extends EventTarget {
  /** Not yet open: connecting, or waiting to reconnect. */
  declare static readonly CONNECTING: 0;
  /** A connection is open. */
  declare static readonly OPEN: 1;
  /** `close()` was called; the last connection is closing. */
  declare static readonly CLOSING: 2;
  /** Closed for good: after `close()`, or after giving up. */
  declare static readonly CLOSED: 3;

  static {
    // The WebSocket interface's shape, under its own name.
    defineWebSocketInterface(this, 'ReconnectingWebSocket');
  }

  readonly #runtime: WebSocketRuntime<S, SocketOptions>;
  readonly #options: ResolvedReconnectOptions<SocketOptions>;
  readonly #urlSource: UrlSource;
  readonly #protocolsSource: ProtocolsSource | undefined;
  readonly #policy: RetryPolicy;
  readonly #queue: OfflineQueue;
  /** The session layer, with the `session` option. */
  readonly #session: ClientSession<S, MessageEventOf<S>> | undefined;
  readonly #handlers: EventHandlerSlots = new Map();
  #phase: Phase = 'active';
  /** The current underlying socket: connecting, open, or closing on the server's word. */
  #socket: S | undefined;
  /**
   * Whether `#socket` is open to the application: from its open event, or,
   * on a session connection, from the session's `ready`.
   */
  #socketOpen = false;
  #everOpened = false;
  #url = '';
  #protocol = '';
  #extensions = '';
  #binaryType = 'blob';
  /** The wait before the next attempt, or the task that ends a close() without a socket. */
  #timer: unknown;
  #openTimer: unknown;
  /** Bumped whenever the current attempt is abandoned, so its late results are ignored. */
  #attempt = 0;
  /** Waiting for the network's `online` event before the next attempt. */
  #waitingOnline = false;
  /** The retry number of the next attempt, 0 before any failure; for `reconnecting` after `online`. */
  #nextAttempt = 0;
  /** The server's hint for the next attempt, and when it ends (ms since the epoch). */
  #retryAfter: number | null = null;
  #retryAt = 0;
  /** `Retry-After` of the current attempt's refused handshake, in ms. */
  #httpRetryAfter: number | undefined;
  /** When the last connection closed. */
  #lostAt: number | undefined;
  /** The last close code an underlying socket reported. */
  #lastCode: number | null = null;

  /**
   * Checks the arguments as the WebSocket constructor does and starts the
   * first attempt in a later task.
   * @param runtime - the WebSocket and event classes to use (each entry's binding passes its own).
   * @throws {DOMException} `SyntaxError` for a URL or protocols (given as values) that
   *   the WebSocket constructor would refuse.
   * @throws {TypeError} or {RangeError} for an invalid option, naming it.
   */
  constructor(
    runtime: WebSocketRuntime<S, SocketOptions>,
    url: UrlSource,
    protocols?: ProtocolsSource,
    options?: ReconnectOptions<SocketOptions>,
  ) {
    super();
    if (url === undefined) {
      throw new TypeError(
        "Failed to construct 'ReconnectingWebSocket': 1 argument required, but only 0 present.",
      );
    }
    this.#runtime = runtime;
    if (typeof url === 'function') {
      this.#urlSource = url;
    } else {
      this.#url = checkUrl(url, runtime.baseURL?.()).href;
      this.#urlSource = this.#url;
    }
    this.#protocolsSource =
      protocols === undefined || typeof protocols === 'function'
        ? protocols
        : checkProtocols(protocols);
    const resolved = resolveReconnectOptions(options, runtime);
    this.#options = resolved;
    this.#policy = new RetryPolicy(resolved, resolved.now, resolved.random);
    this.#queue = new OfflineQueue(resolved.maxQueuedMessages, resolved.maxQueuedBytes);
    this.#session =
      resolved.session === null
        ? undefined
        : new ClientSession(
            resolved.session,
            { maxMessages: resolved.maxQueuedMessages, maxBytes: resolved.maxQueuedBytes },
            resolved,
            {
              attached: (socket) => this.#openToApplication(socket),
              deliver: (event, data, lastEventId) => this.#deliver(event, data, lastEventId),
              lost: (event) => this.dispatchEvent(event),
              breach: (socket, error) => this.#sessionBreach(socket, error),
              ended: (socket) => this.#sessionEnded(socket),
              dead: (socket, error) => this.dropSocket(socket, error),
            },
          );
    resolved.network?.addEventListener('online', this.#onOnline);
    resolved.network?.addEventListener('offline', this.#onOffline);
    // A task away, so listeners added after the constructor hear everything,
    // an `offline` event included.
    this.#timer = resolved.setTimeout(this.#onRetryTimer, 0);
  }

  /**
   * The URL of the last attempt, without the token: the given URL, parsed
   * (`http:` shows as `ws:`); with a URL provider, `""` until it first answers.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-url
   */
  get url(): string {
    return this.#url;
  }

  /**
   * `CONNECTING` (0) until a connection opens and whenever there is none
   * (reconnecting, waiting for the network, or the server closing it),
   * `OPEN` (1) while one is, `CLOSING` (2) after `close()`, `CLOSED` (3)
   * after `close()` completed or giving up. It changes in the tasks that
   * dispatch the events.
   */
  get readyState(): ReadyState {
    if (this.#phase === 'closed') return CLOSED;
    if (this.#phase === 'closing') return CLOSING;
    return this.#socketOpen && this.#socket?.readyState === OPEN ? OPEN : CONNECTING;
  }

  /**
   * Bytes passed to `send()` and not yet handed to the network: the current
   * socket's `bufferedAmount` plus the offline queue's bytes (UTF-8 bytes of
   * text, bytes of binary). What a lost socket had not sent is lost with it.
   * With `session`, the replay log's messages not yet written to the current
   * connection take the queue's place: while disconnected, every message the
   * server has not acknowledged (all of them go out again on the next
   * connection); and the session's own control messages (acknowledgements)
   * are left out: only what the application sent counts.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
   */
  get bufferedAmount(): number {
    // 0 while connecting: nothing can be sent on it yet.
    const buffered = this.#socket?.bufferedAmount ?? 0;
    const session = this.#session;
    if (!session) return buffered + this.#queue.bytes;
    // The session's acknowledgements are not the application's bytes.
    return buffered - session.controlBytesIn(buffered) + session.unwrittenBytes;
  }

  /**
   * The subprotocol the server chose on the last connection that opened, or
   * `""`; with `session`, its application part (`chat.v1` of
   * `proj-session.v1+chat.v1`).
   */
  get protocol(): string {
    return this.#protocol;
  }

  /**
   * With `session`: the current session's id, from the server's `ready`;
   * `null` before the first, after the session was lost (until the next
   * `ready`) or ended, and without `session`.
   */
  get sessionId(): string | null {
    return this.#session?.id ?? null;
  }

  /** The extensions the server accepted on the last connection that opened, or `""`. */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * How binary messages are exposed, `"blob"` (default) or `"arraybuffer"`,
   * applied to every underlying socket; other values are ignored.
   */
  get binaryType(): 'blob' | 'arraybuffer' {
    return this.#binaryType as 'blob' | 'arraybuffer';
  }

  set binaryType(value: 'blob' | 'arraybuffer') {
    const type = `${value as string}`;
    if (type !== 'blob' && type !== 'arraybuffer') return;
    this.#binaryType = type;
    if (this.#socket) this.#socket.binaryType = type;
  }

  /** The `open` event's handler. */
  get onopen(): ReconnectingEventHandler<ReconnectingWebSocketBase<S, SocketOptions>, Event> {
    return getEventHandler(this.#handlers, 'open');
  }

  set onopen(value: ReconnectingEventHandler<ReconnectingWebSocketBase<S, SocketOptions>, Event>) {
    setEventHandler(this.#handlers, this, 'open', value);
  }

  /** The `message` event's handler. */
  get onmessage(): ReconnectingEventHandler<
    ReconnectingWebSocketBase<S, SocketOptions>,
    MessageEventOf<S>
  > {
    return getEventHandler(this.#handlers, 'message');
  }

  set onmessage(
    value: ReconnectingEventHandler<ReconnectingWebSocketBase<S, SocketOptions>, MessageEventOf<S>>,
  ) {
    setEventHandler(this.#handlers, this, 'message', value);
  }

  /** The `error` event's handler. */
  get onerror(): ReconnectingEventHandler<
    ReconnectingWebSocketBase<S, SocketOptions>,
    ErrorEventOf<S>
  > {
    return getEventHandler(this.#handlers, 'error');
  }

  set onerror(
    value: ReconnectingEventHandler<ReconnectingWebSocketBase<S, SocketOptions>, ErrorEventOf<S>>,
  ) {
    setEventHandler(this.#handlers, this, 'error', value);
  }

  /** The `close` event's handler: every connection's close, then the final one. */
  get onclose(): ReconnectingEventHandler<
    ReconnectingWebSocketBase<S, SocketOptions>,
    CloseEventOf<S>
  > {
    return getEventHandler(this.#handlers, 'close');
  }

  set onclose(
    value: ReconnectingEventHandler<ReconnectingWebSocketBase<S, SocketOptions>, CloseEventOf<S>>,
  ) {
    setEventHandler(this.#handlers, this, 'close', value);
  }

  /**
   * Sends `data` on the open connection, or queues it while there is none
   * (CONNECTING): queued messages are sent, in order, as soon as a
   * connection opens. With `session`, every message is logged (connected or
   * not) until the server acknowledges it, and written as soon as the
   * session's connection takes it.
   * @throws {OfflineQueueFullError} when the queue (the replay log, with
   *   `session`) cannot take it (`maxQueuedMessages`, `maxQueuedBytes`): it
   *   is neither sent nor queued.
   * @throws {DOMException} `InvalidStateError` once CLOSING or CLOSED (a
   *   WebSocket would discard the data silently; nothing here is dropped
   *   without a word).
   * @see https://websockets.spec.whatwg.org/#dom-websocket-send
   */
  send(data: SendData): void {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to execute 'send' on 'ReconnectingWebSocket': 1 argument required, but only 0 present.",
      );
    }
    if (this.#phase !== 'active') {
      throw new DOMException(
        "Failed to execute 'send' on 'ReconnectingWebSocket': it is CLOSING or CLOSED, so the data would never be sent.",
        'InvalidStateError',
      );
    }
    if (this.#session) this.#session.send(data);
    else if (this.readyState === OPEN) this.socketSend(this.#socket!, data);
    else this.#queue.push(data);
  }

  /**
   * Closes for good: closes the current connection (or abandons the
   * attempt, as a WebSocket's `close()` does while connecting), and cancels
   * any wait to reconnect. Messages still queued are reported by an
   * `unsent` event; a final `close` event follows (1006 when there was no
   * connection to close). No timer is left behind. With `session`, ends the
   * session: `end` goes out first on a session connection.
   * @param code - 1000, or 3000-4999.
   * @param reason - at most 123 bytes of UTF-8.
   * @throws {DOMException} `InvalidAccessError` for another code; `SyntaxError` for a longer reason.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-close
   */
  close(code?: number, reason?: string): void {
    const closeCode = code === undefined ? undefined : toClampedUnsignedShort(code);
    const closeReason = reason === undefined ? undefined : toUSVString(reason);
    if (closeCode !== undefined && closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
      throw new DOMException(
        `The close code must be either 1000, or between 3000 and 4999. ${closeCode} is neither.`,
        'InvalidAccessError',
      );
    }
    if (closeReason !== undefined && utf8Length(closeReason) > MAX_CLOSE_REASON_BYTES) {
      throw new DOMException(
        `The close reason must not be greater than ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes.`,
        'SyntaxError',
      );
    }
    if (this.#phase !== 'active') return;
    this.#phase = 'closing';
    this.#stop();
    const socket = this.#socket;
    if (socket) {
      this.#session?.closing();
      // Its close event (after an error event, if it was still connecting)
      // ends this object, in #onSocketClose.
      if (closeCode === undefined && closeReason === undefined) socket.close();
      else socket.close(closeCode, closeReason);
      return;
    }
    // No socket to report the end: a task of our own, as events never fire
    // inside close().
    this.#timer = this.#options.setTimeout(this.#onClosedWithoutSocket, 0);
  }

  // ---- hooks for a session layer ----

  /**
   * A new underlying socket opened (on a session connection: the session
   * is attached). Runs before the queued sends are flushed to it and before
   * `open` is dispatched: the place for a session layer to resume (replay
   * what the server did not acknowledge, ahead of anything new). Does
   * nothing by default.
   * @param reconnected - whether a connection had been open before.
   */
  protected socketOpened(_socket: S, _reconnected: boolean): void {}

  /**
   * A message arrived on the current socket; returns whether to dispatch it
   * to the application (a session layer keeps its acknowledgements). By
   * default every message is dispatched. With `session`, the session reads
   * its connections' messages first: this sees those of plain connections.
   */
  protected socketMessage(_socket: S, _event: MessageEventOf<S>): boolean {
    return true;
  }

  /**
   * Sends application data on an open socket (a session layer wraps it
   * here). Not used with `session`, whose layer writes its own messages.
   */
  protected socketSend(socket: S, data: SendData): void {
    socket.send(data);
  }

  /** The protocols an attempt offers (a session layer adds its own; `session` has added its offer). */
  protected attemptProtocols(protocols: string[]): string[] {
    return protocols;
  }

  /**
   * Drops `socket`, the current one, without waiting for a closing handshake
   * (a link found dead would never complete one): stops listening to it,
   * closes it, and carries on as if it had closed abnormally: an `error`
   * event carrying `error`, then `close` with 1006 and a retry (or the final
   * `close`, after `close()`). Runtime-neutral; the session's liveness check
   * uses it.
   */
  protected dropSocket(socket: S, error: Error): void {
    if (socket !== this.#socket) return;
    const phase = this.#phase;
    const ending = this.#socketGone(socket, ABNORMAL, '', false);
    // The close frame goes out if it can; nothing waits for an answer.
    socket.close();
    const message = error.message;
    this.dispatchEvent(new this.#runtime.ErrorEvent('error', { message, error }));
    // A listener may have called close(), which ends on its own with no socket.
    if (phase === 'active' && this.#phase !== 'active') return;
    this.#afterSocketGone(ending);
  }

  // ---- transport attempts ----

  /** Starts an attempt: providers first, then a socket. */
  async #connect(): Promise<void> {
    const id = ++this.#attempt;
    this.#httpRetryAfter = undefined;
    const { openTimeout } = this.#options;
    if (openTimeout > 0) {
      this.#openTimer = this.#options.setTimeout(() => this.#onOpenTimeout(id), openTimeout);
    }
    let provided;
    try {
      provided = await provide(this.#urlSource, this.#protocolsSource, this.#options.token);
    } catch (error) {
      if (id === this.#attempt) this.#attemptFailed(error, false);
      return;
    }
    if (id !== this.#attempt) return;
    let socket: S;
    try {
      const target = buildTarget(provided, this.#options, this.#runtime.baseURL?.());
      this.#url = target.shownUrl;
      const protocols = this.#session ? this.#session.offer(target.protocols) : target.protocols;
      socket = this.#runtime.connect(
        target.url,
        this.attemptProtocols(protocols),
        target.headers,
        this.#options.socketOptions,
      );
    } catch (error) {
      this.#attemptFailed(error, true);
      return;
    }
    this.#socket = socket;
    this.#socketOpen = false;
    socket.binaryType = this.#binaryType;
    socket.addEventListener('open', this.#onSocketOpen);
    socket.addEventListener('message', this.#onSocketMessage);
    socket.addEventListener('error', this.#onSocketError);
    socket.addEventListener('close', this.#onSocketClose);
  }

  #detach(socket: S): void {
    socket.removeEventListener('open', this.#onSocketOpen);
    socket.removeEventListener('message', this.#onSocketMessage);
    socket.removeEventListener('error', this.#onSocketError);
    socket.removeEventListener('close', this.#onSocketClose);
    if (this.#socket === socket) {
      this.#socket = undefined;
      this.#socketOpen = false;
    }
  }

  readonly #onSocketOpen = (event: Event): void => {
    const socket = event.target as S;
    if (socket !== this.#socket) return;
    // A session connection opens to the application at the session's
    // `ready`: until then it is CONNECTING, and openTimeout still runs.
    if (this.#session?.opened(socket)) return;
    this.#openToApplication(socket);
  };

  /** `socket` is open to the application: the queue goes out, then `open` (and `reconnected`). */
  #openToApplication(socket: S): void {
    // A `sessionlost` listener may have closed it.
    if (socket !== this.#socket || this.#phase !== 'active') return;
    this.#clearOpenTimer();
    this.#socketOpen = true;
    this.#protocol = this.#session ? parseSelectedProtocol(socket.protocol).app : socket.protocol;
    this.#extensions = socket.extensions;
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    const attempts = this.#policy.retries;
    this.#policy.opened();
    const downtime = this.#lostAt === undefined ? 0 : this.#options.now() - this.#lostAt;
    this.socketOpened(socket, reconnected);
    // The hook may have closed it.
    if (this.readyState !== OPEN || socket !== this.#socket) return;
    for (const data of this.#queue.drain()) this.socketSend(socket, data);
    this.dispatchEvent(new Event('open'));
    if (reconnected && this.#phase === 'active') {
      this.dispatchEvent(new ReconnectedEvent('reconnected', { attempts, downtime }));
    }
  }

  readonly #onSocketMessage = (event: Event): void => {
    const socket = event.target as S;
    if (socket !== this.#socket) return;
    const message = event as MessageEventOf<S>;
    if (this.#session && !this.#session.message(socket, message)) return;
    if (!this.socketMessage(socket, message)) return;
    this.#deliver(message, message.data, message.lastEventId);
  };

  /** Dispatches `message` with `data`: events cannot be dispatched twice, so a new one. */
  #deliver(message: MessageEventOf<S>, data: unknown, lastEventId: string): void {
    this.dispatchEvent(
      new this.#runtime.MessageEvent('message', { data, origin: message.origin, lastEventId }),
    );
  }

  /**
   * The server broke the session protocol on `socket`: it is closed with
   * {@link SESSION_ERROR_CLOSE_CODE}, after an `error` event with the
   * `ProtocolError`; its close is final.
   */
  #sessionBreach(socket: S, error: ProtocolError): void {
    if (socket !== this.#socket) return;
    socket.close(SESSION_ERROR_CLOSE_CODE, truncateCloseReason(error.message));
    this.dispatchEvent(new this.#runtime.ErrorEvent('error', { message: error.message, error }));
  }

  /** The server ended the session: CLOSING until its close, which is final. */
  #sessionEnded(socket: S): void {
    if (socket !== this.#socket || this.#phase !== 'active') return;
    this.#phase = 'closing';
    this.#stop();
  }

  readonly #onSocketError = (event: Event): void => {
    if (event.target !== this.#socket) return;
    const ErrorEventClass = this.#runtime.ErrorEvent;
    if (event instanceof ErrorEventClass) {
      const { message, error, filename, lineno, colno } = event as unknown as ErrorEvent;
      // Node reports a refused handshake with its status and headers
      // (browsers never expose them): a 503's Retry-After is honoured.
      if (error instanceof HandshakeRejectedError) {
        this.#httpRetryAfter = httpRetryAfter(error.status, error.headers, this.#options.now());
      }
      this.dispatchEvent(new ErrorEventClass('error', { message, error, filename, lineno, colno }));
    } else {
      this.dispatchEvent(new Event('error'));
    }
  };

  readonly #onSocketClose = (event: Event): void => {
    const socket = event.target as S;
    if (socket !== this.#socket) return;
    const { code, reason, wasClean } = event as CloseEventOf<S>;
    this.#afterSocketGone(this.#socketGone(socket, code, reason, wasClean));
  };

  /** The current socket closed, or was dropped: forget it, and say how it ended. */
  #socketGone(socket: S, code: number, reason: string, wasClean: boolean): SocketEnding<S> {
    const wasOpen = this.#socketOpen;
    this.#detach(socket);
    this.#clearOpenTimer();
    const session = this.#session?.detached(socket, wasClean) ?? 'retry';
    const close = new this.#runtime.CloseEvent('close', { code, reason, wasClean });
    this.#lastCode = code;
    if (wasOpen) this.#lostAt = this.#options.now();
    return { close, code, reason, session };
  }

  /** Carries out the end of a socket: the final close, or the next attempt. */
  #afterSocketGone({ close, code, reason, session }: SocketEnding<S>): void {
    if (this.#phase === 'closing' || session === 'ended') {
      this.#finish(close);
      return;
    }
    if (session === 'breach') {
      this.#finish(close, this.#policy.giveUp('close-code'));
      return;
    }
    this.#ended({ code, retryAfter: closeRetryAfter(code, reason) ?? this.#httpRetryAfter }, close);
  }

  /**
   * The attempt timed out: abandon it (and its socket, still connecting, or
   * waiting for its session's `ready`) and count it failed.
   */
  #onOpenTimeout(id: number): void {
    if (id !== this.#attempt) return;
    this.#openTimer = undefined;
    const socket = this.#socket;
    if (socket) {
      this.#detach(socket);
      this.#session?.detached(socket, false);
      socket.close();
    }
    const ms = this.#options.openTimeout;
    this.#attemptFailed(new Error(`No connection opened within openTimeout (${ms} ms)`), false);
  }

  /** An attempt failed with no socket to report it: a provider, a bad target, the timeout. */
  #attemptFailed(error: unknown, final: boolean): void {
    this.#attempt++;
    this.#clearOpenTimer();
    const message = error instanceof Error ? error.message : String(error);
    this.dispatchEvent(new this.#runtime.ErrorEvent('error', { message, error }));
    // A listener may have called close(), which finishes on its own.
    if (this.#phase !== 'active') return;
    if (final) this.#finish(undefined, this.#policy.giveUp('invalid'), error);
    else this.#ended({}, undefined);
  }

  // ---- between attempts ----

  /**
   * A connection or an attempt ended while active: schedule the next attempt
   * (or wait for the network) and say so, or give up.
   */
  #ended(ending: Ending, close: CloseEventOf<S> | undefined): void {
    const decision = this.#policy.ended(ending);
    if (!decision.retry) {
      this.#finish(close, decision);
      return;
    }
    const options = this.#options;
    this.#nextAttempt = decision.attempt;
    this.#retryAfter = decision.retryAfter;
    this.#retryAt = decision.retryAfter === null ? 0 : options.now() + decision.delay;
    const offline = options.network?.onLine === false;
    // The timer is set before the events, so that close() in a listener cancels it.
    if (offline) this.#waitingOnline = true;
    else this.#timer = options.setTimeout(this.#onRetryTimer, decision.delay);
    if (close) this.dispatchEvent(close);
    if (this.#phase !== 'active') return;
    if (offline) this.dispatchEvent(new Event('offline'));
    else this.dispatchEvent(new ReconnectingEvent('reconnecting', decision));
  }

  readonly #onRetryTimer = (): void => {
    this.#timer = undefined;
    if (this.#options.network?.onLine === false) {
      this.#waitingOnline = true;
      this.dispatchEvent(new Event('offline'));
      return;
    }
    void this.#connect();
  };

  /** The network went down: a wait for a retry becomes a wait for the network. */
  readonly #onOffline = (): void => {
    // A socket that is connecting or open finds out on its own.
    if (this.#phase !== 'active' || this.#waitingOnline || this.#timer === undefined) return;
    this.#options.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waitingOnline = true;
    this.dispatchEvent(new Event('offline'));
  };

  /** The network is back: retry at once, or when the server's hint ends. */
  readonly #onOnline = (): void => {
    if (this.#phase !== 'active' || !this.#waitingOnline) return;
    this.#waitingOnline = false;
    if (this.#policy.expired()) {
      this.#finish(undefined, this.#policy.giveUp('max-retry-time'));
      return;
    }
    const delay = Math.max(0, this.#retryAt - this.#options.now());
    if (delay > 0) this.#timer = this.#options.setTimeout(this.#onRetryTimer, delay);
    if (this.#nextAttempt > 0) {
      const retryAfter = this.#retryAfter;
      this.dispatchEvent(
        new ReconnectingEvent('reconnecting', { attempt: this.#nextAttempt, delay, retryAfter }),
      );
      if (this.#phase !== 'active') return;
    }
    if (delay === 0) void this.#connect();
  };

  readonly #onClosedWithoutSocket = (): void => {
    this.#timer = undefined;
    this.#finish(undefined);
  };

  /** Cancels every wait and pending attempt, and stops listening to the network. */
  #stop(): void {
    this.#attempt++;
    const options = this.#options;
    if (this.#timer !== undefined) options.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#clearOpenTimer();
    this.#waitingOnline = false;
    options.network?.removeEventListener('online', this.#onOnline);
    options.network?.removeEventListener('offline', this.#onOffline);
  }

  #clearOpenTimer(): void {
    if (this.#openTimer !== undefined) this.#options.clearTimeout(this.#openTimer);
    this.#openTimer = undefined;
  }

  /**
   * The end: CLOSED, then `unsent` (if messages were queued), the final
   * `close` (the last socket's, or 1006 with none), and `giveup` when it
   * gave up on its own.
   */
  #finish(close: CloseEventOf<S> | undefined, giveUp?: GiveUp, error?: unknown): void {
    this.#phase = 'closed';
    this.#stop();
    const { messages, bytes } = this.#session
      ? this.#session.finish()
      : { bytes: this.#queue.bytes, messages: this.#queue.drain() };
    if (messages.length > 0) this.dispatchEvent(new UnsentEvent('unsent', { messages, bytes }));
    this.dispatchEvent(
      close ??
        new this.#runtime.CloseEvent('close', { code: ABNORMAL, reason: '', wasClean: false }),
    );
    if (giveUp) {
      const reason: GiveUpReason = giveUp.reason;
      this.dispatchEvent(
        new GiveUpEvent('giveup', {
          reason,
          attempts: giveUp.attempts,
          code: this.#lastCode,
          error,
        }),
      );
    }
  }
}

// The constants on instances, and typed listeners for the events above, as
// lib.dom declares a WebSocket's.
export interface ReconnectingWebSocketBase<
  S extends WebSocketLike,
  // A merged declaration must repeat the class's type parameters, used or not.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  SocketOptions = never,
> extends ReadyStateConstants {
  addEventListener<K extends keyof ReconnectingWebSocketEventMap<S>>(
    type: K,
    listener: (this: this, event: ReconnectingWebSocketEventMap<S>[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ReconnectingWebSocketEventMap<S>>(
    type: K,
    listener: (this: this, event: ReconnectingWebSocketEventMap<S>[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

export {
  GiveUpEvent,
  ReconnectedEvent,
  ReconnectingEvent,
  SessionLostEvent,
  UnsentEvent,
} from './reconnect-events.js';
export {
  type ReconnectedEventInit,
  type ReconnectingEventInit,
  type GiveUpEventInit,
  type SessionLostEventInit,
  type UnsentEventInit,
} from './reconnect-events.js';
export { type SessionOptions } from './session-options.js';
export {
  OfflineQueueFullError,
  type QueueLimit,
  type QueuedData,
  type SendData,
} from './offline-queue.js';
export {
  type NetworkStatus,
  type ProtocolsSource,
  type ReconnectEnvironment,
  type ReconnectOptions,
  type TokenSource,
  type UrlSource,
} from './reconnect-options.js';
export { type GiveUpReason } from './retry-policy.js';
