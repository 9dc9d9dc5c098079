import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import {
  type IncomingMessage,
  type Server as HttpServer,
  STATUS_CODES,
  createServer,
} from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCode, encodeUtf8, toBytes } from '@proj/protocol';
import { Http2Routing, adoptStream, isHttp2Server, respondToStream } from './http2-streams.js';
import { type UpgradeRequest, isHttp2Request } from './request.js';
import type { ServerSession } from './server-session.js';
import { SessionHost } from './session-host.js';
import { SESSIONS_SUBSCRIBER } from './session-topics.js';
import { SpreadSweep } from './spread-sweep.js';
import { MemoryBudget, ownIfLent } from '@proj/transport';
import {
  type AttachableServer,
  type ResolvedOptions,
  type ServerOptions,
  resolveOptions,
} from './options.js';
import { type Rejection, isRejection } from './rejection.js';
import {
  type ConnectionPolicy,
  type ServerSendData,
  ServerWebSocket,
  heartbeat,
  idleSweep,
  sendEncoded,
  closeAs,
  terminateAs,
  wireBytes,
} from './server-websocket.js';
import {
  Counters,
  type ServerStats,
  type UserCodeSite,
  debug,
  debugging,
  handshakeRejectedChannel,
  memoryPressureChannel,
  memoryStats,
  openChannel,
  userErrorChannel,
  warnUserError,
} from './diagnostics.js';
import { type DrainOptions, type DrainPlan, planDrain, spreadOver } from './drain.js';
import { fanOut } from './fan-out.js';
import { MemoryAdapter, type PubSubAdapter } from './pubsub-adapter.js';
import { TopicRegistry } from './topics.js';
import {
  HookFailure,
  type UpgradeOutcome,
  abortHandshake,
  checkRequest,
  negotiateUpgrade,
} from './upgrade.js';

/**
 * `Retry-After` (seconds) of a handshake refused over the memory budget: the
 * pressure of a burst of large messages passes in about that time, and a
 * client retrying sooner would only be refused again.
 */
const MEMORY_RETRY_AFTER = 5;
/** What an HTTP/2 stream brings past its handshake: nothing, the head is header fields. */
const EMPTY_HEAD = Buffer.alloc(0);

/** `server.sessions` of a server without sessions. */
const NO_SESSIONS: ReadonlyMap<string, never> = new Map<string, never>();

/** `stats().sessions` of a server without sessions. */
const NO_SESSION_STATS = Object.freeze({
  held: 0,
  attached: 0,
  suspended: 0,
  created: 0,
  resumed: 0,
  lost: 0,
  expired: 0,
  replayedMessages: 0,
  duplicatesDiscarded: 0,
  storeErrors: 0,
});

/** The WebSocketServers attached to each HTTP server, in attach order. */
/** `handleUpgrade`'s callback, once its request type is no longer needed. */
type OnConnection<Data> = (socket: ServerWebSocket<Data>, request: UpgradeRequest) => void;

const attachedServers = new WeakMap<AttachableServer, WebSocketServer<unknown>[]>();

/** Events of a {@link WebSocketServer}, with their listener arguments. */
export interface WebSocketServerEvents<Data, Request extends UpgradeRequest = IncomingMessage> {
  /** A handshake succeeded: a new open connection (one without a session). */
  connection: [socket: ServerWebSocket<Data>, request: Request];
  /**
   * This server holds a session now: a new one (the client's `hello`), or
   * one that moved here from another node through the store
   * (`session.moved`, with its numbers and topics). Attach its listeners
   * here. A throw ends the session with 1011 and is reported as `error`.
   */
  session: [session: ServerSession<Data>, request: Request];
  /** Standalone mode: the server is listening. */
  listening: [];
  /**
   * A handshake was refused (bad request, origin, `authenticate`, timeout).
   * For logging; the client has been answered already.
   */
  rejected: [status: number, reason: string, request: Request];
  /**
   * Standalone mode: the HTTP server failed (e.g. the port is in use; a
   * pending {@link WebSocketServer.ready} rejects with it too). And an error
   * the application's code threw: a handshake hook (the client got 500), a
   * `connection` listener (1011), or a connection's listener when that
   * connection has no `error` listener. Without a listener here such errors
   * are printed as a process warning with their stack (code
   * `WS_USER_CODE_ERROR`), and a listen error nobody awaits is thrown.
   */
  error: [error: Error];
  /** {@link WebSocketServer.close} finished. */
  close: [];
}

/** Options of {@link WebSocketServer.broadcast}. */
export interface BroadcastOptions<Data> {
  /** Send as binary. Default: `true` for binary data, `false` for a string. */
  binary?: boolean;
  /**
   * Only connections (and sessions) for which this returns true receive the
   * message (e.g. all but the sender).
   */
  filter?: (recipient: ServerWebSocket<Data> | ServerSession<Data>) => boolean;
}

/** Options of {@link WebSocketServer.publish}. */
export interface PublishOptions<Data> {
  /** Send as binary. Default: `true` for binary data, `false` for a string. */
  binary?: boolean;
  /** A local subscriber (connection or session) that does not receive it (typically the sender). */
  except?: ServerWebSocket<Data> | ServerSession<Data>;
}

/** Options of {@link WebSocketServer.close}. */
export interface ServerCloseOptions {
  /** Close code sent to every client. Default 1001 (Going Away). */
  code?: number;
  /** Close reason sent to every client. Default `""`. */
  reason?: string;
  /** Milliseconds to wait for clients to close before terminating them. Default: the `closeTimeout` option. */
  timeout?: number;
}

/**
 * A WebSocket server on Node sockets, in one of three modes: standalone
 * (`{ port }`: its own HTTP server, which answers plain requests with 426),
 * attached (`{ server }`: an existing `node:http`/`node:https` server), or
 * `{ noServer: true }` (call {@link handleUpgrade} yourself).
 *
 * @typeParam Data - what `authenticate` attaches to each connection.
 *
 * @example
 * const server = new WebSocketServer({ port: 8080 });
 * server.on('connection', (socket) => {
 *   socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
 * });
 */
export class WebSocketServer<
  Data = undefined,
  Request extends UpgradeRequest = IncomingMessage,
> extends EventEmitter<WebSocketServerEvents<Data, Request>> {
  readonly #options: ResolvedOptions<Data>;
  readonly #httpServer: AttachableServer | undefined;
  /** Attached to a `node:http2` server: how its extended CONNECT streams reach {@link handleUpgrade}. */
  readonly #http2Routing: Http2Routing | undefined;
  readonly #ownsServer: boolean;
  readonly #clients = new Set<ServerWebSocket<Data>>();
  readonly #topics: TopicRegistry<ServerWebSocket<unknown>>;
  /** What every connection of this server shares (one object, not a field each). */
  readonly #policy: ConnectionPolicy;
  /**
   * The same for session connections, without `maxBacklog`: what they queue
   * is bounded by the replay log, and a refused write would be a gap in the
   * session's numbering.
   */
  readonly #sessionPolicy: ConnectionPolicy | undefined;
  /** Resumable sessions, with the `sessions` option. */
  readonly #sessions: SessionHost<Data> | undefined;
  /** Delivers the adapter's messages (other nodes' publishes) to this node's sessions. */
  readonly #onAdapterMessage:
    ((topic: string, payload: Uint8Array, binary: boolean) => void) | undefined;
  /** Sockets (or HTTP/2 streams) between `upgrade` and the 101 (or refusal), with their requests. */
  readonly #pending = new Map<Duplex, UpgradeRequest>();
  readonly #onUpgrade = (request: UpgradeRequest, socket: Duplex, head: Buffer): void => {
    if (!this.#matchesPath(request)) {
      // Attached servers on one HTTP server share the 404: the first of them
      // answers it when none matches and no foreign upgrade listener exists
      // (that one may serve the path itself).
      const server = this.#httpServer as HttpServer;
      const siblings = attachedServers.get(server) ?? [this];
      const foreign = server.listenerCount('upgrade') > siblings.length;
      if (siblings[0] === this && !foreign && !siblings.some((s) => s.#matchesPath(request))) {
        abortHandshake(socket, {
          status: 404,
          headers: {},
          body: 'No WebSocket endpoint at this path',
        });
      }
      return;
    }
    this.handleUpgrade(request as Request, socket, head);
  };
  readonly #counters = new Counters();
  /** Settles the pending {@link ready} calls: with the listen error, or none once listening. */
  readonly #readyWaiters = new Set<(error?: Error) => void>();
  /** The error that stopped the standalone server from listening. */
  #listenError: Error | undefined;
  /** Pings every connection once per `heartbeatInterval`; with the option only. */
  readonly #heartbeat: SpreadSweep<ServerWebSocket<unknown>> | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Evicts connections left unread under memory pressure; runs only while the budget is exceeded. */
  #memorySweepTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /** Set by {@link drain}: what it tells clients (and refused handshakes). */
  #drainPlan: DrainPlan | undefined;

  /**
   * @param options - see {@link ServerOptions}; exactly one of `port`, `server`, `noServer`.
   * @param onListening - standalone mode: called once listening.
   * @throws {TypeError|RangeError} for invalid options, naming the option.
   */
  constructor(options: ServerOptions<Data, Request>, onListening?: () => void) {
    super();
    // Inside, every hook takes any UpgradeRequest: the type parameter only
    // says which ones this server's HTTP server can produce.
    this.#options = resolveOptions(options as ServerOptions<Data, UpgradeRequest>);
    const resolved = this.#options;
    // With sessions one stand-in subscriber holds the sessions' topics
    // (session-topics.ts): it is written nothing.
    this.#topics = new TopicRegistry<ServerWebSocket<unknown>>(
      resolved.adapter ?? new MemoryAdapter(),
      resolved.sessions
        ? (socket, frame) =>
            (socket as object) !== SESSIONS_SUBSCRIBER && sendEncoded(socket, frame)
        : sendEncoded,
    );
    // Each connection pinged once per interval, a slice of them at a time.
    this.#heartbeat =
      resolved.heartbeatInterval > 0
        ? new SpreadSweep<ServerWebSocket<unknown>>(resolved.heartbeatInterval, heartbeat)
        : undefined;
    this.#policy = {
      maxPayload: resolved.maxPayload,
      maxFragments: resolved.maxFragments,
      lendMessages: resolved.lendMessages,
      closeTimeout: resolved.closeTimeout,
      maxBacklog: resolved.maxBacklog,
      backlogPolicy: resolved.backlogPolicy,
      // A peer that pings without reading gets no pongs past the backlog cap.
      pongBacklogLimit: resolved.maxBacklog,
      memoryBudget:
        resolved.memoryBudget === Infinity
          ? undefined
          : new MemoryBudget(resolved.memoryBudget, (exceeded, budget) =>
              this.#memoryPressure(exceeded, budget),
            ),
      topics: this.#topics,
      // A connection leaves the set itself, just before its 'close'.
      clients: this.#clients as Set<ServerWebSocket<unknown>>,
      heartbeat: this.#heartbeat,
      counters: this.#counters,
      server: this,
      reportUserError: (error, socket, consequence) =>
        this.#reportUserError(error, 'socket-listener', socket, consequence),
    };
    if (resolved.sessions) {
      // A session's messages may wait for its store: never lent.
      this.#sessionPolicy = { ...this.#policy, maxBacklog: Infinity, lendMessages: false };
      const sessions = new SessionHost<Data>({
        settings: resolved.sessions,
        counters: this.#counters,
        closeTimeout: resolved.closeTimeout,
        registry: this.#topics as TopicRegistry<object>,
        announce: (session, request) => this.emit('session', session, request as Request),
        reportUserError: (error, site, session, consequence) =>
          this.#reportUserError(
            error,
            site,
            session.socket as ServerWebSocket<unknown> | undefined,
            consequence,
            session,
          ),
      });
      this.#sessions = sessions;
      this.#onAdapterMessage = (topic, payload, binary) =>
        void sessions.publish(topic, payload, binary, undefined, undefined);
      this.#topics.adapter.on('message', this.#onAdapterMessage);
    }
    if (resolved.port !== undefined) {
      const timeout = resolved.handshakeTimeout;
      this.#ownsServer = true;
      this.#httpServer = createServer(
        {
          maxHeaderSize: resolved.maxHeadSize,
          // The head must arrive within the handshake timeout (slowloris);
          // Node checks this every connectionsCheckingInterval.
          headersTimeout: timeout,
          requestTimeout: timeout + 1,
          connectionsCheckingInterval: Math.min(timeout, 1000),
        },
        (_request, response) => {
          const body = STATUS_CODES[426]!;
          response.writeHead(426, {
            upgrade: 'websocket',
            // "close" too: a request that is no handshake ends the connection,
            // like every other refused handshake (HTTP/1.0 and `Connection:
            // close` requests included, which `Upgrade` alone kept alive).
            connection: 'Upgrade, close',
            'content-type': 'text/plain',
            'content-length': body.length,
          });
          response.end(body);
        },
      );
      // node:http does not refuse a head past its maxHeadersCount: it keeps
      // that many fields and silently drops the rest. Keeping one more than
      // our limit is what lets the protocol's checkHeaderCount (in
      // checkRequest) see an overlong head as too many and answer 431,
      // instead of taking its first fields for the whole head.
      (this.#httpServer as HttpServer).maxHeadersCount = resolved.maxHeaderCount + 1;
      this.#httpServer.on('listening', () => {
        this.#settleReady(undefined);
        this.emit('listening');
      });
      this.#httpServer.on('error', (error) => this.#onHttpError(error));
      this.#httpServer.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) =>
        this.#onClientError(error, socket),
      );
      this.#httpServer.on('upgrade', this.#onUpgrade);
      // Without a 'connect' listener node:http drops a CONNECT request without
      // a word; a WebSocket endpoint answers it like any other wrong method,
      // with the protocol's refusal (405, Allow: GET).
      this.#httpServer.on('connect', (request, socket) => {
        const refusal = checkRequest(request, resolved) as Rejection;
        this.#refuse(socket, request, refusal.status, refusal.body!, refusal.headers);
      });
      if (onListening) this.once('listening', onListening);
      this.#httpServer.listen({
        port: resolved.port,
        host: resolved.host,
        backlog: resolved.backlog,
      });
    } else if (resolved.server) {
      const server = resolved.server;
      this.#ownsServer = false;
      this.#httpServer = server;
      server.on('upgrade', this.#onUpgrade);
      const siblings = attachedServers.get(server) ?? [];
      attachedServers.set(server, [...siblings, this as WebSocketServer<unknown>]);
      if (isHttp2Server(server)) {
        // RFC 8441 §3: a client may only ask once the server said it may.
        server.updateSettings({ enableConnectProtocol: true });
        this.#http2Routing = new Http2Routing(
          server,
          {
            matches: (request) => this.#matchesPath(request),
            handle: (request) =>
              this.handleUpgrade(request as UpgradeRequest as Request, request.stream, EMPTY_HEAD),
            refuseHttp1Connect: (request, socket) => {
              const refusal = checkRequest(request, resolved) as Rejection;
              this.#refuse(socket, request, refusal.status, refusal.body!, refusal.headers);
            },
          },
          () => (attachedServers.get(server) ?? []).map((s) => s.#http2Routing!),
        );
      }
    } else {
      this.#ownsServer = false;
      this.#httpServer = undefined;
    }
    if (resolved.idleTimeout > 0) {
      // One sweep for all connections instead of a timer each; sweeping four
      // times per timeout (at least once a second) closes an idle connection
      // between idleTimeout and idleTimeout + one sweep after its last byte.
      const every = Math.max(1, Math.min(Math.ceil(resolved.idleTimeout / 4), 1000));
      const sweeps = Math.ceil(resolved.idleTimeout / every) + 1;
      this.#idleTimer = setInterval(() => {
        for (const client of this.#clients) idleSweep(client as ServerWebSocket<unknown>, sweeps);
      }, every);
      this.#idleTimer.unref();
    }
  }

  /** The open (and closing) connections, session connections included. */
  get clients(): ReadonlySet<ServerWebSocket<Data>> {
    return this.#clients;
  }

  /**
   * The sessions this server holds (attached or suspended), by id; empty
   * without the `sessions` option.
   */
  get sessions(): ReadonlyMap<string, ServerSession<Data>> {
    return this.#sessions?.sessions ?? NO_SESSIONS;
  }

  /** The HTTP server in use (own or attached); `undefined` in no-server mode. */
  get httpServer(): AttachableServer | undefined {
    return this.#httpServer;
  }

  /** The bound address, as `net.Server#address()`; `null` before listening or in no-server mode. */
  address(): AddressInfo | string | null {
    return (this.#httpServer as HttpServer | undefined)?.address() ?? null;
  }

  /**
   * Resolves once listening (standalone), at once otherwise.
   * @throws rejects with the error that stopped the server from listening
   *   (`EADDRINUSE`, `EACCES`, ...); awaiting it is enough to handle that
   *   error, no `error` listener needed.
   * @example
   * const server = await new WebSocketServer({ port: 8080 }).ready();
   */
  async ready(): Promise<this> {
    if (this.#listenError) throw this.#listenError;
    const server = this.#httpServer;
    if (!this.#ownsServer || !server || server.listening) return this;
    await new Promise<void>((resolve, reject) => {
      this.#readyWaiters.add((error) => (error ? reject(error) : resolve()));
    });
    return this;
  }

  /**
   * A snapshot of what this server did (see {@link ServerStats}): open
   * connections, handshakes accepted and refused, messages and wire bytes
   * each way, closes by cause, errors in application code. Cheap enough to
   * scrape every few seconds: counters, plus a read of each open socket's
   * byte counts.
   * @example
   * setInterval(() => console.log(server.stats()), 10_000).unref();
   */
  stats(): ServerStats {
    const counters = this.#counters;
    let received = counters.closedBytesReceived;
    let sent = counters.closedBytesSent;
    for (const client of this.#clients) {
      const [read, written] = wireBytes(client as ServerWebSocket<unknown>);
      received += read;
      sent += written;
    }
    return {
      connections: this.#clients.size,
      pendingHandshakes: this.#pending.size,
      handshakes: {
        accepted: counters.handshakesAccepted,
        rejected: counters.handshakesRejected,
      },
      messages: { received: counters.messagesReceived, sent: counters.messagesSent },
      bytes: { received, sent },
      closes: { ...counters.closes },
      userErrors: counters.userErrors,
      sessions: this.#sessions?.stats() ?? NO_SESSION_STATS,
      memory: memoryStats(this.#policy.memoryBudget),
    };
  }

  /**
   * Completes a handshake for an `upgrade` event of any HTTP server: checks
   * it, answers 101 or an error status, then hands the connection over.
   * For an RFC 8441 extended CONNECT of a `node:http2` server (no-server
   * mode), pass the `Http2ServerRequest`, its `request.stream` as `socket`
   * and an empty `head`: the answer is then the stream's response (200).
   * @param onConnection - with it, the new connection goes to this callback
   *   only, as ws does: no `connection` event (ws's documented idiom emits
   *   `connection` from inside the callback, which would otherwise deliver
   *   every connection twice). Without it, `connection` is emitted. A
   *   session connection goes to neither: its session is emitted as `session`.
   */
  handleUpgrade(
    request: Request,
    socket: Duplex,
    head: Buffer,
    onConnection?: (socket: ServerWebSocket<Data>, request: Request) => void,
  ): void {
    if (this.#closing) {
      this.#refuseShuttingDown(socket, request);
      return;
    }
    // Closing connections still hold a socket, so they count until 'close'.
    if (this.#clients.size + this.#pending.size >= this.#options.maxConnections) {
      this.#refuse(socket, request, 503, 'Too many connections');
      return;
    }
    // Over the memory budget a new connection could only add to the pressure.
    if (this.#policy.memoryBudget?.exceeded) {
      this.#refuse(socket, request, 503, 'Server is over its memory budget', {
        'Retry-After': String(MEMORY_RETRY_AFTER),
      });
      return;
    }
    let outcome: UpgradeOutcome<Data> | Promise<UpgradeOutcome<Data>>;
    try {
      outcome = negotiateUpgrade(request, this.#options);
    } catch (error) {
      this.#hookFailed(socket, request, error);
      return;
    }
    // Without an asynchronous `authenticate` the handshake completes here,
    // in the tick node:http delivered it: nothing to wait for, so no timer,
    // no error listener and no pending entry (the head's arrival is timed by
    // node:http's headersTimeout in standalone mode).
    if (outcome instanceof Promise)
      this.#awaitUpgrade(request, socket, head, outcome, onConnection as OnConnection<Data>);
    else this.#completeUpgrade(request, socket, head, outcome, onConnection as OnConnection<Data>);
  }

  /**
   * Sends one message to every open connection (or those `filter` accepts).
   * The frame is encoded once and the same bytes are written to each socket,
   * so the cost per extra recipient is a socket write, not an encoding.
   * Every session held gets it as one of its messages (a session whose
   * replay log it does not fit ends: `session-window-full`).
   * @returns how many connections and sessions it reached.
   * @example
   * setInterval(() => server.broadcast(JSON.stringify(world)), 50);
   */
  broadcast(data: ServerSendData, options: BroadcastOptions<Data> = {}): number {
    const binary = options.binary ?? typeof data !== 'string';
    const payload = typeof data === 'string' ? encodeUtf8(data) : ownIfLent(toBytes(data));
    const filter = options.filter;
    const sessions = this.#sessions;
    if (sessions === undefined) {
      return fanOut(
        payload,
        binary,
        this.#clients as Set<ServerWebSocket<unknown>>,
        sendEncoded,
        filter && ((client) => !filter(client as ServerWebSocket<Data>)),
      );
    }
    const text = typeof data === 'string' && !binary ? data : undefined;
    return (
      fanOut(
        payload,
        binary,
        this.#clients as Set<ServerWebSocket<unknown>>,
        sendEncoded,
        (client) =>
          sessions.isSessionSocket(client) ||
          (filter !== undefined && !filter(client as ServerWebSocket<Data>)),
      ) + sessions.broadcast(payload, binary, text, filter)
    );
  }

  /**
   * Sends one message to every subscriber of `topic` (see
   * `ServerWebSocket#subscribe`): on this node, framed once with the same
   * bytes written to each subscriber, and through the `adapter` to the
   * subscribers on other nodes. Messages one publisher sends to a topic
   * reach each subscriber in order. A subscriber over its `maxBacklog` is
   * refused as `backlogPolicy` says; it never delays the others.
   * Sessions subscribed to `topic` get it as one of their messages (one
   * whose replay log it does not fit ends: `session-window-full`).
   * @returns how many local subscribers (connections and sessions) it reached.
   * @throws {TypeError} when `topic` is not a string.
   * @example
   * socket.subscribe('room:42');
   * server.publish('room:42', JSON.stringify(message), { except: socket });
   */
  publish(topic: string, data: ServerSendData, options: PublishOptions<Data> = {}): number {
    const binary = options.binary ?? typeof data !== 'string';
    // Kept past this call (by a subscriber's queue, the adapter, a session's
    // log): a message lent to a listener is copied once, here.
    const payload = typeof data === 'string' ? encodeUtf8(data) : ownIfLent(toBytes(data));
    const except = options.except as ServerWebSocket<unknown> | undefined;
    const sent = this.#topics.publish(topic, payload, binary, except);
    const sessions = this.#sessions;
    if (sessions === undefined) return sent;
    const text = typeof data === 'string' && !binary ? data : undefined;
    return (
      sent +
      sessions.publish(
        topic,
        payload,
        binary,
        text,
        options.except as ServerSession<Data> | undefined,
      )
    );
  }

  /** How many connections of this node are subscribed to `topic` (sessions not counted). */
  subscriberCount(topic: string): number {
    return this.#topics.count(topic);
  }

  /** The adapter that carries publishes between nodes (a `MemoryAdapter` unless given). */
  get adapter(): PubSubAdapter {
    return this.#topics.adapter;
  }

  /**
   * Shuts down gracefully: stops accepting, sends a close frame (1001 by
   * default) to every client, waits for them to close up to the timeout,
   * terminates the rest, and resolves when every socket is closed (and, in
   * standalone mode, the HTTP server too). Calling it again returns the same promise.
   * Sessions end here with `server-closed` but are not ended for their
   * clients: no `end` is sent, so that they resume on another node (with a
   * store, after one last commit each).
   * @param options - or, as in ws, a callback called once everything is closed.
   */
  close(options: ServerCloseOptions | ((error?: Error) => void) = {}): Promise<void> {
    // ws's close(callback), taken as ws means it: called once everything is closed.
    const callback = typeof options === 'function' ? options : undefined;
    this.#closing ??= this.#shutdown(callback ? {} : (options as ServerCloseOptions));
    if (callback) this.#closing.then(() => callback(), callback);
    return this.#closing;
  }

  /**
   * Shuts down for a deploy without a stampede: stops accepting at once
   * (standalone mode closes its listener, so that a load balancer sends new
   * clients to other nodes; a handshake that still arrives, as in attached
   * or no-server mode, is refused 503 with `Retry-After`), then closes the
   * open connections one by one, evenly spaced over `window` ms, each with
   * 1012 and the reason `retry-after=<s>` (close cause `drain`), so that
   * their reconnects reach the other nodes at an even rate. A session's
   * connection closes the same way: the session is suspended here, not
   * ended, and its client resumes it on another node through the store.
   * After the window, the server closes as {@link close} does (the last
   * clients get `timeout` ms, sessions still held end here with
   * `server-closed` after a last commit each). Calling it again, or
   * `close()` while it drains, returns the same promise.
   * @param options - see {@link DrainOptions}.
   * @throws {TypeError|RangeError} for invalid options, naming the option.
   * @example
   * process.once('SIGTERM', () => void server.drain({ window: 10_000 }));
   */
  drain(options: DrainOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    const plan = planDrain(options, this.#options.closeTimeout);
    this.#drainPlan = plan;
    this.#closing = this.#drain(plan);
    return this.#closing;
  }

  /** Whether {@link drain} was called (the server refuses handshakes and closes its connections). */
  get draining(): boolean {
    return this.#drainPlan !== undefined;
  }

  async #drain(plan: DrainPlan): Promise<void> {
    const server = this.#httpServer;
    let listenerClosed: Promise<void> | undefined;
    if (this.#ownsServer && server?.listening) {
      // server.close() stops accepting now; its callback waits for every
      // socket, upgraded ones included, which the shutdown below closes.
      listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as HttpServer).closeIdleConnections();
    }
    const { code, reason } = plan;
    const clients = [...this.#clients];
    const closed = Promise.all(
      clients.map((client) =>
        client.readyState === ServerWebSocket.CLOSED
          ? undefined
          : new Promise<void>((resolve) => client.once('close', () => resolve())),
      ),
    );
    await spreadOver(clients, plan.window, (client) =>
      closeAs(client as ServerWebSocket<unknown>, 'drain', code, reason),
    );
    // The last closing handshakes complete before the shutdown, so that
    // every session is suspended by its connection's close (and its client
    // resumes it elsewhere) rather than forgotten while still attached.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, plan.timeout)))]);
    clearTimeout(timer);
    await this.#shutdown({ code, reason, timeout: plan.timeout });
    await listenerClosed;
  }

  async #shutdown(options: ServerCloseOptions): Promise<void> {
    const {
      code = CloseCode.GoingAway,
      reason = '',
      timeout = this.#options.closeTimeout,
    } = options;
    this.#heartbeat?.stop();
    clearInterval(this.#idleTimer);
    const server = this.#httpServer;
    const serverClosed =
      this.#ownsServer && server?.listening
        ? new Promise<void>((r) => server.close(() => r()))
        : undefined;
    if (this.#ownsServer) (server as HttpServer | undefined)?.closeIdleConnections();
    else if (server) {
      server.off('upgrade', this.#onUpgrade);
      this.#http2Routing?.detach();
      const siblings = (attachedServers.get(server) ?? []).filter((s) => s !== this);
      if (siblings.length > 0) attachedServers.set(server, siblings);
      else attachedServers.delete(server);
    }
    const headers = this.#drainPlan?.refusalHeaders ?? {};
    for (const [socket, request] of this.#pending)
      refuseOn(socket, request, { status: 503, headers, body: 'Server is shutting down' });
    const sessionsClosed = this.#sessions?.close(code, reason, timeout);
    if (this.#onAdapterMessage) this.#topics.adapter.off('message', this.#onAdapterMessage);

    const clients = [...this.#clients];
    const closed = clients.map((client) =>
      client.readyState === ServerWebSocket.CLOSED
        ? undefined
        : new Promise<void>((r) => client.once('close', () => r())),
    );
    for (const client of clients) {
      closeAs(client as ServerWebSocket<unknown>, 'server-shutdown', code, reason);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((r) => (timer = setTimeout(r, timeout)));
    await Promise.race([Promise.all(closed), timedOut]);
    clearTimeout(timer);
    for (const client of this.#clients) {
      terminateAs(client as ServerWebSocket<unknown>, 'server-shutdown');
    }
    await Promise.all(closed);
    await sessionsClosed;
    await serverClosed;
    await this.#topics.close();
    this.emit('close');
  }

  #matchesPath(request: UpgradeRequest): boolean {
    const path = this.#options.path;
    if (path === undefined) return true;
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    return (query === -1 ? url : url.slice(0, query)) === path;
  }

  /** The memory budget was exceeded, or its pressure ended: published and logged. */
  #memoryPressure(exceeded: boolean, budget: MemoryBudget): void {
    // A connection stopped by the budget cannot be seen to leave (its FIN
    // waits behind unread bytes): one left unread for between half and all
    // of closeTimeout is evicted, largest first, until the pressure ends.
    clearInterval(this.#memorySweepTimer);
    this.#memorySweepTimer = exceeded
      ? setInterval(() => budget.sweep(), this.#options.closeTimeout / 2).unref()
      : undefined;
    if (memoryPressureChannel.hasSubscribers) {
      memoryPressureChannel.publish({ server: this, exceeded, memory: memoryStats(budget) });
    }
    if (debugging) {
      debug(
        exceeded
          ? 'memory budget exceeded (%d of %d bytes): reading paused for the largest holders'
          : 'memory pressure ended (%d of %d bytes)',
        budget.used,
        budget.limit,
      );
    }
  }

  /** Refuses a handshake that arrives while closing: 503, with `Retry-After` while draining. */
  #refuseShuttingDown(socket: Duplex, request: UpgradeRequest): void {
    this.#refuse(socket, request, 503, 'Server is shutting down', this.#drainPlan?.refusalHeaders);
  }

  /** Answers a refused handshake and reports it as `rejected`. */
  #refuse(
    socket: Duplex,
    request: UpgradeRequest,
    status: number,
    reason: string,
    headers: Readonly<Record<string, string | readonly string[]>> = {},
  ): void {
    refuseOn(socket, request, { status, headers, body: reason });
    this.#rejected(status, reason, request);
  }

  /**
   * Counts, publishes, logs and emits a refused handshake. Without a request
   * (node:http refused the head itself) there is nothing to emit `rejected`
   * with: it is counted and published only.
   */
  #rejected(
    status: number,
    reason: string,
    request: UpgradeRequest | undefined,
    socket: Duplex | undefined = request?.socket,
  ): void {
    this.#counters.handshakesRejected++;
    if (handshakeRejectedChannel.hasSubscribers) {
      handshakeRejectedChannel.publish({ server: this, request, status, reason });
    }
    if (debugging) {
      debug(
        'handshake rejected %d %s (%s)',
        status,
        reason,
        (socket as Socket | undefined)?.remoteAddress ?? request?.socket?.remoteAddress,
      );
    }
    if (request) this.emit('rejected', status, reason, request as Request);
  }

  /**
   * Standalone mode: node:http could not parse a head (malformed, over
   * `maxHeadSize`, or too slow). Answered as node:http would (400, 431, 408),
   * and counted as a refused handshake, since a head is all this server reads.
   */
  #onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
            ? 413
            : 400;
    if (error.code === 'ECONNRESET' || !socket.writable) {
      // The peer is gone: nobody to answer, nothing refused.
      socket.destroy();
      return;
    }
    const reason = STATUS_CODES[status]!;
    abortHandshake(socket, { status, headers: {}, body: reason });
    this.#rejected(status, reason, undefined, socket);
  }

  /**
   * A handshake hook threw: answer 500 without leaking its message to the
   * client, and report it.
   */
  #hookFailed(socket: Duplex, request: UpgradeRequest, failure: unknown): void {
    this.#refuse(socket, request, 500, 'Internal Server Error');
    const { site, error } =
      failure instanceof HookFailure
        ? failure
        : { site: 'authenticate' as UserCodeSite, error: failure };
    this.#reportUserError(error, site, undefined, 'the client was answered 500');
  }

  /**
   * Reports an error the application's code threw: counted, published on
   * the user-error channel and logged; then, unless `consequence` is
   * `undefined` (the connection's own `error` event took it), emitted as
   * `error` or, with nobody listening, warned with its stack.
   */
  #reportUserError(
    error: unknown,
    site: UserCodeSite,
    socket: ServerWebSocket<unknown> | undefined,
    consequence: string | undefined,
    session?: ServerSession<Data>,
  ): void {
    this.#counters.userErrors++;
    if (userErrorChannel.hasSubscribers) {
      userErrorChannel.publish({ server: this, error, site, socket, session });
    }
    if (debugging)
      debug('%s threw: %s', site, error instanceof Error ? error.stack : String(error));
    if (consequence === undefined) return;
    if (this.listenerCount('error') > 0)
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    else warnUserError(error, site, consequence);
  }

  /**
   * The standalone HTTP server failed. A listen error goes to pending
   * {@link ready} calls; it is emitted as `error` too when someone listens,
   * or when no `ready()` took it (then, unheard, it is thrown: never lost).
   */
  #onHttpError(error: Error): void {
    const waiting = this.#readyWaiters.size > 0;
    if (!this.#httpServer!.listening) {
      this.#listenError ??= error;
      this.#settleReady(error);
    }
    if (!waiting || this.listenerCount('error') > 0) this.emit('error', error);
  }

  #settleReady(error: Error | undefined): void {
    for (const settle of this.#readyWaiters) settle(error);
    this.#readyWaiters.clear();
  }

  /** Waits for an asynchronous `authenticate`, within `handshakeTimeout`. */
  async #awaitUpgrade(
    request: UpgradeRequest,
    socket: Duplex,
    head: Buffer,
    negotiation: Promise<UpgradeOutcome<Data>>,
    onConnection: ((socket: ServerWebSocket<Data>, request: UpgradeRequest) => void) | undefined,
  ): Promise<void> {
    this.#pending.set(socket, request);
    const onSocketError = (): void => void socket.destroy();
    socket.on('error', onSocketError);
    const timer = setTimeout(() => {
      this.#rejected(408, 'Handshake timed out', request);
      socket.destroy();
    }, this.#options.handshakeTimeout);
    timer.unref();
    try {
      let outcome: UpgradeOutcome<Data>;
      try {
        outcome = await negotiation;
      } catch (error) {
        this.#hookFailed(socket, request, error);
        return;
      }
      if (socket.destroyed) return;
      this.#completeUpgrade(request, socket, head, outcome, onConnection);
    } finally {
      clearTimeout(timer);
      this.#pending.delete(socket);
      socket.off('error', onSocketError);
    }
  }

  /** Answers a negotiated handshake: the refusal, or the 101 and a new connection. */
  #completeUpgrade(
    request: UpgradeRequest,
    socket: Duplex,
    head: Buffer,
    outcome: UpgradeOutcome<Data>,
    onConnection: ((socket: ServerWebSocket<Data>, request: UpgradeRequest) => void) | undefined,
  ): void {
    if (isRejection(outcome)) {
      const reason = outcome.body ?? STATUS_CODES[outcome.status] ?? '';
      this.#refuse(socket, request, outcome.status, reason, outcome.headers);
      return;
    }
    if (this.#closing) {
      this.#refuseShuttingDown(socket, request);
      return;
    }
    let transportSocket: Socket | ReturnType<typeof adoptStream>;
    if (typeof outcome.response === 'string') {
      socket.write(outcome.response);
      transportSocket = socket as Socket;
    } else {
      // RFC 8441: the stream itself carries the frames from here on.
      const stream = (request as Http2ServerRequest).stream;
      stream.respond(outcome.response);
      transportSocket = adoptStream(stream);
    }
    const sessions = outcome.session ? this.#sessions : undefined;
    const client = new ServerWebSocket<Data>({
      socket: transportSocket,
      head,
      protocol: outcome.protocol,
      extensions: outcome.extensions,
      deflate: outcome.deflate,
      data: outcome.data,
      policy: sessions ? this.#sessionPolicy! : this.#policy,
    });
    this.#clients.add(client);
    this.#heartbeat?.add(client as ServerWebSocket<unknown>);
    this.#counters.handshakesAccepted++;
    if (openChannel.hasSubscribers) {
      openChannel.publish({
        server: this,
        socket: client,
        request,
        protocol: outcome.protocol,
        extensions: outcome.extensions,
      });
    }
    if (debugging) debug('open %s %s', transportSocket.remoteAddress, request.url);
    if (sessions) {
      // The application meets the session, once the client said which.
      sessions.accept(client, request, outcome.appProtocol);
      return;
    }
    try {
      if (onConnection) onConnection(client, request);
      else this.emit('connection', client, request as Request);
    } catch (error) {
      // After the 101 HTTP is over: the connection fails with 1011.
      closeAs(
        client as ServerWebSocket<unknown>,
        'user-error',
        CloseCode.InternalError,
        'Internal error',
      );
      this.#reportUserError(
        error,
        'connection',
        client as ServerWebSocket<unknown>,
        'the connection was closed with 1011',
      );
    }
  }
}

/** Answers a refused handshake on what carried it: an HTTP/1.1 socket or an HTTP/2 stream. */
function refuseOn(
  socket: Duplex,
  request: UpgradeRequest,
  rejection: Pick<Rejection, 'status' | 'headers' | 'body'>,
): void {
  if (isHttp2Request(request)) respondToStream(request.stream, rejection);
  else abortHandshake(socket, rejection);
}
