import { EventEmitter } from 'node:events';
import {
  type IncomingMessage,
  type Server as HttpServer,
  STATUS_CODES,
  createServer,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCode, encodeUtf8, toBytes } from '@proj/protocol';
import { type ResolvedOptions, type ServerOptions, resolveOptions } from './options.js';
import { type Rejection, isRejection } from './rejection.js';
import {
  type ConnectionPolicy,
  type ServerSendData,
  ServerWebSocket,
  heartbeat,
  idleSweep,
  sendEncoded,
} from './server-websocket.js';
import { fanOut } from './fan-out.js';
import { MemoryAdapter, type PubSubAdapter } from './pubsub-adapter.js';
import { TopicRegistry } from './topics.js';
import { type UpgradeOutcome, abortHandshake, checkRequest, negotiateUpgrade } from './upgrade.js';

/** The WebSocketServers attached to each HTTP server, in attach order. */
const attachedServers = new WeakMap<HttpServer, WebSocketServer<unknown>[]>();

/** Events of a {@link WebSocketServer}, with their listener arguments. */
export interface WebSocketServerEvents<Data> {
  /** A handshake succeeded: a new open connection. */
  connection: [socket: ServerWebSocket<Data>, request: IncomingMessage];
  /** Standalone mode: the server is listening. */
  listening: [];
  /**
   * A handshake was refused (bad request, origin, `authenticate`, timeout).
   * For logging; the client has been answered already.
   */
  rejected: [status: number, reason: string, request: IncomingMessage];
  /** Standalone mode: the HTTP server failed (e.g. the port is in use). */
  error: [error: Error];
  /** {@link WebSocketServer.close} finished. */
  close: [];
}

/** Options of {@link WebSocketServer.broadcast}. */
export interface BroadcastOptions<Data> {
  /** Send as binary. Default: `true` for binary data, `false` for a string. */
  binary?: boolean;
  /** Only connections for which this returns true receive the message (e.g. all but the sender). */
  filter?: (socket: ServerWebSocket<Data>) => boolean;
}

/** Options of {@link WebSocketServer.publish}. */
export interface PublishOptions<Data> {
  /** Send as binary. Default: `true` for binary data, `false` for a string. */
  binary?: boolean;
  /** A local subscriber that does not receive it (typically the sender). */
  except?: ServerWebSocket<Data>;
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
export class WebSocketServer<Data = undefined> extends EventEmitter<WebSocketServerEvents<Data>> {
  readonly #options: ResolvedOptions<Data>;
  readonly #httpServer: HttpServer | undefined;
  readonly #ownsServer: boolean;
  readonly #clients = new Set<ServerWebSocket<Data>>();
  readonly #topics: TopicRegistry<ServerWebSocket<unknown>>;
  /** What every connection of this server shares (one object, not a field each). */
  readonly #policy: ConnectionPolicy;
  /** Sockets between `upgrade` and the 101 (or refusal). */
  readonly #pending = new Set<Duplex>();
  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!this.#matchesPath(request)) {
      // Attached servers on one HTTP server share the 404: the first of them
      // answers it when none matches and no foreign upgrade listener exists
      // (that one may serve the path itself).
      const server = this.#httpServer!;
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
    this.handleUpgrade(request, socket, head);
  };
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param options - see {@link ServerOptions}; exactly one of `port`, `server`, `noServer`.
   * @param onListening - standalone mode: called once listening.
   * @throws {TypeError|RangeError} for invalid options, naming the option.
   */
  constructor(options: ServerOptions<Data>, onListening?: () => void) {
    super();
    this.#options = resolveOptions(options);
    const resolved = this.#options;
    this.#topics = new TopicRegistry(resolved.adapter ?? new MemoryAdapter(), sendEncoded);
    this.#policy = {
      maxPayload: resolved.maxPayload,
      maxFragments: resolved.maxFragments,
      closeTimeout: resolved.closeTimeout,
      maxBacklog: resolved.maxBacklog,
      backlogPolicy: resolved.backlogPolicy,
      // A peer that pings without reading gets no pongs past the backlog cap.
      pongBacklogLimit: resolved.maxBacklog,
      topics: this.#topics,
      // A connection leaves the set itself, just before its 'close'.
      clients: this.#clients as Set<ServerWebSocket<unknown>>,
    };
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
      this.#httpServer.maxHeadersCount = resolved.maxHeaderCount + 1;
      this.#httpServer.on('listening', () => this.emit('listening'));
      this.#httpServer.on('error', (error) => this.emit('error', error));
      this.#httpServer.on('upgrade', this.#onUpgrade);
      // Without a 'connect' listener node:http drops a CONNECT request without
      // a word; a WebSocket endpoint answers it like any other wrong method,
      // with the protocol's refusal (405, Allow: GET).
      this.#httpServer.on('connect', (request, socket) => {
        const refusal = checkRequest(request, resolved) as Rejection;
        this.#refuse(socket, request, refusal.status, refusal.body!, refusal.headers);
      });
      if (onListening) this.once('listening', onListening);
      this.#httpServer.listen(resolved.port, resolved.host);
    } else if (resolved.server) {
      this.#ownsServer = false;
      this.#httpServer = resolved.server;
      this.#httpServer.on('upgrade', this.#onUpgrade);
      const siblings = attachedServers.get(resolved.server) ?? [];
      attachedServers.set(resolved.server, [...siblings, this as WebSocketServer<unknown>]);
    } else {
      this.#ownsServer = false;
      this.#httpServer = undefined;
    }
    if (resolved.heartbeatInterval > 0) {
      this.#heartbeatTimer = setInterval(() => {
        for (const client of this.#clients) heartbeat(client as ServerWebSocket<unknown>);
      }, resolved.heartbeatInterval);
      this.#heartbeatTimer.unref();
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

  /** The open (and closing) connections. */
  get clients(): ReadonlySet<ServerWebSocket<Data>> {
    return this.#clients;
  }

  /** The HTTP server in use (own or attached); `undefined` in no-server mode. */
  get httpServer(): HttpServer | undefined {
    return this.#httpServer;
  }

  /** The bound address, as `net.Server#address()`; `null` before listening or in no-server mode. */
  address(): AddressInfo | string | null {
    return this.#httpServer?.address() ?? null;
  }

  /** Resolves once listening (standalone), at once otherwise. */
  async ready(): Promise<this> {
    const server = this.#httpServer;
    if (!this.#ownsServer || !server || server.listening) return this;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once('error', onError);
      server.once('listening', () => {
        server.off('error', onError);
        resolve();
      });
    });
    return this;
  }

  /**
   * Completes a handshake for an `upgrade` event of any HTTP server: checks
   * it, answers 101 or an error status, and emits `connection`.
   * @param onConnection - also called with the new connection.
   */
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    onConnection?: (socket: ServerWebSocket<Data>, request: IncomingMessage) => void,
  ): void {
    if (this.#closing) {
      this.#refuse(socket, request, 503, 'Server is shutting down');
      return;
    }
    // Closing connections still hold a socket, so they count until 'close'.
    if (this.#clients.size + this.#pending.size >= this.#options.maxConnections) {
      this.#refuse(socket, request, 503, 'Too many connections');
      return;
    }
    let outcome: UpgradeOutcome<Data> | Promise<UpgradeOutcome<Data>>;
    try {
      outcome = negotiateUpgrade(request, this.#options);
    } catch (error) {
      this.#hookFailed(socket, request, undefined, error);
      return;
    }
    // Without an asynchronous `authenticate` the handshake completes here,
    // in the tick node:http delivered it: nothing to wait for, so no timer,
    // no error listener and no pending entry (the head's arrival is timed by
    // node:http's headersTimeout in standalone mode).
    if (outcome instanceof Promise)
      this.#awaitUpgrade(request, socket, head, outcome, onConnection);
    else this.#completeUpgrade(request, socket, head, outcome, onConnection);
  }

  /**
   * Sends one message to every open connection (or those `filter` accepts).
   * The frame is encoded once and the same bytes are written to each socket,
   * so the cost per extra recipient is a socket write, not an encoding.
   * @returns how many connections it was written to.
   * @example
   * setInterval(() => server.broadcast(JSON.stringify(world)), 50);
   */
  broadcast(data: ServerSendData, options: BroadcastOptions<Data> = {}): number {
    const binary = options.binary ?? typeof data !== 'string';
    const payload = typeof data === 'string' ? encodeUtf8(data) : toBytes(data);
    const filter = options.filter;
    return fanOut(
      payload,
      binary,
      this.#clients as Set<ServerWebSocket<unknown>>,
      sendEncoded,
      filter && ((client) => !filter(client as ServerWebSocket<Data>)),
    );
  }

  /**
   * Sends one message to every subscriber of `topic` (see
   * `ServerWebSocket#subscribe`): on this node, framed once with the same
   * bytes written to each subscriber, and through the `adapter` to the
   * subscribers on other nodes. Messages one publisher sends to a topic
   * reach each subscriber in order. A subscriber over its `maxBacklog` is
   * refused as `backlogPolicy` says; it never delays the others.
   * @returns how many local subscribers it was written to.
   * @throws {TypeError} when `topic` is not a string.
   * @example
   * socket.subscribe('room:42');
   * server.publish('room:42', JSON.stringify(message), { except: socket });
   */
  publish(topic: string, data: ServerSendData, options: PublishOptions<Data> = {}): number {
    const binary = options.binary ?? typeof data !== 'string';
    const payload = typeof data === 'string' ? encodeUtf8(data) : toBytes(data);
    const except = options.except as ServerWebSocket<unknown> | undefined;
    return this.#topics.publish(topic, payload, binary, except);
  }

  /** How many connections of this node are subscribed to `topic`. */
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
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options);
    return this.#closing;
  }

  async #shutdown(options: ServerCloseOptions): Promise<void> {
    const {
      code = CloseCode.GoingAway,
      reason = '',
      timeout = this.#options.closeTimeout,
    } = options;
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#idleTimer);
    const server = this.#httpServer;
    const serverClosed =
      this.#ownsServer && server?.listening
        ? new Promise<void>((r) => server.close(() => r()))
        : undefined;
    if (this.#ownsServer) server?.closeIdleConnections();
    else if (server) {
      server.off('upgrade', this.#onUpgrade);
      const siblings = (attachedServers.get(server) ?? []).filter((s) => s !== this);
      if (siblings.length > 0) attachedServers.set(server, siblings);
      else attachedServers.delete(server);
    }
    for (const socket of this.#pending)
      abortHandshake(socket, { status: 503, headers: {}, body: 'Server is shutting down' });

    const clients = [...this.#clients];
    const closed = clients.map((client) =>
      client.readyState === ServerWebSocket.CLOSED
        ? undefined
        : new Promise<void>((r) => client.once('close', () => r())),
    );
    for (const client of clients) client.close(code, reason);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((r) => (timer = setTimeout(r, timeout)));
    await Promise.race([Promise.all(closed), timedOut]);
    clearTimeout(timer);
    for (const client of this.#clients) client.terminate();
    await Promise.all(closed);
    await serverClosed;
    await this.#topics.close();
    this.emit('close');
  }

  #matchesPath(request: IncomingMessage): boolean {
    const path = this.#options.path;
    if (path === undefined) return true;
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    return (query === -1 ? url : url.slice(0, query)) === path;
  }

  /** Answers a refused handshake and reports it as `rejected`. */
  #refuse(
    socket: Duplex,
    request: IncomingMessage,
    status: number,
    reason: string,
    headers: Readonly<Record<string, string | readonly string[]>> = {},
  ): void {
    abortHandshake(socket, { status, headers, body: reason });
    this.emit('rejected', status, reason, request);
  }

  /**
   * A hook threw: answer 500 without leaking its message to the client.
   * After the 101 (a 'connection' listener threw) HTTP is over: fail with 1011.
   */
  #hookFailed(
    socket: Duplex,
    request: IncomingMessage,
    client: ServerWebSocket<Data> | undefined,
    error: unknown,
  ): void {
    if (client) client.close(CloseCode.InternalError, 'Internal error');
    else this.#refuse(socket, request, 500, 'Internal Server Error');
    if (this.listenerCount('error') > 0)
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  /** Waits for an asynchronous `authenticate`, within `handshakeTimeout`. */
  async #awaitUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    negotiation: Promise<UpgradeOutcome<Data>>,
    onConnection: ((socket: ServerWebSocket<Data>, request: IncomingMessage) => void) | undefined,
  ): Promise<void> {
    this.#pending.add(socket);
    const onSocketError = (): void => void socket.destroy();
    socket.on('error', onSocketError);
    const timer = setTimeout(() => {
      this.emit('rejected', 408, 'Handshake timed out', request);
      socket.destroy();
    }, this.#options.handshakeTimeout);
    timer.unref();
    try {
      let outcome: UpgradeOutcome<Data>;
      try {
        outcome = await negotiation;
      } catch (error) {
        this.#hookFailed(socket, request, undefined, error);
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
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    outcome: UpgradeOutcome<Data>,
    onConnection: ((socket: ServerWebSocket<Data>, request: IncomingMessage) => void) | undefined,
  ): void {
    if (isRejection(outcome)) {
      const reason = outcome.body ?? STATUS_CODES[outcome.status] ?? '';
      this.#refuse(socket, request, outcome.status, reason, outcome.headers);
      return;
    }
    if (this.#closing) {
      this.#refuse(socket, request, 503, 'Server is shutting down');
      return;
    }
    let client: ServerWebSocket<Data> | undefined;
    try {
      socket.write(outcome.response);
      client = new ServerWebSocket<Data>({
        socket: socket as Socket,
        head,
        protocol: outcome.protocol,
        extensions: outcome.extensions,
        deflate: outcome.deflate,
        data: outcome.data,
        policy: this.#policy,
      });
      this.#clients.add(client);
      onConnection?.(client, request);
      this.emit('connection', client, request);
    } catch (error) {
      this.#hookFailed(socket, request, client, error);
    }
  }
}
