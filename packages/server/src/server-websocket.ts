import { Buffer } from 'node:buffer';
import process from 'node:process';
import { EventEmitter } from 'node:events';
import {
  BacklogExceededError,
  CloseCode,
  ConnectionState,
  InternalError,
  type MessageLimits,
  ServerConnection,
  type WebSocketError,
  frameHeaderSize,
  toBytes,
} from '@proj/protocol';
import type { PerMessageDeflateInit } from '@proj/deflate';
import {
  ReadMark,
  SocketTransport,
  type TransportSettings,
  type TransportSocket,
  allocateUnsafe,
  lentBuffers,
  kOnCallbackError,
  kOnClose,
  kOnDrain,
  kOnError,
  kOnEvicted,
  kOnMessage,
  kOnPing,
  kOnPong,
} from '@proj/transport';
import {
  CLOSE_CAUSES,
  type CloseCause,
  type Counters,
  backlogExceededChannel,
  closeChannel,
  debug,
  debugging,
} from './diagnostics.js';
import type { BacklogPolicy } from './options.js';
import type { SpreadSweep } from './spread-sweep.js';
import type { TopicRegistry } from './topics.js';

/** Events of a {@link ServerWebSocket}, with their listener arguments. */
export interface ServerWebSocketEvents {
  /**
   * A complete message: text as a `string`, binary as a `Buffer` of its own.
   * With the server's `lendMessages`, a binary `Buffer` may be lent: valid
   * only until the listeners return (copy what you keep).
   */
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
   * connection dropped without a close frame. `cause` says why, from the
   * server's side (see {@link CloseCause}): a heartbeat timeout and a peer
   * that vanished both read 1006, and differ here.
   */
  close: [code: number, reason: string, wasClean: boolean, cause: CloseCause];
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
  /** A TCP/TLS socket, or an HTTP/2 stream (RFC 8441) made to count its bytes (`adoptStream`). */
  socket: TransportSocket & { setTimeout(ms: number): unknown };
  head: Uint8Array;
  protocol: string;
  extensions: string;
  data: Data;
  /** What the compressor is built from, when permessage-deflate was negotiated. */
  deflate?: PerMessageDeflateInit | undefined;
  /** The server's settings, one object shared by all its connections. */
  policy: ConnectionPolicy;
}

/**
 * What every connection of one server shares: made once per server, so that a
 * connection holds one reference instead of a field for each (memory per idle
 * connection is a bench target).
 */
export interface ConnectionPolicy extends TransportSettings {
  readonly maxPayload: number;
  readonly maxFragments: number;
  /** The server's `lendMessages`: messages lent to the listeners, not copied. */
  readonly lendMessages?: boolean | undefined;
  readonly closeTimeout: number;
  readonly maxBacklog: number;
  readonly backlogPolicy: BacklogPolicy;
  /** The server's topics, for subscribe/unsubscribe. */
  readonly topics?: TopicRegistry<ServerWebSocket<unknown>> | undefined;
  /**
   * The server's `clients`: the connection is in it from construction until
   * just before its `close` event (no listener and closure per connection).
   */
  readonly clients?: Set<ServerWebSocket<unknown>> | undefined;
  /** The server's heartbeat, when it has one: the connection leaves it with `clients`. */
  readonly heartbeat?: SpreadSweep<ServerWebSocket<unknown>> | undefined;
  /** The server's counters, for `stats()`. */
  readonly counters?: Counters | undefined;
  /** The server, named in diagnostics channel messages. */
  readonly server?: object | undefined;
  /**
   * Reports an error a listener of `socket` threw: counted and published,
   * and, unless `consequence` is `undefined` (the socket's own `error` event
   * takes it), emitted as the server's `error`, else warned with its stack.
   */
  readonly reportUserError?:
    | ((error: unknown, socket: ServerWebSocket<unknown>, consequence: string | undefined) => void)
    | undefined;
}

const kHeartbeat = Symbol('heartbeat');
const kIdleSweep = Symbol('idleSweep');
const kSendEncoded = Symbol('sendEncoded');
const kCloseAs = Symbol('closeAs');
const kTerminateAs = Symbol('terminateAs');
const kWireBytes = Symbol('wireBytes');
const kExceedsBacklog = Symbol('exceedsBacklog');
const kWouldPassBacklog = Symbol('wouldPassBacklog');
const kRefuseSend = Symbol('refuseSend');
const kCauseIs = Symbol('causeIs');

/**
 * The prototype of every connection's listener table: no properties and no
 * prototype, so that an event named like an `Object.prototype` member
 * ('toString', 'constructor') finds nothing, as in EventEmitter's own table.
 */
const LISTENERS_PROTOTYPE: object = Object.create(null);

/**
 * The message limits of each policy's connections, made once per policy:
 * each connection keeps them until its first frame (an idle one forever), so
 * a shared object instead of one per connection (memory per idle connection
 * is a bench target).
 */
const policyLimits = new WeakMap<ConnectionPolicy, MessageLimits>();

function limitsOf(policy: ConnectionPolicy): MessageLimits {
  let limits = policyLimits.get(policy);
  if (limits === undefined) {
    limits = Object.freeze({
      maxPayload: policy.maxPayload,
      maxFragments: policy.maxFragments,
      allocate: allocateUnsafe,
      lendMessages: policy.lendMessages === true,
      lentBuffers: policy.lendMessages === true ? lentBuffers : undefined,
    });
    policyLimits.set(policy, limits);
  }
  return limits;
}

// Bits of ServerWebSocket's #flags (each field costs 10,000 idle connections 80 KB).
/** A pong arrived since the last heartbeat ping. */
const PONGED = 1;
/** A refused send promised a `drain` that the socket will not emit by itself. */
const DRAIN_OWED = 2;
/**
 * Set when EventEmitter captured rejections as this socket was made
 * (`EventEmitter.captureRejections`): 'message' then always goes through
 * `emit`, which turns a listener's rejected promise into an 'error'.
 */
const CAPTURING = 4;
/**
 * The {@link CloseCause}, once known: its index in CLOSE_CAUSES plus one, in
 * the bits above the flags (0: none yet).
 */
const CAUSE_SHIFT = 3;
const CAUSE_BITS = 0b11111 << CAUSE_SHIFT;
// Five bits hold 31 causes and "none yet": a new cause past that needs a wider field.
if (CLOSE_CAUSES.length >= 0b11111) throw new Error('CLOSE_CAUSES outgrew its 5 bits');
/** Idle sweeps in a row that found nothing read, in the bits above the cause. */
const IDLE_SHIFT = 8;
/**
 * The count stops here (22 bits: an idle timeout of 48 days at one sweep a
 * second), below the sign bit.
 */
const IDLE_MAX = (1 << 22) - 1;
const IDLE_BITS = IDLE_MAX << IDLE_SHIFT;

/** A connection's policy: its transport's settings (one field fewer per connection). */
const policyOf = (transport: SocketTransport): ConnectionPolicy =>
  transport.settings as ConnectionPolicy;

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

  /** The transport; its `settings` are this connection's {@link ConnectionPolicy}. */
  readonly #transport: SocketTransport;
  /**
   * {@link PONGED}, {@link DRAIN_OWED}, {@link CAPTURING}, the close cause
   * ({@link CAUSE_BITS}) and the idle sweeps in a row ({@link IDLE_BITS}).
   * Whether anything was read since the last heartbeat tick or idle sweep is
   * the transport's {@link ReadMark}.
   */
  #flags = EventEmitter.captureRejections ? PONGED | CAPTURING : PONGED;

  /** @internal */
  constructor(init: ServerWebSocketInit<Data>) {
    super();
    // EventEmitter's table is a `{ __proto__: null }` literal, which V8 keeps
    // as a dictionary (184 bytes with one listener, Node 20); one made from
    // a prototype is a fast object (56): 10,000 idle connections with a
    // 'message' listener keep 1.3 MB less. Listeners behave the same: the
    // table is only ever read, written and deleted from by EventEmitter.
    (this as unknown as { _events: object })._events = Object.create(LISTENERS_PROTOTYPE);
    this.data = init.data;
    const policy = init.policy;

    const socket = init.socket;
    socket.setTimeout(0);
    // Bytes that came with the request head go back in front of the stream:
    // they are read with the rest once flowing, after the 'connection'
    // listeners are attached (parsing them here would emit messages to nobody).
    if (init.head.length > 0) socket.unshift(init.head);
    this.#transport = new SocketTransport({
      socket,
      connect: (handler) =>
        new ServerConnection({
          handler,
          protocol: init.protocol,
          extensions: init.extensions,
          limits: limitsOf(policy),
          perMessageDeflate: init.deflate !== undefined,
        }),
      // This socket hears the transport itself, through the symbol-keyed
      // TransportEvents methods below: no forwarding object per connection
      // (memory per idle connection is a bench target).
      events: this,
      settings: policy,
      deflate: init.deflate,
    });
  }

  /** The state, numbered as the WHATWG `readyState`: 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    return this.#transport.connection.state;
  }

  /** The subprotocol chosen in the handshake, or `""`. */
  get protocol(): string {
    return this.#transport.connection.protocol;
  }

  /** The `Sec-WebSocket-Extensions` accepted in the handshake, or `""`. */
  get extensions(): string {
    return this.#transport.connection.extensions;
  }

  /** Bytes written but not yet handed to the kernel (frame headers included). */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** The peer's IP address, while connected. */
  get remoteAddress(): string | undefined {
    return this.#transport.socket.remoteAddress;
  }

  /**
   * Why the connection closed or is closing, when this side started it or
   * the peer broke the protocol (see {@link CloseCause}); `undefined` while
   * open and nothing has started the close. The `close` event always carries
   * the final cause.
   */
  get closeCause(): CloseCause | undefined {
    const index = (this.#flags & CAUSE_BITS) >> CAUSE_SHIFT;
    return index === 0 ? undefined : CLOSE_CAUSES[index - 1];
  }

  /**
   * Records why the connection closes, unless an earlier cause is known;
   * returns the cause.
   * @internal
   */
  [kCauseIs](cause: CloseCause): CloseCause {
    const known = this.closeCause;
    if (known !== undefined) return known;
    this.#flags |= (CLOSE_CAUSES.indexOf(cause) + 1) << CAUSE_SHIFT;
    return cause;
  }

  /**
   * How binary messages arrive: always `'nodebuffer'` (a `Buffer`). ws lets
   * server sockets choose `'arraybuffer'` or `'fragments'`; here setting
   * anything else throws, so a port from ws fails loudly instead of
   * receiving another type than it expects.
   */
  get binaryType(): 'nodebuffer' {
    return 'nodebuffer';
  }

  /** @throws {TypeError} for anything but `'nodebuffer'`. */
  set binaryType(value: 'nodebuffer') {
    if (value !== 'nodebuffer') {
      throw new TypeError(
        `binaryType ${JSON.stringify(value)} is not supported: binary messages always arrive ` +
          'as a Buffer (for an ArrayBuffer: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))',
      );
    }
  }

  /** Whether reading is paused by {@link pause}. */
  get isPaused(): boolean {
    return this.#transport.pausedByUser;
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
    const transport = this.#transport;
    if (transport.connection.state !== ConnectionState.Open) {
      if (callback)
        process.nextTick(
          callback,
          new Error(`WebSocket is not open: readyState ${this.readyState}`),
        );
      return false;
    }
    if (this[kExceedsBacklog](data)) return this[kRefuseSend](callback);
    const binary = options?.binary ?? typeof data !== 'string';
    const counters = policyOf(this.#transport).counters;
    if (counters && options?.fin !== false) counters.messagesSent++;
    // A string sent as binary is encoded by the transport.
    transport.send(
      asPayload(data),
      binary,
      options?.fin ?? true,
      options?.compress !== false,
      callback,
    );
    return !transport.needsDrain;
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
    if (this.readyState === ConnectionState.Open) this.#transport.ping(asPayload(data));
  }

  /**
   * Sends an unsolicited pong (at most 125 bytes); pings are answered
   * automatically. Does nothing unless open.
   * @throws {RangeError} for a longer payload.
   */
  pong(data: ServerSendData = ''): void {
    if (this.readyState === ConnectionState.Open) this.#transport.pong(asPayload(data));
  }

  /**
   * Starts the closing handshake, after every message sent before it. The
   * peer has `closeTimeout` ms to answer before the socket is destroyed.
   * Does nothing once closing.
   * @param code - 1000, 1001-1003, 1007-1014 or 3000-4999; no code sends an empty close frame.
   * @param reason - at most 123 UTF-8 bytes.
   * @throws {RangeError} for a code that may not be sent or a reason too long.
   */
  close(code?: number, reason?: string): void {
    this[kCloseAs]('local-close', code, reason);
  }

  /** Destroys the socket at once, without a closing handshake. `close` reports 1006. */
  terminate(): void {
    this[kTerminateAs]('terminated');
  }

  /**
   * Closes, recording `cause` unless an earlier one is known (the server's
   * own closes: shutdown, a throwing `connection` listener).
   * @internal
   */
  [kCloseAs](cause: CloseCause, code?: number, reason?: string): void {
    if (this.readyState === ConnectionState.Open) this[kCauseIs](cause);
    this.#transport.close(code, reason);
  }

  /** Terminates, recording `cause` unless an earlier one is known. @internal */
  /**
   * The memory budget evicted this connection: closed with 1013 without
   * reading more of it (the peer's reply could not be seen).
   * @internal TransportEvents
   */
  [kOnEvicted](): void {
    if (this.readyState === ConnectionState.Open) this[kCauseIs]('memory-budget');
    if (debugging) debug('evicted over the memory budget: unread for a whole interval');
    this.#transport.closeAndDrop(CloseCode.TryAgainLater, 'Memory budget exceeded');
  }

  [kTerminateAs](cause: CloseCause): void {
    if (this.readyState !== ConnectionState.Closed) this[kCauseIs](cause);
    this.#transport.terminate();
  }

  /** The topics this connection is subscribed to; see {@link subscribe}. */
  get topics(): ReadonlySet<string> {
    return (
      policyOf(this.#transport).topics?.topicsOf(this as ServerWebSocket<unknown>) ?? new Set()
    );
  }

  /**
   * Subscribes this connection to `topic`: it receives every message
   * `server.publish` sends there (on any node, with a multi-node adapter),
   * until {@link unsubscribe} or close, when it leaves all its topics.
   * @returns `false` when already subscribed or closed.
   * @throws {TypeError} when `topic` is not a string.
   */
  subscribe(topic: string): boolean {
    const topics = policyOf(this.#transport).topics;
    if (this.readyState === ConnectionState.Closed || !topics) return false;
    return topics.subscribe(this as ServerWebSocket<unknown>, topic);
  }

  /**
   * Unsubscribes this connection from `topic`.
   * @returns `false` when it was not subscribed.
   * @throws {TypeError} when `topic` is not a string.
   */
  unsubscribe(topic: string): boolean {
    return (
      policyOf(this.#transport).topics?.unsubscribe(this as ServerWebSocket<unknown>, topic) ??
      false
    );
  }

  /** Stops reading from the socket: TCP flow control pushes back on the peer. */
  pause(): void {
    this.#transport.pause();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.#transport.resume();
  }

  /** Whether `data` would push the backlog past `maxBacklog`; never for an empty backlog. */
  /** @internal */
  [kExceedsBacklog](data: ServerSendData): boolean {
    // A string has at most 3 UTF-8 bytes per UTF-16 unit: count them exactly
    // only near the limit.
    // `length` for the common Uint8Array: V8 11.3 loads `byteLength` through
    // its generic IC (see `copyInto` in @proj/protocol's bytes.ts).
    const bound =
      typeof data === 'string'
        ? data.length * 3
        : data instanceof Uint8Array
          ? data.length
          : data.byteLength;
    if (!this[kWouldPassBacklog](bound + frameHeaderSize(bound, false))) return false;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : bound;
    return this[kWouldPassBacklog](size + frameHeaderSize(size, false));
  }

  /**
   * Whether queueing `frameBytes` more would pass `maxBacklog`, or this is
   * one of the slowest consumers while the memory budget is exceeded (the
   * backlog policy applies to them first); never for an empty backlog.
   */
  /** @internal */
  [kWouldPassBacklog](frameBytes: number): boolean {
    const transport = this.#transport;
    let queued = transport.bufferedAmount;
    if (queued === 0) return false;
    if (queued + frameBytes > policyOf(this.#transport).maxBacklog) {
      // Gathered frames are not a backlog yet: the kernel may take them now.
      queued = transport.backlog;
      if (queued === 0) return false;
      if (queued + frameBytes > policyOf(this.#transport).maxBacklog) return true;
    }
    return policyOf(this.#transport).memoryBudget?.isSlowConsumer(queued) === true;
  }

  /** Refuses a send over `maxBacklog` as the `backlogPolicy` says. */
  /** @internal */
  [kRefuseSend](callback: SendCallback | undefined): false {
    const backlog = this.#transport.bufferedAmount;
    const policy = policyOf(this.#transport);
    const error = new BacklogExceededError(backlog, policy.maxBacklog);
    if (backlogExceededChannel.hasSubscribers) {
      backlogExceededChannel.publish({
        server: policy.server,
        socket: this,
        backlog,
        limit: policy.maxBacklog,
        policy: policy.backlogPolicy,
      });
    }
    if (debugging)
      debug(
        'backlog exceeded (%d bytes queued, limit %d): %s',
        backlog,
        policy.maxBacklog,
        policy.backlogPolicy === 'close' ? 'closing' : 'send refused',
      );
    if (policy.backlogPolicy === 'close') {
      this[kCloseAs]('backlog-exceeded', CloseCode.PolicyViolation, 'Backlog limit exceeded');
    } else if (!this.#transport.needsDrain && (this.#flags & DRAIN_OWED) === 0) {
      // `false` means "wait for drain", but below the high-water mark the
      // socket emits none: call back once all before it is flushed.
      this.#flags |= DRAIN_OWED;
      this.#transport.whenWritten(() => {
        this.#flags &= ~DRAIN_OWED;
        if (this.readyState === ConnectionState.Open) this.emit('drain');
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
    if (this.readyState !== ConnectionState.Open) return false;
    let size = 0;
    for (const chunk of chunks) size += chunk.byteLength;
    if (this[kWouldPassBacklog](size)) return this[kRefuseSend](undefined);
    if (!this.#transport.sendEncoded(chunks)) return false;
    const counters = policyOf(this.#transport).counters;
    if (counters) counters.messagesSent++;
    return true;
  }

  /**
   * One heartbeat tick: terminate if nothing arrived since the last tick,
   * else ping. Returns whether the connection was still alive.
   * @internal
   */
  [kHeartbeat](): boolean {
    const transport = this.#transport;
    if (transport.connection.state !== ConnectionState.Open) return true;
    const read = transport.takeReadMark(ReadMark.Heartbeat);
    const heard = (this.#flags & PONGED) !== 0 || read;
    // While paused a pong cannot be read: the application stopped reading,
    // which is not the peer's silence.
    if (!heard && !transport.readingPaused) {
      this[kTerminateAs]('heartbeat-timeout');
      return false;
    }
    this.#flags &= ~PONGED;
    transport.ping();
    return true;
  }

  /**
   * One idle sweep: closes with 1001 once `limit` sweeps passed with nothing
   * received. Time paused by {@link pause} does not count.
   * @internal
   */
  [kIdleSweep](limit: number): void {
    const transport = this.#transport;
    if (transport.connection.state !== ConnectionState.Open) return;
    const read = transport.takeReadMark(ReadMark.IdleSweep);
    const flags = this.#flags & ~IDLE_BITS;
    if (transport.readingPaused || read) {
      this.#flags = flags;
      return;
    }
    const sweeps = Math.min(((this.#flags & IDLE_BITS) >>> IDLE_SHIFT) + 1, IDLE_MAX);
    this.#flags = flags | (sweeps << IDLE_SHIFT);
    if (sweeps >= limit) this[kCloseAs]('idle-timeout', CloseCode.GoingAway, 'Idle timeout');
  }

  /** @internal */
  [kWireBytes](): readonly [number, number] {
    const socket = this.#transport.socket;
    return [socket.bytesRead ?? 0, socket.bytesWritten ?? 0];
  }

  /** @internal TransportEvents */
  [kOnMessage](data: Buffer, binary: boolean): void {
    const counters = policyOf(this.#transport).counters;
    if (counters) counters.messagesReceived++;
    const message = binary ? data : data.toString('utf8');
    // With one listener (the usual case) it is called as `emit` would call
    // it, minus the array `emit` gathers its arguments into per message.
    const listener = (this as unknown as { _events: Record<string, unknown> })._events['message'];
    if (typeof listener === 'function' && (this.#flags & CAPTURING) === 0) {
      listener.call(this, message, binary);
    } else {
      this.emit('message', message, binary);
    }
  }

  /** @internal TransportEvents */
  [kOnPing](data: Buffer): void {
    this.emit('ping', data);
  }

  /** @internal TransportEvents */
  [kOnPong](data: Buffer): void {
    this.#flags |= PONGED;
    this.emit('pong', data);
  }

  /** @internal TransportEvents */
  [kOnDrain](): void {
    this.emit('drain');
  }

  /** @internal TransportEvents */
  [kOnError](error: WebSocketError): void {
    const userCode = error instanceof InternalError;
    this[kCauseIs](userCode ? 'user-error' : 'protocol-error');
    if (debugging) debug('connection failed (%d): %s', error.closeCode, error.message);
    if (userCode) {
      // The application's bug: counted and published, and reported where
      // someone listens (this socket's `error`, else the server's, else a
      // warning with the stack), without crashing the other connections.
      const toSocket = this.listenerCount('error') > 0;
      policyOf(this.#transport).reportUserError?.(
        error.cause,
        this as ServerWebSocket<unknown>,
        toSocket ? undefined : 'the connection was closed with 1011',
      );
      if (toSocket) this.emit('error', error);
    } else if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    }
  }

  /** @internal TransportEvents: a `close` or `error` listener threw. */
  [kOnCallbackError](error: unknown): void {
    policyOf(this.#transport).reportUserError?.(
      error,
      this as ServerWebSocket<unknown>,
      'the connection had closed or failed already',
    );
  }

  /** @internal TransportEvents */
  [kOnClose](code: number, reason: string, wasClean: boolean): void {
    const policy = policyOf(this.#transport);
    policy.topics?.unsubscribeAll(this as ServerWebSocket<unknown>);
    policy.clients?.delete(this as ServerWebSocket<unknown>);
    policy.heartbeat?.delete(this as ServerWebSocket<unknown>);
    // Nobody here started it and the peer broke no rule: the peer closed,
    // with a close frame or (1006) by dropping the connection.
    const cause = this[kCauseIs](code === CloseCode.Abnormal ? 'connection-lost' : 'peer-close');
    const counters = policy.counters;
    if (counters) {
      counters.closes[cause]++;
      const socket = this.#transport.socket;
      counters.closedBytesReceived += socket.bytesRead ?? 0;
      counters.closedBytesSent += socket.bytesWritten ?? 0;
    }
    if (closeChannel.hasSubscribers) {
      closeChannel.publish({ server: policy.server, socket: this, code, reason, wasClean, cause });
    }
    if (debugging) debug('close %d %j (%s)%s', code, reason, cause, wasClean ? '' : ', not clean');
    this.emit('close', code, reason, wasClean, cause);
  }
}

for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const) {
  Object.defineProperty(ServerWebSocket.prototype, name, {
    value: ServerWebSocket[name],
    enumerable: true,
  });
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

/** Closes `socket` for the server, recording why; see {@link CloseCause}. @internal */
export function closeAs(
  socket: ServerWebSocket<unknown>,
  cause: CloseCause,
  code?: number,
  reason?: string,
): void {
  socket[kCloseAs](cause, code, reason);
}

/** Destroys `socket` for the server, recording why. @internal */
export function terminateAs(socket: ServerWebSocket<unknown>, cause: CloseCause): void {
  socket[kTerminateAs](cause);
}

/** The socket's wire byte counts so far, for `stats()`. @internal */
export function wireBytes(socket: ServerWebSocket<unknown>): readonly [number, number] {
  return socket[kWireBytes]();
}

/** Runs one heartbeat tick on `socket`. @internal */
export function heartbeat(socket: ServerWebSocket<unknown>): boolean {
  return socket[kHeartbeat]();
}

/** Data as the transport and protocol take it: a string, or a view of the bytes. */
function asPayload(data: ServerSendData): string | Uint8Array {
  return typeof data === 'string' ? data : toBytes(data);
}
