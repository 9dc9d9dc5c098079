import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import {
  CloseCode,
  type ConnectionHandler,
  ConnectionState,
  InternalError,
  Opcode,
  ServerConnection,
  type WebSocketError,
  frameHeaderSize,
  toBytes,
} from '@proj/protocol';
import { MessageCompression, PerMessageDeflate, type PerMessageDeflateInit } from '@proj/deflate';
import type { BacklogPolicy } from './options.js';
import type { TopicRegistry } from './topics.js';

/**
 * Message buffers without zero-filling: the assembler writes every byte of a
 * message before handing it out, so filling first would be one more pass over
 * every large message.
 */
const allocateUnsafe = (size: number): Buffer => Buffer.allocUnsafe(size);

/** Events of a {@link ServerWebSocket}, with their listener arguments. */
export interface ServerWebSocketEvents {
  /** A complete message: text as a `string`, binary as a `Buffer` (a view, not a copy). */
  message: [data: string | Buffer, isBinary: boolean];
  /** A ping arrived; the pong was sent already. */
  ping: [data: Buffer];
  /** A pong arrived. */
  pong: [data: Buffer];
  /** The socket's write backlog emptied after `send` returned `false`. */
  drain: [];
  /**
   * The connection failed: the peer broke the protocol or a limit (the error
   * carries `code` and `closeCode`), or a listener threw (`WS_ERR_INTERNAL`,
   * the thrown value as `cause`). `close` follows. Emitted only when a listener
   * is attached, so a hostile peer cannot crash a server that ignores it.
   */
  error: [error: WebSocketError];
  /**
   * The connection is closed and its resources released; always the last
   * event. `code` is the peer's close code, 1005 if it sent none, 1006 if the
   * connection dropped without a close frame.
   */
  close: [code: number, reason: string, wasClean: boolean];
}

/** Per-send options. */
export interface ServerSendOptions {
  /**
   * Send as a binary message. Default: `true` for binary data, `false` for a
   * string. `binary: false` with bytes sends them as text (they must be UTF-8).
   */
  binary?: boolean;
  /** `false` to send a fragment of a larger message. Default `true`. */
  fin?: boolean;
  /**
   * With permessage-deflate negotiated, `false` sends this message
   * uncompressed. Default `true`: messages of at least `threshold` bytes are
   * compressed. Fragments (`fin: false`) are never compressed.
   */
  compress?: boolean;
}

/** Data `send` accepts. */
export type ServerSendData = string | ArrayBufferLike | ArrayBufferView;

/** Called once the data of a `send` was handed to the kernel, or with the error that prevented it. */
export type SendCallback = (error?: Error | null) => void;

/** What the server hands to a new connection. */
export interface ServerWebSocketInit<Data> {
  socket: Socket;
  head: Uint8Array;
  protocol: string;
  extensions: string;
  data: Data;
  maxPayload: number;
  maxFragments: number;
  closeTimeout: number;
  maxBacklog: number;
  backlogPolicy: BacklogPolicy;
  /** What the compressor is built from, when permessage-deflate was negotiated. */
  deflate?: PerMessageDeflateInit | undefined;
  /** The server's topics, for subscribe/unsubscribe. */
  topics?: TopicRegistry;
  /**
   * The server's `clients`: the connection is in it from construction until
   * just before its `close` event (no listener and closure per connection).
   */
  clients?: Set<ServerWebSocket<unknown>>;
}

/**
 * A `send` refused because the connection's outgoing backlog would pass the
 * `maxBacklog` option; nothing of the message was queued.
 */
export class BacklogExceededError extends Error {
  readonly code = 'WS_ERR_BACKLOG_EXCEEDED';
  /** Bytes that were queued when the send was refused. */
  readonly bufferedAmount: number;

  constructor(bufferedAmount: number, maxBacklog: number) {
    super(`Send refused: ${bufferedAmount} bytes queued, the limit is ${maxBacklog}`);
    this.bufferedAmount = bufferedAmount;
  }

  override get name(): string {
    return 'BacklogExceededError';
  }
}

const kHeartbeat = Symbol('heartbeat');
const kOwner = Symbol('owner');
const kReceive = Symbol('receive');
const kTransportClosed = Symbol('transportClosed');
const kWrite = Symbol('write');
const kEnd = Symbol('end');
const kOnMessage = Symbol('onMessage');
const kOnPong = Symbol('onPong');
const kOnError = Symbol('onError');
const kOnClose = Symbol('onClose');

/** A socket that knows its ServerWebSocket, for the shared listeners below. */
type OwnedSocket = Socket & { [kOwner]: ServerWebSocket<unknown> };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kOwner][kReceive](chunk);
}
function onSocketEnd(this: Socket): void {
  // After our close frame we ended already (the usual clean close): a second
  // end() would only build an ERR_STREAM_ALREADY_FINISHED error, stack and all.
  if (!this.writableEnded) this.end();
}
function onSocketDrain(this: OwnedSocket): void {
  this[kOwner].emit('drain');
}
function onSocketClose(this: OwnedSocket): void {
  this[kOwner][kTransportClosed]();
}

/**
 * The protocol's handler for one connection: one small object forwarding to
 * its ServerWebSocket, instead of a closure per callback per connection.
 */
class SocketHandler implements ConnectionHandler {
  readonly #owner: ServerWebSocket<unknown>;
  constructor(owner: ServerWebSocket<unknown>) {
    this.#owner = owner;
  }
  write(chunks: readonly Uint8Array[]): void {
    this.#owner[kWrite](chunks);
  }
  end(): void {
    this.#owner[kEnd]();
  }
  onMessage(data: Uint8Array, binary: boolean, compressed?: boolean): void {
    this.#owner[kOnMessage](data, binary, compressed);
  }
  onPing(data: Uint8Array): void {
    this.#owner.emit('ping', toBuffer(data));
  }
  onPong(data: Uint8Array): void {
    this.#owner[kOnPong](data);
  }
  onError(error: WebSocketError): void {
    this.#owner[kOnError](error);
  }
  onClose(code: number, reason: string, wasClean: boolean): void {
    this.#owner[kOnClose](code, reason, wasClean);
  }
}
const kIdleSweep = Symbol('idleSweep');
const kSendEncoded = Symbol('sendEncoded');

const EMPTY_BUFFER = Buffer.alloc(0);

/** Swallows socket errors; the 'close' that follows reports them as 1006. */
function noop(): void {}

/**
 * One WebSocket connection on the server. Created by {@link WebSocketServer}
 * and passed to its `connection` event; never constructed directly.
 *
 * @typeParam Data - what `authenticate` attached, as {@link data}.
 */
export class ServerWebSocket<Data = undefined> extends EventEmitter<ServerWebSocketEvents> {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  // On the prototype (below the class), as the WHATWG WebSocket has them:
  // four fields on every instance would cost 10,000 idle connections 160 KB.
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /** What `authenticate` returned for this connection. */
  readonly data: Data;

  readonly #socket: Socket;
  readonly #connection: ServerConnection;
  readonly #closeTimeout: number;
  #closeTimer: NodeJS.Timeout | undefined;
  /** The callback of the `send` in progress, attached to its last write. */
  #sendCallback: SendCallback | undefined;
  /** Whether a pong (or any data) arrived since the last heartbeat ping. */
  #alive = true;
  /** Idle sweeps since data last arrived. */
  #idleSweeps = 0;
  readonly #maxBacklog: number;
  readonly #backlogPolicy: BacklogPolicy;
  /** A refused send promised a `drain` that the socket will not emit by itself. */
  #drainOwed = false;
  readonly #registry: TopicRegistry | undefined;
  readonly #clients: Set<ServerWebSocket<unknown>> | undefined;
  /** permessage-deflate's settings, when negotiated. */
  readonly #deflate: PerMessageDeflateInit | undefined;
  /**
   * The compressor and its hooks, made on the first message that needs them:
   * a connection that stays idle costs no more than one without compression.
   */
  #compression: MessageCompression | undefined;
  /** Reading paused by {@link pause}, not just while a message inflates. */
  #userPaused = false;

  /** @internal */
  constructor(init: ServerWebSocketInit<Data>) {
    super();
    this.data = init.data;
    this.#socket = init.socket;
    this.#closeTimeout = init.closeTimeout;
    this.#maxBacklog = init.maxBacklog;
    this.#backlogPolicy = init.backlogPolicy;
    this.#registry = init.topics;
    this.#clients = init.clients;
    this.#connection = new ServerConnection({
      handler: new SocketHandler(this as ServerWebSocket<unknown>),
      protocol: init.protocol,
      extensions: init.extensions,
      maxPayload: init.maxPayload,
      maxFragments: init.maxFragments,
      allocate: allocateUnsafe,
      perMessageDeflate: init.deflate !== undefined,
    });
    this.#deflate = init.deflate;

    const socket = init.socket;
    socket.setNoDelay(true);
    socket.setTimeout(0);
    // Bytes that came with the request head go back in front of the stream:
    // they are read with the rest once flowing, after the 'connection'
    // listeners are attached (parsing them here would emit messages to nobody).
    if (init.head.length > 0) socket.unshift(init.head);
    // Shared listeners that find this object through the socket: no closures
    // per connection (memory per idle connection is a benchmark target).
    (socket as OwnedSocket)[kOwner] = this as ServerWebSocket<unknown>;
    socket.on('data', onSocketData);
    // The peer half-closed: finish our side so 'close' follows.
    socket.on('end', onSocketEnd);
    socket.on('drain', onSocketDrain);
    // Transport errors (ECONNRESET, EPIPE) are ordinary disconnects: 'close'
    // follows and reports 1006. Listening keeps them from becoming uncaught.
    socket.on('error', noop);
    socket.on('close', onSocketClose);
  }

  /** @internal */
  [kReceive](chunk: Buffer): void {
    const socket = this.#socket;
    this.#alive = true;
    this.#idleSweeps = 0;
    // Replies sent from message listeners (echoes, acks) leave in one
    // writev per chunk read instead of one write each.
    socket.cork();
    this.#connection.receiveData(chunk);
    socket.uncork();
    this.#armCloseTimer();
  }

  /** @internal */
  [kTransportClosed](): void {
    clearTimeout(this.#closeTimer);
    this.#compression?.close();
    this.#connection.receiveEof();
  }

  /** The state, numbered as the WHATWG `readyState`: 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    return this.#connection.state;
  }

  /** The subprotocol chosen in the handshake, or `""`. */
  get protocol(): string {
    return this.#connection.protocol;
  }

  /** The `Sec-WebSocket-Extensions` accepted in the handshake, or `""`. */
  get extensions(): string {
    return this.#connection.extensions;
  }

  /** Bytes written but not yet handed to the kernel (frame headers included). */
  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /** The peer's IP address, while connected. */
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  /** Whether reading is paused by {@link pause}. */
  get isPaused(): boolean {
    return this.#socket.isPaused();
  }

  /**
   * Sends a message. Strings go as text, binary data as binary unless
   * `options.binary` says otherwise.
   * @returns `false` when the socket's write backlog is above its high-water
   *   mark: wait for `drain` before sending more. Also `false` (and the
   *   callback gets an error) when the connection is not open, or when the
   *   message would push the backlog past `maxBacklog`
   *   ({@link BacklogExceededError}, and a `drain` follows while open); then
   *   nothing is sent.
   */
  send(
    data: ServerSendData,
    options?: ServerSendOptions | SendCallback,
    callback?: SendCallback,
  ): boolean {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (this.#connection.state !== ConnectionState.Open) {
      if (callback)
        process.nextTick(
          callback,
          new Error(`WebSocket is not open: readyState ${this.readyState}`),
        );
      return false;
    }
    if (this.#exceedsBacklog(data)) return this.#refuseSend(callback);
    const binary = options?.binary ?? typeof data !== 'string';
    const fin = options?.fin ?? true;
    if (this.#deflate && fin) {
      this.#sendCompressed(data, binary, options?.compress !== false, callback);
      return !this.#socket.writableNeedDrain;
    }
    this.#sendCallback = callback;
    if (binary) {
      this.#connection.sendBinary(typeof data === 'string' ? Buffer.from(data) : data, { fin });
    } else {
      this.#connection.sendText(typeof data === 'string' ? data : toBytes(data), { fin });
    }
    return !this.#socket.writableNeedDrain;
  }

  /**
   * Sends a message and resolves once it was handed to the kernel.
   * @throws rejects when the connection is not open or the socket fails first.
   */
  sendAsync(data: ServerSendData, options?: ServerSendOptions): Promise<void> {
    return new Promise((resolve, rejectPromise) => {
      this.send(data, options ?? {}, (error) => (error ? rejectPromise(error) : resolve()));
    });
  }

  /**
   * Sends a ping (at most 125 bytes). Does nothing unless open.
   * @throws {RangeError} for a longer payload.
   */
  ping(data: ServerSendData = ''): void {
    if (this.#connection.state === ConnectionState.Open) this.#connection.sendPing(data);
  }

  /**
   * Sends an unsolicited pong (at most 125 bytes); pings are answered
   * automatically. Does nothing unless open.
   * @throws {RangeError} for a longer payload.
   */
  pong(data: ServerSendData = ''): void {
    if (this.#connection.state === ConnectionState.Open) this.#connection.sendPong(data);
  }

  /**
   * Starts the closing handshake. The peer has `closeTimeout` ms to answer
   * before the socket is destroyed. Does nothing once closing.
   * @param code - 1000, 1001-1003, 1007-1014 or 3000-4999; no code sends an empty close frame.
   * @param reason - at most 123 UTF-8 bytes.
   * @throws {RangeError} for a code that may not be sent or a reason too long.
   */
  close(code?: number, reason?: string): void {
    // Messages still being compressed go out first.
    if (this.#compression?.busy) {
      this.#compression.afterSends(() => this.close(code, reason));
      return;
    }
    this.#connection.close(code, reason);
    this.#armCloseTimer();
  }

  /** Destroys the socket at once, without a closing handshake. `close` reports 1006. */
  terminate(): void {
    this.#socket.destroy();
  }

  /** The topics this connection is subscribed to; see {@link subscribe}. */
  get topics(): ReadonlySet<string> {
    return this.#registry?.topicsOf(this as ServerWebSocket<unknown>) ?? new Set();
  }

  /**
   * Subscribes this connection to `topic`: it receives every message
   * `server.publish` sends there (on any node, with a multi-node adapter),
   * until {@link unsubscribe} or close, when it leaves all its topics.
   * @returns `false` when already subscribed or closed.
   * @throws {TypeError} when `topic` is not a string.
   */
  subscribe(topic: string): boolean {
    if (this.#connection.state === ConnectionState.Closed || !this.#registry) return false;
    return this.#registry.subscribe(this as ServerWebSocket<unknown>, topic);
  }

  /**
   * Unsubscribes this connection from `topic`.
   * @returns `false` when it was not subscribed.
   * @throws {TypeError} when `topic` is not a string.
   */
  unsubscribe(topic: string): boolean {
    return this.#registry?.unsubscribe(this as ServerWebSocket<unknown>, topic) ?? false;
  }

  /** Stops reading from the socket: TCP flow control pushes back on the peer. */
  pause(): void {
    this.#userPaused = true;
    this.#socket.pause();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.#userPaused = false;
    if (!this.#connection.parsingPaused) this.#socket.resume();
  }

  /** Whether `data` would push the backlog past `maxBacklog`; never for an empty backlog. */
  #exceedsBacklog(data: ServerSendData): boolean {
    // A string has at most 3 UTF-8 bytes per UTF-16 unit: count them exactly
    // only near the limit.
    const bound = typeof data === 'string' ? data.length * 3 : data.byteLength;
    if (!this.#wouldPassBacklog(bound + frameHeaderSize(bound, false))) return false;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : bound;
    return this.#wouldPassBacklog(size + frameHeaderSize(size, false));
  }

  /** Whether queueing `frameBytes` more would pass `maxBacklog`; never for an empty backlog. */
  #wouldPassBacklog(frameBytes: number): boolean {
    const queued = this.#socket.writableLength;
    return queued > 0 && queued + frameBytes > this.#maxBacklog;
  }

  /** Refuses a send over `maxBacklog` as the `backlogPolicy` says. */
  #refuseSend(callback: SendCallback | undefined): false {
    const socket = this.#socket;
    const error = new BacklogExceededError(socket.writableLength, this.#maxBacklog);
    if (this.#backlogPolicy === 'close') {
      this.close(CloseCode.PolicyViolation, 'Backlog limit exceeded');
    } else if (!socket.writableNeedDrain && !this.#drainOwed) {
      // `false` means "wait for drain", but below the high-water mark the
      // socket emits none: an empty write calls back once all before it is flushed.
      this.#drainOwed = true;
      socket.write(EMPTY_BUFFER, () => {
        this.#drainOwed = false;
        if (this.#connection.state === ConnectionState.Open) this.emit('drain');
      });
    }
    if (callback) process.nextTick(callback, error);
    return false;
  }

  /**
   * Writes a frame encoded once for many connections (a broadcast). Returns
   * whether it was written: not when the connection is not open, is in the
   * middle of sending a fragmented message, or the frame would push its
   * backlog past `maxBacklog` (refused as `backlogPolicy` says).
   * @internal
   */
  [kSendEncoded](chunks: readonly Uint8Array[]): boolean {
    if (this.#connection.state !== ConnectionState.Open) return false;
    let size = 0;
    for (const chunk of chunks) size += chunk.byteLength;
    if (this.#wouldPassBacklog(size)) return this.#refuseSend(undefined);
    // A message still being compressed goes first: a broadcast must not overtake it.
    if (this.#compression?.busy) {
      this.#compression.afterSends(() => this.#writeEncoded(chunks));
      return true;
    }
    return this.#writeEncoded(chunks);
  }

  #writeEncoded(chunks: readonly Uint8Array[]): boolean {
    if (this.#connection.state !== ConnectionState.Open) return false;
    try {
      this.#connection.sendEncodedFrame(chunks);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * One heartbeat tick: terminate if nothing arrived since the last tick,
   * else ping. Returns whether the connection was still alive.
   * @internal
   */
  [kHeartbeat](): boolean {
    if (this.#connection.state !== ConnectionState.Open) return true;
    // While paused a pong cannot be read: the application stopped reading,
    // which is not the peer's silence.
    if (this.#socket.isPaused()) {
      this.#alive = true;
      return true;
    }
    if (!this.#alive) {
      this.terminate();
      return false;
    }
    this.#alive = false;
    this.#connection.sendPing();
    return true;
  }

  /**
   * One idle sweep: closes with 1001 once `limit` sweeps passed with nothing
   * received. Time paused by {@link pause} does not count.
   * @internal
   */
  [kIdleSweep](limit: number): void {
    if (this.#connection.state !== ConnectionState.Open) return;
    if (this.#socket.isPaused()) this.#idleSweeps = 0;
    else if (++this.#idleSweeps >= limit) this.close(CloseCode.GoingAway, 'Idle timeout');
  }

  /** {@link #compression}, made now if it was not yet. */
  get #compressor(): MessageCompression {
    return (this.#compression ??= this.#createCompression(new PerMessageDeflate(this.#deflate!)));
  }

  /** The permessage-deflate hooks: pause reading while inflating, cork around delivery. */
  #createCompression(deflate: PerMessageDeflate): MessageCompression {
    const socket = this.#socket;
    return new MessageCompression(deflate, this.#connection, {
      pause: () => socket.pause(),
      resume: () => {
        if (!this.#userPaused) socket.resume();
      },
      deliver: (run) => {
        socket.cork();
        run();
        socket.uncork();
        this.#armCloseTimer();
      },
    });
  }

  /** Sends one whole message through the compressor, in order with every other send. */
  #sendCompressed(
    data: ServerSendData,
    binary: boolean,
    compress: boolean,
    callback: SendCallback | undefined,
  ): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : toBytes(data);
    this.#compressor.send(
      bytes,
      compress,
      (payload, compressed) => {
        this.#sendCallback = callback;
        if (binary) this.#connection.sendBinary(payload, { compressed });
        else this.#connection.sendText(payload, { compressed });
      },
      (error) => callback && process.nextTick(callback, error),
    );
  }

  #armCloseTimer(): void {
    if (this.#closeTimer === undefined && this.#connection.closeExpected) {
      this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#closeTimeout);
      this.#closeTimer.unref();
    }
  }

  /** @internal ConnectionHandler.write */
  [kWrite](chunks: readonly Uint8Array[]): void {
    const socket = this.#socket;
    const callback = this.#sendCallback;
    this.#sendCallback = undefined;
    if (socket.destroyed) {
      if (callback) process.nextTick(callback, new Error('Socket is closed'));
      return;
    }
    // An automatic pong is dropped while the backlog is over the cap, so a
    // peer that pings without reading cannot grow it. RFC 6455 §5.5.3 lets
    // an endpoint answer only the latest of several pings.
    if (
      socket.writableLength > this.#maxBacklog &&
      (chunks[0]![0]! & 0x0f) === Opcode.Pong &&
      callback === undefined
    ) {
      return;
    }
    if (chunks.length === 1) {
      socket.write(chunks[0]!, callback);
      return;
    }
    // One writev for header and payload instead of concatenating them.
    socket.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) socket.write(chunks[i]!);
    socket.write(chunks[last]!, callback);
    socket.uncork();
  }

  /** @internal ConnectionHandler.end */
  [kEnd](): void {
    const socket = this.#socket;
    this.#armCloseTimer();
    if (this.#connection.closeHandshakeComplete) {
      // The peer sends nothing after its close frame: close now instead of
      // half-closing and waiting a round trip for its FIN (RFC 6455 §7.1.1,
      // the server closes first). Our close frame may sit in a cork (replies
      // are batched per chunk read): flush it, and close only once it is out.
      while (socket.writableCorked > 0) socket.uncork();
      if (socket.writableLength === 0) {
        socket.destroy();
        return;
      }
    }
    socket.end();
  }

  /** @internal ConnectionHandler.onMessage */
  [kOnMessage](data: Uint8Array, binary: boolean, compressed: boolean | undefined): void {
    if (compressed) {
      this.#compressor.receive(data, binary);
      return;
    }
    const buffer = toBuffer(data);
    if (binary) this.emit('message', buffer, true);
    else this.emit('message', buffer.toString('utf8'), false);
  }

  /** @internal ConnectionHandler.onPong */
  [kOnPong](data: Uint8Array): void {
    this.#alive = true;
    this.emit('pong', toBuffer(data));
  }

  /** @internal ConnectionHandler.onError */
  [kOnError](error: WebSocketError): void {
    this.#reportError(error);
  }

  /** @internal ConnectionHandler.onClose */
  [kOnClose](code: number, reason: string, wasClean: boolean): void {
    clearTimeout(this.#closeTimer);
    this.#registry?.unsubscribeAll(this as ServerWebSocket<unknown>);
    this.#clients?.delete(this as ServerWebSocket<unknown>);
    this.emit('close', code, reason, wasClean);
  }

  #reportError(error: WebSocketError): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    } else if (error instanceof InternalError) {
      // A listener threw and nobody listens for errors: say so once rather
      // than lose the bug, without crashing the other connections.
      process.emitWarning(
        `A ServerWebSocket listener threw; the connection was closed with 1011: ${String(error.cause)}`,
      );
    }
  }
}

for (const [name, value] of [
  ['CONNECTING', 0],
  ['OPEN', 1],
  ['CLOSING', 2],
  ['CLOSED', 3],
] as const) {
  Object.defineProperty(ServerWebSocket.prototype, name, { value, enumerable: true });
}

/** Writes a pre-encoded frame to `socket`; see {@link WebSocketServer.broadcast}. @internal */
export function sendEncoded(
  socket: ServerWebSocket<unknown>,
  chunks: readonly Uint8Array[],
): boolean {
  return socket[kSendEncoded](chunks);
}

/** Runs one idle sweep on `socket`; see {@link ServerWebSocket}. @internal */
export function idleSweep(socket: ServerWebSocket<unknown>, limit: number): void {
  socket[kIdleSweep](limit);
}

/** Runs one heartbeat tick on `socket`. @internal */
export function heartbeat(socket: ServerWebSocket<unknown>): boolean {
  return socket[kHeartbeat]();
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
