/**
 * The one Node I/O path under `@proj/server` and `@proj/client`.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import type { Duplex } from 'node:stream';
import { PerMessageDeflate, type PerMessageDeflateInit } from '@proj/deflate';
import {
  type Connection,
  type ConnectionHandler,
  ConnectionState,
  EMPTY,
  type EncodeFrameOptions,
  encodeFrameInto,
  frameHeaderSize,
  type OpenInfo,
  type WebSocketError,
  serializeClosePayload,
  toWebSocketError,
} from '@proj/protocol';
import { inReadBuffer, outgoing, outgoingBuffer, ownIfLent } from './lent-messages.js';
import { lendReads, readView } from './lent-reads.js';
import { bufferView } from './message-slab.js';
import type { BudgetReader, MemoryBudget } from './memory-budget.js';
import { type SendCallback, SendQueue, type SendSink } from './send-queue.js';

// The keys of TransportEvents: symbols, so that the policy's own object (a
// server's ServerWebSocket) can be the events target, without a forwarding
// object per connection (memory per idle connection is a bench target) and
// without the callbacks showing on its public API.
/** {@link TransportEvents}: the opening handshake succeeded. */
export const kOnOpen: unique symbol = Symbol('onOpen');
/** {@link TransportEvents}: a message. */
export const kOnMessage: unique symbol = Symbol('onMessage');
/** {@link TransportEvents}: a ping. */
export const kOnPing: unique symbol = Symbol('onPing');
/** {@link TransportEvents}: a pong. */
export const kOnPong: unique symbol = Symbol('onPong');
/** {@link TransportEvents}: the peer started the closing handshake. */
export const kOnClosing: unique symbol = Symbol('onClosing');
/** {@link TransportEvents}: the connection failed. */
export const kOnError: unique symbol = Symbol('onError');
/** {@link TransportEvents}: the connection is closed. */
export const kOnClose: unique symbol = Symbol('onClose');
/** {@link TransportEvents}: the write backlog emptied. */
export const kOnDrain: unique symbol = Symbol('onDrain');
/** {@link TransportEvents}: the socket reported an error. */
export const kOnSocketError: unique symbol = Symbol('onSocketError');
/** {@link TransportEvents}: the memory budget evicted the connection. */
export const kOnEvicted: unique symbol = Symbol('onEvicted');
/** {@link TransportEvents}: a listener threw after the close. */
export const kOnCallbackError: unique symbol = Symbol('onCallbackError');

/**
 * What the policy above a transport (the server's `ServerWebSocket`, the
 * client's link) hears, synchronously and in order. Keyed by the symbols
 * above.
 */
export interface TransportEvents {
  /** The opening handshake succeeded (client side). */
  [kOnOpen]?(info: OpenInfo): void;
  /**
   * A message, inflated if it was compressed. `data` is a view into a buffer
   * that nobody else writes (text: validated UTF-8, still bytes).
   */
  [kOnMessage](data: Buffer, binary: boolean): void;
  /** A ping arrived; the pong has been sent (unless over `pongBacklogLimit`). */
  [kOnPing]?(data: Buffer): void;
  /** A pong arrived. */
  [kOnPong]?(data: Buffer): void;
  /** The peer started the closing handshake; our close frame went in reply. */
  [kOnClosing]?(code: number, reason: string): void;
  /** The connection failed (a close frame with `error.closeCode` went where possible). */
  [kOnError](error: WebSocketError): void;
  /** The connection is closed; always the last report. */
  [kOnClose](code: number, reason: string, wasClean: boolean): void;
  /** The socket's write backlog emptied after a write returned `false`. */
  [kOnDrain]?(): void;
  /** The socket reported an error (`close` follows). */
  [kOnSocketError]?(error: Error): void;
  /**
   * The memory budget evicted this connection (it stayed stopped for a whole
   * interval under pressure): close it, without reading more of it (e.g.
   * `closeAndDrop`). Without this the socket is destroyed.
   */
  [kOnEvicted]?(): void;
  /**
   * A listener threw after the connection had closed or failed, so it could
   * not be failed with 1011 (see `ConnectionHandler.onCallbackError`).
   */
  [kOnCallbackError]?(error: unknown): void;
}

/**
 * The policy's task queue, as the transport sees it (the WHATWG client's: one
 * task per event). Writes made while tasks are queued leave together once they
 * have run, and what followed a reported message in the input waits for them
 * (`Connection.hold`).
 */
export interface WriteBoundary {
  /**
   * Calls `callback` once every task queued so far has run, and returns true;
   * returns false, and never calls it, when no task is waiting.
   */
  afterQueued(callback: () => void): boolean;
}

/**
 * What a transport runs over: a TCP or TLS socket (`net.Socket`), or an
 * HTTP/2 stream carrying a WebSocket (RFC 8441), which is a `Duplex` without
 * the socket's extras. Those are optional here: an HTTP/2 stream has no
 * Nagle to turn off (its session's socket has), and ends with `end()` where
 * a socket has `destroySoon()`.
 */
export type TransportSocket = Duplex & {
  setNoDelay?(noDelay?: boolean): unknown;
  destroySoon?(): void;
  /**
   * Drops the connection as a reset does, where `destroy()` would not say
   * so (an HTTP/2 stream: see `withStreamAbort`).
   */
  abort?(): void;
  /** The peer's address, when the runtime knows it. */
  readonly remoteAddress?: string | undefined;
  /** Bytes read so far, when the runtime counts them. */
  readonly bytesRead?: number;
  /** Bytes written so far, when the runtime counts them. */
  readonly bytesWritten?: number;
};

/** How a transport is set up. */
export interface SocketTransportInit {
  /** The socket (or HTTP/2 stream), connected or connecting. */
  readonly socket: TransportSocket;
  /** Makes the sans-I/O connection, given the handler the transport is for it. */
  readonly connect: (handler: ConnectionHandler) => Connection;
  readonly events: TransportEvents;
  /** Timing and limits; a server shares one object among all its connections. */
  readonly settings: TransportSettings;
  /** permessage-deflate's settings, when the handshake negotiated it (server side). */
  readonly deflate?: PerMessageDeflateInit | undefined;
  /** The policy's task queue (client side); without it, writes leave at once. */
  readonly boundary?: WriteBoundary | undefined;
}

/** Timing and limits of a transport. */
export interface TransportSettings {
  /**
   * How long the peer has to close the TCP connection once we wait for it
   * (`Connection.closeExpected`) before the socket is destroyed.
   */
  readonly closeTimeout: number;
  /**
   * Automatic pongs are skipped while more than this many bytes wait to be
   * written, so that a peer that pings without reading cannot grow the
   * backlog. Default: never skipped.
   */
  readonly pongBacklogLimit?: number | undefined;
  /**
   * The budget the connections' buffered bytes count against (see
   * {@link MemoryBudget}); without one nothing is counted.
   */
  readonly memoryBudget?: MemoryBudget | undefined;
}

const kTransport = Symbol('transport');

/**
 * After the closing handshake, how long a TCP socket half-closed by us goes on
 * reading while it waits for the peer's FIN (capped by `closeTimeout`): a few
 * round trips on slow networks, so that the peer has taken what we sent before
 * the socket closes.
 */
export const CLOSE_LINGER_MS = 1000;

// Per-connection state bits, in one field: every field costs each of 10,000
// idle connections 8 bytes (memory per idle connection is a bench target).
/** We corked the socket (at most once; `uncork` undoes it). */
const CORKED = 1;
/** Reading is paused by `pause()`. */
const PAUSED_BY_USER = 2;
/** A compressed message is being inflated. */
const INFLATING = 4;
/** The peer's FIN came while a message was inflating: our end waits for it. */
const END_WHEN_INFLATED = 8;
/** The socket closed while a message was inflating: the end waits for it. */
const CLOSED_WHILE_INFLATING = 16;
/** Reading is paused by the memory budget until its pressure ends. */
const PAUSED_BY_BUDGET = 32;
/** The socket reads into the shared buffer (`lent-reads.ts`). */
const LENT_READS = 64;

/**
 * Marks that every socket read sets, for a policy to take with
 * {@link SocketTransport.takeReadMark}: whether anything was read since it
 * last took that mark, without a read counter per connection, nor a copy of
 * one per check (memory per idle connection is a bench target). They are
 * bits of the transport's flags, above the ones listed before.
 */
export const ReadMark = {
  /** The heartbeat's: a server's or a client's ping interval. */
  Heartbeat: 128,
  /** The server's idle sweep. */
  IdleSweep: 256,
} as const;
/** One of {@link ReadMark}. */
export type ReadMark = (typeof ReadMark)[keyof typeof ReadMark];
const READ_MARKS = ReadMark.Heartbeat | ReadMark.IdleSweep;

/** A socket that knows its transport, for the shared listeners below. */
type OwnedSocket = TransportSocket & { [kTransport]: SocketTransport };

// One set of listeners for every socket (they find the transport through it):
// no closures per connection (memory per idle connection is a bench target).
function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kTransport].receive(chunk);
}
function onSocketRead(this: OwnedSocket, length: number): void {
  this[kTransport].receive(readView(length), true);
}
function onSocketEnd(this: OwnedSocket): void {
  this[kTransport].peerEnded();
}

/**
 * net.Socket's own 'end' listener (`onReadableStreamEnd`, added by its
 * constructor), once a socket showed it: see {@link listenForEnd}.
 */
let netOnEnd: ((this: TransportSocket) => void) | undefined;

/** net's 'end' listener, then ours: one listener where two would need an array. */
function onSocketEndAfterNet(this: OwnedSocket): void {
  netOnEnd!.call(this);
  this[kTransport].peerEnded();
}

/**
 * Listens for the peer's end. A net.Socket already has one 'end' listener
 * of its own, and a second makes EventEmitter keep an array for them (64
 * bytes per socket; memory per idle connection is a bench target): where
 * net's is the only one, it is replaced by one listener that calls it, then
 * ours, in the order they would have run. Anything else (an HTTP/2 stream,
 * a socket someone else listens to) gets our listener added.
 */
function listenForEnd(socket: OwnedSocket): void {
  const listeners = socket.listeners('end');
  const only = listeners.length === 1 ? listeners[0] : undefined;
  if (
    typeof only === 'function' &&
    only.name === 'onReadableStreamEnd' &&
    (netOnEnd === undefined || netOnEnd === only)
  ) {
    netOnEnd = only as (this: TransportSocket) => void;
    socket.removeListener('end', only as () => void);
    socket.on('end', onSocketEndAfterNet);
  } else {
    socket.on('end', onSocketEnd);
  }
}
function onSocketDrain(this: OwnedSocket): void {
  this[kTransport].drained();
}
function onSocketError(this: OwnedSocket, error: Error): void {
  // Transport errors (ECONNRESET, EPIPE) are ordinary disconnects: 'close'
  // follows and reports 1006. Listening keeps them from becoming uncaught.
  this[kTransport].socketError(error);
}
function onSocketClose(this: OwnedSocket): void {
  this[kTransport].closed();
}
function uncorkLater(transport: SocketTransport): void {
  transport.uncork();
}

// ---- the gather buffer: one socket.write per read, and per tick ----
//
// Every chunk handed to `socket.write` costs Node's stream layer a Buffer
// view, a write request and a slot in the writev list (issue 21: 0.4-0.7 µs
// per echoed message), and an uncorked one a system call. So the small frames
// produced while one read is dispatched are copied into this buffer and leave
// in one `socket.write` when the read is done. One buffer serves the whole
// process: reads are dispatched one at a time on the event loop, and only the
// transport dispatching one (the owner) gathers; writes to any other
// connection go out as before.
//
// Outside any read (a timer, a store's answer: a session's sends after a
// commit, issue 17), a server connection's small frames are gathered too,
// until the microtask checkpoint or until another connection's frame or read
// takes the buffer, whichever comes first: the sends of one callback leave in
// one write. A frame written pre-encoded (a broadcast) to a connection that
// is not gathering goes out as before, uncopied.

/** Size of a gather slab; a batch larger than that is flushed in several writes (into one cork). */
const SLAB_SIZE = 64 * 1024;
/**
 * Frames up to this size are copied into the gather buffer; a larger one
 * (header and payload) is written as its own chunks, never copied, after
 * what was gathered before it.
 */
const GATHER_LIMIT = 8 * 1024;

let slab: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE);
/**
 * The slab's memory, kept to make write views with `bufferView` rather than
 * `slab.subarray`, which reads `buffer` and `byteOffset` through V8's generic
 * load IC on every flush (see `copyInto` in @proj/protocol's bytes.ts).
 */
let slabMemory: ArrayBufferLike = slab.buffer;
let slabOffset = slab.byteOffset;
/** Where the owner's gathered bytes start in {@link slab}. */
let gatherStart = 0;
/** Where they end. */
let gatherEnd = 0;
/** The transport whose frames are being gathered, or null. */
let gatherOwner: SocketTransport | null = null;
/** The owner is dispatching a read (else it gathers a tick's writes outside any read). */
let gatherInRead = false;
/** A microtask will write what an owner outside a read gathered. */
let tickFlushQueued = false;
/** The send callbacks of the gathered frames, in order: called when their write completes. */
let gatherCallbacks: SendCallback[] = [];

/** encodeFrameInto's options, reused: one frame is encoded at a time. */
const FRAME_OPTIONS: EncodeFrameOptions = {};

function callEach(callbacks: readonly SendCallback[], error?: Error | null): void {
  for (const callback of callbacks) callback(error);
}

/**
 * One WebSocket connection over a Node socket: the only place where
 * `@proj/server` and `@proj/client` meet `node:net`. It drives the sans-I/O
 * `Connection` with the socket's bytes and owns everything between the two:
 *
 * - **writes**: the small frames produced while one read is dispatched (on a
 *   server connection, also those of one tick outside any read) are
 *   encoded into one process-wide gather buffer and leave in one
 *   `socket.write` (a large frame goes as chunks of its own, in its place,
 *   in the same `writev`); writes made while the policy's tasks are queued
 *   leave together in one `writev` (a cork); a multi-chunk frame is one
 *   `writev` too;
 * - **one ordered send path** ({@link SendQueue}): messages, deflated
 *   messages, Blob reads, broadcast frames and the close leave in call order;
 * - **compression**, made on first use: inflating pauses parsing and reading;
 * - **the close timer**, armed whenever the protocol waits for the peer.
 *
 * The server and the client are policy on top (backlog limits, heartbeat,
 * topics; dialing, the handshake timeout, the WHATWG task queue).
 *
 * Its `ConnectionHandler` methods (`write`, `end`, `onMessage`, ...) are the
 * protocol's callbacks, not for the policy to call.
 */
export class SocketTransport implements ConnectionHandler, SendSink, BudgetReader {
  readonly #socket: TransportSocket;
  readonly #connection: Connection;
  readonly #events: TransportEvents;
  readonly #settings: TransportSettings;
  /** {@link CORKED}, {@link PAUSED_BY_USER}, ..., and the {@link ReadMark}s. */
  #flags = 0;
  /**
   * What an idle server connection does not use (the client's task queue,
   * compression, the send queue, the close timer, a send callback, budget
   * counts), made on first use: one field instead of seven (memory per idle
   * connection is a bench target). Read through the methods below.
   */
  #rare: RareState | null = null;

  constructor(init: SocketTransportInit) {
    this.#socket = init.socket;
    this.#events = init.events;
    this.#settings = init.settings;
    if (init.boundary !== undefined) {
      this.#extra().tasks = { boundary: init.boundary, afterTasks: () => this.#runAfterTasks() };
    }
    this.#setDeflate(init.deflate);
    this.#connection = init.connect(this);
    const socket = init.socket as OwnedSocket;
    socket.setNoDelay?.(true);
    socket[kTransport] = this;
    socket.on('data', onSocketData);
    if (lendReads(socket, onSocketRead as (length: number) => void)) this.#flags |= LENT_READS;
    listenForEnd(socket);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /** {@link #rare}, made now if it was not yet. */
  #extra(): RareState {
    return (this.#rare ??= {
      tasks: undefined,
      deflate: undefined,
      queue: null,
      closeTimer: undefined,
      sendCallback: undefined,
      inputCounted: 0,
      outputCounted: 0,
    });
  }

  // Each setter below makes #rare only for a value other than the default.
  // Methods, not accessors: V8 (Node 20) inlines private methods, but calls
  // private getters and setters, which cost the echo path a few per cent.

  /** The policy's task queue and {@link #runAfterTasks} bound for it (client side only). */
  #tasks(): TaskLink | undefined {
    return this.#rare?.tasks;
  }

  /**
   * permessage-deflate's settings once negotiated, replaced by the
   * (de)compressor made from them on the first message that needs it.
   */
  #deflate(): PerMessageDeflate | PerMessageDeflateInit | undefined {
    return this.#rare?.deflate;
  }

  #setDeflate(deflate: PerMessageDeflate | PerMessageDeflateInit | undefined): void {
    if (deflate !== undefined || this.#rare !== null) this.#extra().deflate = deflate;
  }

  /** Made the first time a send has to wait (deflating, a Blob): most connections never need one. */
  #queue(): SendQueue | null {
    return this.#rare?.queue ?? null;
  }

  #closeTimer(): NodeJS.Timeout | undefined {
    return this.#rare?.closeTimer;
  }

  #setCloseTimer(timer: NodeJS.Timeout | undefined): void {
    if (timer !== undefined || this.#rare !== null) this.#extra().closeTimer = timer;
  }

  /**
   * The callback of the send being written, attached to its frame's last
   * chunk: returned, and forgotten. Every frame written asks, so a send
   * without one (most) touches nothing more.
   */
  #takeSendCallback(): SendCallback | undefined {
    const rare = this.#rare;
    if (rare === null) return undefined;
    const callback = rare.sendCallback;
    rare.sendCallback = undefined;
    return callback;
  }

  /** Input bytes counted against the memory budget now. */
  #inputCounted(): number {
    return this.#rare?.inputCounted ?? 0;
  }

  #setInputCounted(bytes: number): void {
    if (bytes !== 0 || this.#rare !== null) this.#extra().inputCounted = bytes;
  }

  /** Output bytes counted against the memory budget now. */
  #outputCounted(): number {
    return this.#rare?.outputCounted ?? 0;
  }

  #setOutputCounted(bytes: number): void {
    if (bytes !== 0 || this.#rare !== null) this.#extra().outputCounted = bytes;
  }

  /** The sans-I/O connection. */
  get connection(): Connection {
    return this.#connection;
  }

  /**
   * Bytes written but not yet handed to the kernel (frame headers included):
   * the socket's backlog, plus what this connection gathered in the read
   * being dispatched.
   */
  get bufferedAmount(): number {
    const socket = this.#socket;
    return gatherOwner === this
      ? socket.writableLength + gatherEnd - gatherStart
      : socket.writableLength;
  }

  /**
   * Whether the socket's backlog is over its high-water mark: wait for
   * {@link kOnDrain}. Gathered bytes never make it so: they are written as
   * soon as they and the backlog reach the mark, and the socket judges that
   * write.
   */
  get needsDrain(): boolean {
    return this.#socket.writableNeedDrain;
  }

  /**
   * Whether the socket was read since `mark` was last taken (or since the
   * transport was made); clears it.
   */
  takeReadMark(mark: ReadMark): boolean {
    const flags = this.#flags;
    this.#flags = flags & ~mark;
    return (flags & mark) !== 0;
  }

  /** Whether reading is paused by {@link pause}. */
  get pausedByUser(): boolean {
    return (this.#flags & PAUSED_BY_USER) !== 0;
  }

  /** Whether reading is paused by the memory budget, until its pressure ends. */
  get pausedByBudget(): boolean {
    return (this.#flags & PAUSED_BY_BUDGET) !== 0;
  }

  /** The settings it was made with: a server's connections share one object (their policy). */
  get settings(): TransportSettings {
    return this.#settings;
  }

  /** The socket, for what the policy reads of it (the peer's address). */
  get socket(): TransportSocket {
    return this.#socket;
  }

  /** Whether the socket is not being read: paused by {@link pause}, or while a message inflates. */
  get readingPaused(): boolean {
    return this.#socket.isPaused();
  }

  /** Starts permessage-deflate with what the handshake settled (client side, on open). */
  useCompression(init: PerMessageDeflateInit): void {
    if (!(this.#deflate() instanceof PerMessageDeflate)) this.#setDeflate(init);
  }

  // ---- sending: everything goes through the one queue ----

  /**
   * Sends a message, or a fragment with `fin: false`. With permessage-deflate
   * negotiated, a whole message of at least the threshold is deflated unless
   * `compress` is false; fragments never are. `callback` hears when its bytes
   * were handed to the kernel, or of the error that prevented it.
   */
  send(
    data: Uint8Array | string,
    binary: boolean,
    fin: boolean,
    compress: boolean,
    callback?: SendCallback,
  ): void {
    const deflate = fin && compress ? this.#compressor() : undefined;
    if (deflate !== undefined) {
      // Encoded once: below the threshold the bytes go out as they are.
      data = typeof data === 'string' ? Buffer.from(data) : data;
      if (data.byteLength >= deflate.threshold) {
        // Deflated later: a lent message is copied (see `isLent`).
        this.#sendQueue().deflated(ownIfLent(data), binary, deflate, callback);
        return;
      }
    }
    const queue = this.#queue();
    // A message that waits in the queue is copied there.
    if (queue !== null && queue.busy) queue.message(data, binary, fin, callback);
    else this.writeMessage(data, binary, fin, false, callback);
  }

  /** Sends a binary message whose bytes are still being read (a `Blob`). */
  sendPending(bytes: Promise<Uint8Array>, readError: string, callback?: SendCallback): void {
    this.#sendQueue().pending(bytes, this.#compressor() ?? null, readError, callback);
  }

  /**
   * Sends a frame encoded once for many connections. Returns whether it was
   * (or will be) written: not when the connection is not open or is in the
   * middle of sending a fragmented message.
   */
  sendEncoded(chunks: readonly Uint8Array[]): boolean {
    if (this.#connection.state !== ConnectionState.Open) return false;
    const queue = this.#queue();
    return queue !== null && queue.busy ? queue.encoded(chunks) : this.writeEncoded(chunks);
  }

  /** Sends a ping now, ahead of waiting messages (control frames may interleave). */
  ping(data: Uint8Array | string = ''): void {
    this.#connection.sendPing(data);
  }

  /** Sends an unsolicited pong now. */
  pong(data: Uint8Array | string = ''): void {
    this.#connection.sendPong(data);
  }

  /**
   * Starts the closing handshake behind every send made before it; the close
   * timer starts with it.
   * @throws {RangeError} for a code that may not be sent or a reason too long,
   *   at once even when the close itself has to wait.
   */
  close(code?: number, reason?: string): void {
    const queue = this.#queue();
    if (queue !== null && queue.busy) {
      serializeClosePayload(code, reason);
      queue.close(code, reason);
    } else {
      this.startClose(code, reason);
    }
  }

  /** Fails the connection with 1006: no close frame, the socket dropped at once. */
  fail(code: number): void {
    this.#connection.fail(code);
    this.#socket.destroy();
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(): void {
    abort(this.#socket);
  }

  /** Stops reading from the socket: TCP flow control pushes back on the peer. */
  pause(): void {
    this.#flags |= PAUSED_BY_USER;
    this.#socket.pause();
  }

  /**
   * Resumes reading after {@link pause} (once no message is inflating, and
   * once the memory budget's pressure ends if it stopped this reader).
   */
  resume(): void {
    this.#flags &= ~PAUSED_BY_USER;
    if (!this.#connection.parsingPaused && (this.#flags & PAUSED_BY_BUDGET) === 0) {
      this.#socket.resume();
    }
  }

  /** @internal BudgetReader: the memory budget's pressure ended. */
  resumeAfterPressure(): void {
    this.#flags &= ~PAUSED_BY_BUDGET;
    if ((this.#flags & INFLATING) === 0) this.#resumeReading();
  }

  /** @internal BudgetReader: bytes of unfinished input counted against the memory budget. */
  get heldInput(): number {
    return this.#inputCounted();
  }

  /**
   * @internal BudgetReader: stopped for a whole interval under pressure.
   * Uncounted at once (the budget goes on with the next largest), then the
   * policy closes it ({@link kOnEvicted}), or it is destroyed.
   */
  evictForPressure(): void {
    if (this.#settings.memoryBudget !== undefined) {
      this.#countInput(0);
      this.#countOutput(0);
    }
    const events = this.#events;
    if (events[kOnEvicted]) events[kOnEvicted]();
    else this.terminate();
  }

  /**
   * Sends a close frame with `code` and `reason` if it can go now, and
   * destroys the socket once what is written has been flushed: for a peer we
   * no longer read (its close frame could not be seen).
   */
  closeAndDrop(code: number, reason: string): void {
    const queue = this.#queue();
    if (this.#connection.state === ConnectionState.Open && (queue === null || !queue.busy)) {
      this.#connection.close(code, reason);
    }
    this.#flushGathered();
    this.uncork();
    destroySoon(this.#socket);
    // A peer that reads nothing either never lets the end finish.
    this.#armCloseTimer();
  }

  // ---- SendSink: what the queue hands on, in order ----

  /** @internal */
  writeMessage(
    payload: Uint8Array | string,
    binary: boolean,
    fin: boolean,
    compressed: boolean,
    callback: SendCallback | undefined,
  ): void {
    const connection = this.#connection;
    if (connection.state !== ConnectionState.Open) {
      if (callback) process.nextTick(callback, notOpen(connection.state));
      return;
    }
    if (callback !== undefined) this.#extra().sendCallback = callback;
    try {
      if (binary) {
        connection.sendBinary(typeof payload === 'string' ? Buffer.from(payload) : payload, {
          fin,
          compressed,
        });
      } else {
        connection.sendText(payload, { fin, compressed });
      }
    } finally {
      // Thrown before anything was written (e.g. mixing text and binary
      // fragments): the callback must not ride on the next frame, and still
      // hears of it (a caller counting its sends relies on one call each).
      const unsent = callback === undefined ? undefined : this.#takeSendCallback();
      if (unsent !== undefined) process.nextTick(unsent, new Error('Nothing was sent'));
    }
  }

  /** @internal */
  writeEncoded(chunks: readonly Uint8Array[]): boolean {
    if (this.#connection.state !== ConnectionState.Open) return false;
    try {
      this.#connection.sendEncodedFrame(chunks);
      return true;
    } catch {
      // In the middle of a fragmented message: a broadcast frame cannot go now.
      return false;
    }
  }

  /**
   * Calls `callback` once everything written so far (gathered frames
   * included) has been handed to the kernel.
   */
  whenWritten(callback: (error?: Error | null) => void): void {
    this.#flushGathered();
    this.#socket.write(EMPTY, callback);
  }

  /**
   * The bytes waiting to be written once what this connection gathered has
   * been handed to the socket: the backlog a limit should judge, since the
   * kernel may take gathered bytes at once.
   */
  get backlog(): number {
    this.#flushGathered();
    return this.#socket.writableLength;
  }

  /** @internal */
  startClose(code: number | undefined, reason: string | undefined): void {
    this.#connection.close(code, reason);
    this.#armCloseTimer();
  }

  // ---- ConnectionHandler: the protocol's callbacks ----

  /** @internal */
  write(chunks: readonly Uint8Array[]): void {
    const socket = this.#socket;
    const callback = this.#takeSendCallback();
    if (!socket.writable) {
      if (callback) process.nextTick(callback, new Error('Socket is closed'));
      return;
    }
    if (gatherOwner === this) {
      if (this.#gather(chunks, callback)) return;
      // Too large to copy: what was gathered goes first, and the rest of the
      // read's writes join this one in one writev.
      this.#flushGathered();
      if (gatherInRead) this.#cork();
    }
    if ((this.#flags & CORKED) === 0) {
      const tasks = this.#tasks();
      if (tasks !== undefined) {
        // Everything written in one task leaves in one writev: when more
        // tasks are queued (a read reported several messages), the socket
        // stays corked until they have run too, so that the answers to them
        // all leave in one syscall. The wait is bounded: those tasks already
        // have their Immediates.
        this.#cork();
        if (!tasks.boundary.afterQueued(tasks.afterTasks)) process.nextTick(uncorkLater, this);
      } else if (chunks.length > 1) {
        // One writev for header and payload instead of concatenating them.
        socket.cork();
        writeChunks(socket, chunks, callback, this.lentReads);
        socket.uncork();
        this.#countBacklog();
        return;
      }
    }
    writeChunks(socket, chunks, callback, this.lentReads);
    this.#countBacklog();
  }

  /**
   * Counts the socket's backlog against the memory budget, only past the
   * high-water mark: then 'drain' is sure to follow and uncount it. Below it
   * a socket holds at most 16 KiB.
   */
  #countBacklog(): void {
    const socket = this.#socket;
    if (socket.writableNeedDrain && this.#settings.memoryBudget !== undefined) {
      this.#countOutput(socket.writableLength);
    }
  }

  /**
   * @internal ConnectionHandler: a small frame of the read being dispatched,
   * or (on a server connection, with no read being dispatched) of this tick,
   * is encoded straight into the gather buffer (nothing allocated). A larger
   * unmasked one whose payload lies in the shared read buffer is encoded
   * into memory of its own ({@link #lentFrame}). Any other frame is declined
   * and comes to {@link write} encoded.
   */
  writeFrame(
    opcode: number,
    payload: Uint8Array,
    fin: boolean,
    rsv1: boolean,
    mask: Uint8Array | undefined,
  ): boolean {
    const length = payload.length;
    const size = frameHeaderSize(length, mask !== undefined) + length;
    if (size > GATHER_LIMIT) {
      // A masked (client) frame is masked into one new buffer by the connection.
      if (mask !== undefined || !inReadBuffer(payload)) return false;
      this.write([this.#lentFrame(opcode, payload, fin, rsv1, size)]);
      return true;
    }
    if (gatherOwner !== this && (gatherInRead || this.#tasks() !== undefined)) return false;
    if (!this.#socket.writable) return false;
    if (gatherOwner !== this) this.#gatherThisTick();
    this.#reserve(size);
    const options = FRAME_OPTIONS;
    options.fin = fin;
    options.rsv1 = rsv1;
    options.mask = mask;
    gatherEnd = encodeFrameInto(slab, gatherEnd, opcode, payload, options);
    options.mask = undefined;
    const callback = this.#takeSendCallback();
    if (callback !== undefined) gatherCallbacks.push(callback);
    this.#flushAtHighWaterMark();
    return true;
  }

  /**
   * A frame too large to gather whose payload lies in the shared read buffer
   * (a lent message echoed or forwarded): the payload has to be copied
   * before the write in any case (`outgoing`), so it is copied behind its
   * header into one buffer, one chunk to write rather than a corked pair
   * and a `writev` (issue 21: 64 KiB lent echoes). Other large frames go as
   * the connection encodes them: their header an array of its own, their
   * payload as it is.
   */
  #lentFrame(
    opcode: number,
    payload: Uint8Array,
    fin: boolean,
    rsv1: boolean,
    size: number,
  ): Buffer {
    const options = FRAME_OPTIONS;
    options.fin = fin;
    options.rsv1 = rsv1;
    const frame = outgoingBuffer(size, this.#socket, this.lentReads);
    encodeFrameInto(frame, 0, opcode, payload, options);
    return frame;
  }

  /** Makes room for `length` more bytes in the gather buffer. */
  #reserve(length: number): void {
    if (gatherEnd + length <= SLAB_SIZE) return;
    // The read's writes still leave in one writev.
    if (gatherInRead) this.#cork();
    this.#flushGathered();
    // The slab's bytes may still be held by sockets: start a new one.
    if (gatherEnd + length > SLAB_SIZE) {
      slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      slabMemory = slab.buffer;
      slabOffset = slab.byteOffset;
      gatherStart = gatherEnd = 0;
    }
  }

  /**
   * Copies a frame into the gather buffer, unless it is too large; then the
   * caller writes it. Returns whether it was gathered.
   */
  #gather(chunks: readonly Uint8Array[], callback: SendCallback | undefined): boolean {
    let length = 0;
    for (const chunk of chunks) length += chunk.length;
    if (length > GATHER_LIMIT) return false;
    this.#reserve(length);
    const target = slab;
    let offset = gatherEnd;
    for (const chunk of chunks) {
      target.set(chunk, offset);
      offset += chunk.length;
    }
    gatherEnd = offset;
    if (callback) gatherCallbacks.push(callback);
    this.#flushAtHighWaterMark();
    return true;
  }

  /**
   * Writes what was gathered once it and the socket's backlog reach the
   * high-water mark: gathering then saves no system call worth waiting for,
   * and the socket, not the gather buffer, says when to wait for
   * {@link kOnDrain} (a net.Socket whose write completes at once emits none,
   * however large).
   */
  #flushAtHighWaterMark(): void {
    const socket = this.#socket;
    if (gatherEnd - gatherStart + socket.writableLength >= socket.writableHighWaterMark) {
      this.#flushGathered();
    }
  }

  /**
   * Writes what this connection gathered, in one `socket.write` (its send
   * callbacks hear when that write completed). A socket with no backlog gets
   * a view of the slab: when the write completes at once (the common case)
   * the bytes are reused; otherwise the socket holds the view until written
   * and the next batch starts after it. A socket with a backlog gets a copy,
   * so that a slow reader does not pin a slab.
   */
  #flushGathered(): void {
    if (gatherOwner !== this) return;
    const start = gatherStart;
    const end = gatherEnd;
    if (end === start) return;
    const socket = this.#socket;
    let callbacks: SendCallback[] | null = null;
    if (gatherCallbacks.length !== 0) {
      callbacks = gatherCallbacks;
      gatherCallbacks = [];
    }
    if (!socket.writable) {
      gatherEnd = start;
      if (callbacks) process.nextTick(callEach, callbacks, new Error('Socket is closed'));
      return;
    }
    let bytes: Buffer;
    const copy = socket.writableLength !== 0;
    if (copy) {
      bytes = Buffer.allocUnsafe(end - start);
      slab.copy(bytes, 0, start, end);
    } else {
      bytes = bufferView(slabMemory, slabOffset + start, end - start);
    }
    if (callbacks === null) socket.write(bytes);
    else socket.write(bytes, (error) => callEach(callbacks, error));
    // Handed to the kernel already (nothing left in the socket): the slab's
    // bytes can be written over.
    if (copy || socket.writableLength === 0) gatherEnd = start;
    else gatherStart = end;
    this.#countBacklog();
  }

  /**
   * Starts gathering the writes of this connection's read, unless another
   * connection's read is being dispatched. What was gathered outside a read
   * (this connection's or another's) is written first.
   */
  #startGathering(): boolean {
    const owner = gatherOwner;
    if (owner !== null) {
      if (gatherInRead) return false;
      owner.#stopGathering();
    }
    // The process-wide gather buffer's owner, not an alias for a closure.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    gatherOwner = this;
    gatherInRead = true;
    return true;
  }

  /**
   * Outside any read: gathers this connection's frames until the microtask
   * checkpoint, taking the buffer from the connection that gathered before
   * (whose frames are written now).
   */
  #gatherThisTick(): void {
    if (gatherOwner !== null) gatherOwner.#stopGathering();
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    gatherOwner = this;
    gatherInRead = false;
    if (!tickFlushQueued) {
      tickFlushQueued = true;
      queueMicrotask(SocketTransport.#endTick);
    }
  }

  /** The microtask checkpoint: what was gathered outside a read is written. */
  static #endTick(this: void): void {
    tickFlushQueued = false;
    if (gatherOwner !== null && !gatherInRead) gatherOwner.#stopGathering();
  }

  /** Writes what was gathered and stops gathering. */
  #stopGathering(): void {
    this.#flushGathered();
    gatherOwner = null;
    gatherInRead = false;
  }

  /** @internal */
  end(): void {
    const socket = this.#socket;
    this.#flushGathered();
    this.#armCloseTimer();
    const connection = this.#connection;
    if (connection.state === ConnectionState.Connecting) {
      // Before the opening handshake completes there is no closing handshake
      // to wait for: drop the connection at once.
      socket.destroy();
      return;
    }
    if (connection.closeHandshakeComplete) {
      // Both close frames are exchanged. Our close frame may sit in a cork:
      // flush it first.
      this.#flags &= ~CORKED;
      while (socket.writableCorked > 0) socket.uncork();
      if (!socket.destroySoon) {
        // An HTTP/2 stream (RFC 8441): END_STREAM is its clean close, so it
        // always goes out first; the peer's half may never end (Firefox
        // leaves it open when the page closed first), and the stream, not
        // the connection, is all there is to close: close it once our
        // END_STREAM is out.
        destroySoon(socket);
        return;
      }
      // TCP: half-close now (RFC 6455 §7.1.1, the server closes first) and
      // go on reading, without waiting closeTimeout for the peer's FIN. Not
      // closing outright: bytes a peer sent after its close frame (§5.5.1
      // forbids them, some send them anyway) that sit unread when the socket
      // closes make Linux answer with a reset and discard what the peer has
      // not taken yet, our close frame and the messages before it included.
      // Read, they are discarded; the peer's FIN, or CLOSE_LINGER_MS, ends it.
      // (The client ends only at the server's EOF, its socket closed already.)
      if (socket.destroyed) return;
      this.#lingerAfterClose();
    }
    socket.end();
  }

  /**
   * Bounds the wait for the peer's FIN after the closing handshake: the
   * socket is then closed (gracefully, unless bytes arrive at that moment).
   */
  #lingerAfterClose(): void {
    clearTimeout(this.#closeTimer());
    const socket = this.#socket;
    const linger = Math.min(CLOSE_LINGER_MS, this.#settings.closeTimeout);
    this.#setCloseTimer(setTimeout(() => socket.destroy(), linger).unref());
  }

  /** @internal */
  replyToPing(): boolean {
    const limit = this.#settings.pongBacklogLimit;
    return limit === undefined || this.bufferedAmount <= limit || this.backlog <= limit;
  }

  /** @internal */
  onOpen(info: OpenInfo): void {
    this.#events[kOnOpen]?.(info);
  }

  /** @internal */
  onMessage(data: Uint8Array, binary: boolean, compressed?: boolean): void {
    if (compressed) {
      this.#inflate(data, binary);
      return;
    }
    this.#events[kOnMessage](toBuffer(data), binary);
    // The policy hands the message on in a task: what followed it in the
    // input waits until that task has run (a reply to it goes first).
    const tasks = this.#tasks();
    if (tasks?.boundary.afterQueued(tasks.afterTasks)) this.#connection.hold();
  }

  /** @internal */
  onPing(data: Uint8Array): void {
    this.#events[kOnPing]?.(toBuffer(data));
  }

  /** @internal */
  onPong(data: Uint8Array): void {
    this.#events[kOnPong]?.(toBuffer(data));
  }

  /** @internal */
  onClosing(code: number, reason: string): void {
    this.#events[kOnClosing]?.(code, reason);
  }

  /** @internal */
  onError(error: WebSocketError): void {
    this.#events[kOnError](error);
  }

  /** @internal */
  onCallbackError(error: unknown): void {
    this.#events[kOnCallbackError]?.(error);
  }

  /** @internal */
  onClose(code: number, reason: string, wasClean: boolean): void {
    clearTimeout(this.#closeTimer());
    const budget = this.#settings.memoryBudget;
    if (budget !== undefined) {
      budget.forget(this);
      this.#countInput(0);
      this.#countOutput(0);
    }
    const deflate = this.#deflate();
    if (deflate instanceof PerMessageDeflate) deflate.close();
    this.#queue()?.abort(notOpen(ConnectionState.Closed));
    this.#events[kOnClose](code, reason, wasClean);
  }

  // ---- socket events (the shared listeners above) ----

  /** Whether the socket reads into the buffer every plain TCP socket shares (`lent-reads.ts`). */
  get lentReads(): boolean {
    return (this.#flags & LENT_READS) !== 0;
  }

  /** @internal `lent`: `chunk` is the shared read buffer's, valid for this call only. */
  receive(chunk: Uint8Array, lent = false): void {
    this.#flags |= READ_MARKS;
    // The client's writes may wait for its tasks in a cork; the server's
    // replies to this read are gathered, and it corks only if a large frame
    // has to go as chunks of its own.
    if (this.#tasks() !== undefined) this.#cork();
    const gathering = this.#startGathering();
    try {
      this.#connection.receiveData(chunk, lent);
    } finally {
      if (gathering) this.#stopGathering();
    }
    // An inflating message counts its compressed bytes until it is delivered;
    // a closed connection counts nothing (onClose uncounted it).
    if (
      this.#settings.memoryBudget !== undefined &&
      (this.#flags & INFLATING) === 0 &&
      this.#connection.state !== ConnectionState.Closed
    ) {
      this.#countInput(this.#connection.bufferedInput);
    }
    this.#endBatch();
    this.#armCloseTimer();
  }

  /** @internal */
  drained(): void {
    if (this.#outputCounted() !== 0) this.#countOutput(0);
    // Called from the socket's 'drain': a throw here would be uncaught.
    try {
      this.#events[kOnDrain]?.();
    } catch (error) {
      this.#connection.callbackThrew(error);
    }
  }

  /** @internal */
  socketError(error: Error): void {
    this.#events[kOnSocketError]?.(error);
  }

  /**
   * @internal The peer half-closed: nothing more arrives. What the protocol
   * still holds takes effect now (a reply may still go out on our half), and
   * our side is finished so that 'close' follows, once a message still being
   * inflated has been delivered (and perhaps answered).
   */
  peerEnded(): void {
    this.#connection.receiveEnd();
    if ((this.#flags & INFLATING) !== 0) this.#flags |= END_WHEN_INFLATED;
    else this.#endOurSide();
  }

  /**
   * Finishes our side. After our own close frame we ended already; a second
   * end() would only build an ERR_STREAM_ALREADY_FINISHED error, stack and all.
   */
  #endOurSide(): void {
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  /** @internal The socket closed. */
  closed(): void {
    clearTimeout(this.#closeTimer());
    // A message that arrived whole before the end is still delivered: the
    // end is reported once it has been inflated.
    if ((this.#flags & INFLATING) !== 0) this.#flags |= CLOSED_WHILE_INFLATING;
    else this.#connection.receiveEof();
  }

  // ---- internals ----

  /** The compressor, made now if it was not yet; `undefined` without permessage-deflate. */
  #compressor(): PerMessageDeflate | undefined {
    const deflate = this.#deflate();
    if (deflate === undefined || deflate instanceof PerMessageDeflate) return deflate;
    const compressor = new PerMessageDeflate(deflate);
    this.#setDeflate(compressor);
    return compressor;
  }

  /** Inflates a compressed message; parsing and reading wait, so nothing overtakes it. */
  #inflate(data: Uint8Array, binary: boolean): void {
    const connection = this.#connection;
    connection.pauseParsing();
    this.#socket.pause();
    this.#flags |= INFLATING;
    if (this.#settings.memoryBudget !== undefined) this.#countInput(data.byteLength);
    this.#compressor()!.decompress(data, (error, result) => {
      this.#flags &= ~INFLATING;
      if (connection.state === ConnectionState.Closed) return;
      if (this.#tasks() !== undefined) this.#cork();
      const gathering = this.#startGathering();
      try {
        if (error) connection.failWith(toWebSocketError(error));
        else connection.deliverMessage(result!, binary);
        connection.resumeParsing();
      } finally {
        if (gathering) this.#stopGathering();
      }
      this.#endBatch();
      this.#armCloseTimer();
      const flags = this.#flags;
      if ((flags & INFLATING) !== 0) return;
      if (this.#settings.memoryBudget !== undefined) this.#countInput(connection.bufferedInput);
      if ((flags & CLOSED_WHILE_INFLATING) !== 0) connection.receiveEof();
      else if ((flags & END_WHEN_INFLATED) !== 0) this.#endOurSide();
      else this.#resumeReading();
    });
  }

  /**
   * Reads again once parsing goes on, unless the application paused reading.
   * Parsing may stay paused past an inflate (a control frame behind the
   * message is held until the policy's tasks have run): then the release
   * resumes reading.
   */
  #resumeReading(): void {
    if (
      !this.#connection.parsingPaused &&
      (this.#flags & (PAUSED_BY_USER | PAUSED_BY_BUDGET)) === 0 &&
      this.#socket.isPaused()
    ) {
      this.#socket.resume();
    }
  }

  /**
   * Counts `held` bytes of unfinished input against the memory budget, and
   * stops reading while the budget is exceeded and this reader holds the
   * most: TCP flow control then pushes back on the peer.
   */
  #countInput(held: number): void {
    const before = this.#inputCounted();
    // The common case: every message so far arrived within its read.
    if (held === 0 && before === 0) return;
    const budget = this.#settings.memoryBudget!;
    if (held !== before) {
      this.#setInputCounted(held);
      budget.setInput(this, before, held);
    }
    if ((this.#flags & PAUSED_BY_BUDGET) === 0 && budget.shouldPause(held)) {
      this.#flags |= PAUSED_BY_BUDGET;
      this.#socket.pause();
      budget.paused(this);
    }
  }

  /** Counts `queued` bytes of output against the memory budget. */
  #countOutput(queued: number): void {
    const before = this.#outputCounted();
    if (queued === before) return;
    this.#setOutputCounted(queued);
    this.#settings.memoryBudget!.setOutput(before, queued);
  }

  /** The send queue, made now if it was not yet. */
  #sendQueue(): SendQueue {
    return this.#rare?.queue ?? (this.#extra().queue = new SendQueue(this));
  }

  #cork(): void {
    if ((this.#flags & CORKED) !== 0) return;
    this.#flags |= CORKED;
    this.#socket.cork();
  }

  /** @internal Undoes {@link #cork}: what was written leaves in one writev. */
  uncork(): void {
    if ((this.#flags & CORKED) === 0) return;
    this.#flags &= ~CORKED;
    this.#socket.uncork();
  }

  /** A batch of writes is done: they leave now, unless the policy's tasks are still queued. */
  #endBatch(): void {
    if ((this.#flags & CORKED) === 0) return;
    const tasks = this.#tasks();
    if (tasks === undefined || !tasks.boundary.afterQueued(tasks.afterTasks)) this.uncork();
  }

  /**
   * Runs once every queued task of the policy has: what the protocol held
   * takes effect (and parsing goes on), then the writes those tasks made
   * leave together, unless the parsing queued more tasks, whose writes join.
   */
  #runAfterTasks(): void {
    this.#connection.release();
    this.#armCloseTimer();
    this.#endBatch();
    this.#resumeReading();
  }

  /** Arms the close timer once the connection waits for the peer to close. */
  #armCloseTimer(): void {
    if (this.#closeTimer() === undefined && this.#connection.closeExpected) {
      const socket = this.#socket;
      this.#setCloseTimer(setTimeout(() => abort(socket), this.#settings.closeTimeout).unref());
    }
  }
}

/** A client transport's task queue, with the callback it runs after the queued tasks. */
interface TaskLink {
  readonly boundary: WriteBoundary;
  readonly afterTasks: () => void;
}

/** The rarely used state of a {@link SocketTransport}; see its methods that read it. */
interface RareState {
  tasks: TaskLink | undefined;
  deflate: PerMessageDeflate | PerMessageDeflateInit | undefined;
  queue: SendQueue | null;
  closeTimer: NodeJS.Timeout | undefined;
  sendCallback: SendCallback | undefined;
  inputCounted: number;
  outputCounted: number;
}

/** Drops the connection: a reset, for TCP and HTTP/2 alike. */
function abort(socket: TransportSocket): void {
  if (socket.abort) socket.abort();
  else socket.destroy();
}

/** Ends the socket, then destroys it once what was written is flushed. */
function destroySoon(socket: TransportSocket): void {
  if (socket.destroySoon) socket.destroySoon();
  else if (socket.writableFinished) socket.destroy();
  else {
    socket.once('finish', () => socket.destroy());
    socket.end();
  }
}

/**
 * Writes `chunks` to the socket, which holds what the kernel does not take at
 * once: a chunk of a lent message is copied first, or noted where it may go
 * as it is (`outgoing` in lent-messages.ts; `plainTcp`: the socket reads into
 * the shared buffer, so it is a plain TCP socket). Gathered frames were
 * copied already.
 */
function writeChunks(
  socket: TransportSocket,
  chunks: readonly Uint8Array[],
  callback: SendCallback | undefined,
  plainTcp: boolean,
): void {
  const last = chunks.length - 1;
  for (let i = 0; i < last; i++) socket.write(outgoing(chunks[i]!, socket, plainTcp));
  socket.write(outgoing(chunks[last]!, socket, plainTcp), callback);
}

function notOpen(state: ConnectionState): Error {
  return new Error(`WebSocket is not open: readyState ${state}`);
}

/** A Buffer over the same memory: no copy. */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : bufferView(data.buffer, data.byteOffset, data.byteLength);
}
