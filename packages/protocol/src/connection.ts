import { EMPTY, copyBytes, toBytes } from './bytes.js';
import { CloseCode } from './close-code.js';
import {
  type ClosePayload,
  parseClosePayload,
  serializeClosePayload,
  truncateCloseReason,
} from './close-payload.js';
import { MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import {
  InternalError,
  InvalidStateError,
  InvalidUtf8Error,
  type WebSocketError,
  toWebSocketError,
} from './errors.js';
import { encodeFrame } from './frame.js';
import { FrameParser } from './frame-parser.js';
import { type MaskSource } from './mask.js';
import { MessageAssembler, type MessageLimits, type MessageSink } from './message-assembler.js';
import type { DeflateParams } from './permessage-deflate.js';
import { encodeUtf8, isValidUtf8 } from './utf8.js';

/**
 * Connection states, numbered as the WHATWG `readyState`.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-readystate
 */
export const ConnectionState = {
  /** Opening handshake in progress (client only). */
  Connecting: 0,
  /** Messages flow both ways. */
  Open: 1,
  /** A close frame was sent or received, or the connection failed. */
  Closing: 2,
  /** The transport is closed. */
  Closed: 3,
} as const;

/** One of {@link ConnectionState}. */
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** What the opening handshake settled. */
export interface OpenInfo {
  /** The subprotocol in use, or `""`. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` in use, or `""`. */
  readonly extensions: string;
  /** The server's response headers (client side), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The permessage-deflate parameters, when the server accepted our offer (client side). */
  readonly deflate?: DeflateParams | undefined;
}

/**
 * The I/O layer's side of a connection: where bytes go out and events are
 * delivered. Every method is called synchronously from inside the call that
 * caused it (`receiveData`, `sendText`, ...). It may call back into the
 * connection (send a reply from `onMessage`, close from `onPing`); the
 * connection stays consistent.
 *
 * An exception thrown by a handler method fails the connection with 1011 and
 * is reported to `onError` as an {@link InternalError} whose `cause` it is.
 */
export interface ConnectionHandler {
  /**
   * Bytes to send, in order. Chunks may be views of data passed to `send*`:
   * write them before that data changes.
   */
  write(chunks: readonly Uint8Array[]): void;
  /**
   * Optional: writes one frame the handler encodes itself (with
   * `encodeFrameInto`, e.g. into a buffer that gathers many small frames),
   * allocating nothing per frame. Returns false to decline: the connection
   * then encodes it and calls {@link write}. The frame's bytes must be taken
   * before this returns (`payload` may change afterwards).
   */
  writeFrame?(
    opcode: number,
    payload: Uint8Array,
    fin: boolean,
    rsv1: boolean,
    mask: Uint8Array | undefined,
  ): boolean;
  /**
   * Nothing more will be written: after flushing, half-close (or close) the
   * transport. Then call {@link Connection.receiveEof} once the transport is
   * fully closed.
   */
  end(): void;
  /** The opening handshake succeeded (client side; servers start open). */
  onOpen?(info: OpenInfo): void;
  /**
   * A complete message. `data` may be a view into chunks passed to
   * `receiveData`; text is validated UTF-8, still as bytes (`decodeUtf8`).
   *
   * `compressed` (only once permessage-deflate is negotiated): the message's
   * first frame had RSV1 set, so `data` is still deflated and text is not yet
   * validated. Call {@link Connection.pauseParsing}, inflate, and hand the
   * result to {@link Connection.deliverMessage}, then
   * {@link Connection.resumeParsing}.
   */
  onMessage(data: Uint8Array, binary: boolean, compressed?: boolean): void;
  /**
   * Asked before the automatic pong to a ping is written; `false` leaves this
   * ping unanswered. RFC 6455 §5.5.3 lets an endpoint answer only the most
   * recent of several pings, so an I/O layer may skip pongs while its write
   * backlog is over a limit: a peer that pings without reading then cannot
   * grow it. Default: always answer.
   */
  replyToPing?(): boolean;
  /** A ping arrived; the pong has already been sent (unless `replyToPing` said no). */
  onPing?(data: Uint8Array): void;
  /** A pong arrived. */
  onPong?(data: Uint8Array): void;
  /** The peer started the closing handshake; our close frame has been sent in reply. */
  onClosing?(code: number, reason: string): void;
  /**
   * The connection failed (RFC 6455 §7.1.7): a close frame with
   * `error.closeCode` has been sent where possible and `end()` called.
   */
  onError?(error: WebSocketError): void;
  /**
   * The transport closed; always the last call. `code` is the peer's close
   * code, 1005 if its close frame had none, or 1006 if none arrived.
   */
  onClose(code: number, reason: string, wasClean: boolean): void;
  /**
   * A handler callback threw when the connection could no longer fail with
   * 1011: it had closed (an `onClose` listener threw) or failed already (an
   * `onError` listener threw). Report `error`; nothing else happens to the
   * connection. Without this method such an error is lost.
   */
  onCallbackError?(error: unknown): void;
}

/** Options shared by both roles. */
export interface ConnectionOptions extends MessageLimits {
  /** Where bytes and events go. */
  handler: ConnectionHandler;
  /**
   * permessage-deflate was negotiated (server side; a client learns it from
   * the response): RSV1 marks a compressed message (RFC 7692 §6).
   */
  perMessageDeflate?: boolean | undefined;
  /**
   * The message limits, in place of `maxPayload`, `maxFragments`,
   * `allocate` and `lendMessages` above: for one frozen object that many connections share (a
   * server's). The connection keeps its limits until its first frame byte,
   * which an idle connection never receives; without this it keeps these
   * options, one more object per connection.
   */
  limits?: MessageLimits | undefined;
}

/** Per-frame sending options. */
export interface SendOptions {
  /** `false` to start or continue a fragmented message. Default `true`. */
  fin?: boolean;
  /**
   * The payload is already deflated, its `00 00 ff ff` tail removed
   * (RFC 7692 §7.2.1): set RSV1 on the message's first frame. Only once
   * permessage-deflate is negotiated; ignored on later fragments.
   */
  compressed?: boolean;
}

/** Data accepted by the send methods. */
export type SendData = string | ArrayBufferLike | ArrayBufferView;

// Bits of Connection's #bits.
/** Frames from the peer must be masked (the server side). */
const EXPECT_MASKED = 1;
/** Our close frame was written. */
const CLOSE_SENT = 2;
/** The peer's close frame arrived. */
const CLOSE_RECEIVED = 4;
/** The connection failed (RFC 6455 §7.1.7). */
const FAILED = 8;
/** `handler.end()` was called. */
const ENDED = 16;
/** permessage-deflate is in use. */
const COMPRESSION = 32;
/** Parsing is paused by {@link Connection.pauseParsing}. */
const PARSING_PAUSED = 64;
/** Set by {@link Connection.hold}: a control frame or input error waits for `release`. */
const HOLDING = 128;
/** {@link Connection.receiveEnd} was called: every input received takes effect now. */
const EOF = 256;
/** The {@link ConnectionState}, in the two bits above the flags. */
const STATE_SHIFT = 9;
const STATE_BITS = 0b11 << STATE_SHIFT;
/**
 * The opcode of the outgoing fragmented message in progress plus one (0:
 * none), in the five bits above the state.
 */
const SENDING_SHIFT = 11;
const SENDING_BITS = 0b11111 << SENDING_SHIFT;

/**
 * The sans-I/O RFC 6455 connection: bytes in through {@link receiveData},
 * bytes and events out through the {@link ConnectionHandler}. No sockets, no
 * timers: the I/O layer reads {@link closeExpected} after each call and arms
 * its close timeout accordingly.
 *
 * Use {@link ServerConnection} or {@link ClientConnection}; they differ in
 * masking (fixed at construction) and in the opening handshake.
 */
export abstract class Connection implements MessageSink {
  protected readonly handler: ConnectionHandler;
  /**
   * Made when the first frame byte arrives: an idle connection holds no
   * parser, assembler or UTF-8 state (at 10,000 idle connections, about
   * 3.5 MiB), only the options they will be made from. Its sink is the
   * message assembler, for {@link bufferedInput} (one field for both).
   */
  #parser: FrameParser<MessageAssembler> | null = null;
  readonly #limits: MessageLimits;
  /**
   * {@link EXPECT_MASKED}, {@link CLOSE_SENT}, ..., the state
   * ({@link STATE_BITS}) and the opcode being sent in fragments
   * ({@link SENDING_BITS}): every small value of the connection in one field
   * (each field costs 10,000 idle connections 80 KB; memory per idle
   * connection is a bench target).
   */
  #bits = 0;
  /**
   * What most connections never need (input held while paused or holding,
   * the peer's close frame, a client's mask source, a negotiated subprotocol
   * or extension), made on first use: one field instead of seven.
   */
  #rare: RareState | null = null;

  protected constructor(
    options: ConnectionOptions,
    expectMasked: boolean,
    maskSource: MaskSource | undefined,
    state: ConnectionState,
  ) {
    this.handler = options.handler;
    if (maskSource !== undefined) this.#extra().maskSource = maskSource;
    this.#setState(state);
    this.#limits = options.limits ?? options;
    if (expectMasked) this.#bits |= EXPECT_MASKED;
    if (options.perMessageDeflate) this.#enableCompression();
  }

  /** {@link #rare}, made now if it was not yet. */
  #extra(): RareState {
    return (this.#rare ??= {
      queued: null,
      heldControl: null,
      heldError: null,
      peerClose: null,
      maskSource: undefined,
      protocol: '',
      extensions: '',
    });
  }

  // Methods, not accessors: V8 (Node 20) inlines private methods, but calls
  // private getters and setters, which cost the echo path a few per cent.

  /** The state, kept in {@link #bits}. */
  #state(): ConnectionState {
    // Two bits hold exactly the four states.
    return ((this.#bits & STATE_BITS) >>> STATE_SHIFT) as ConnectionState;
  }

  #setState(state: ConnectionState): void {
    this.#bits = (this.#bits & ~STATE_BITS) | (state << STATE_SHIFT);
  }

  /** Opcode of the outgoing fragmented message in progress, or -1; kept in {@link #bits}. */
  #sendingOpcode(): number {
    return ((this.#bits & SENDING_BITS) >>> SENDING_SHIFT) - 1;
  }

  #setSendingOpcode(opcode: number): void {
    this.#bits = (this.#bits & ~SENDING_BITS) | ((opcode + 1) << SENDING_SHIFT);
  }

  /** A client's mask source; a server has none. */
  #maskSource(): MaskSource | undefined {
    return this.#rare?.maskSource;
  }

  /** The frame parser, made on first use. */
  #frames(): FrameParser<MessageAssembler> {
    return (this.#parser ??= new FrameParser(new MessageAssembler(this, this.#limits), {
      expectMasked: (this.#bits & EXPECT_MASKED) !== 0,
      allowRsv1: (this.#bits & COMPRESSION) !== 0,
      allocate: this.#limits.allocate,
    }));
  }

  /** Parses `chunk`, telling the assembler whether it is only lent (see {@link receiveData}). */
  #parse(chunk: Uint8Array, lent: boolean): void {
    const parser = this.#frames();
    parser.sink.lent = lent;
    parser.push(chunk, lent);
  }

  /** A copy of lent input that must outlive the call, made as messages are. */
  #own(chunk: Uint8Array): Uint8Array {
    return copyBytes(chunk, this.#limits.allocate);
  }

  /**
   * Bytes of input held for later: the unfinished message being assembled
   * (`MessageAssembler.bufferedBytes`) and chunks waiting while parsing is
   * paused. What a process-wide memory budget in the I/O layer counts; a few
   * bytes of a partial frame header are not.
   */
  get bufferedInput(): number {
    const parser = this.#parser;
    let bytes = parser === null ? 0 : parser.sink.bufferedBytes;
    const queued = this.#rare?.queued;
    if (queued) for (const chunk of queued) bytes += chunk.byteLength;
    return bytes;
  }

  /** Whether permessage-deflate is in use: RSV1 marks compressed messages. */
  get compression(): boolean {
    return (this.#bits & COMPRESSION) !== 0;
  }

  /** Whether parsing is paused by {@link pauseParsing}. */
  get parsingPaused(): boolean {
    return (this.#bits & PARSING_PAUSED) !== 0;
  }

  /**
   * Stops parsing after the current message callback returns: later input,
   * including the rest of the chunk being parsed, waits until
   * {@link resumeParsing}. For an asynchronous step such as inflating a
   * compressed message, so no later message or close frame overtakes it.
   * The I/O layer should also stop reading its transport meanwhile.
   */
  pauseParsing(): void {
    this.#bits |= PARSING_PAUSED;
    // Without a parser nothing is being parsed; input waits in #rare.queued.
    this.#parser?.suspend();
  }

  /**
   * Continues parsing after {@link pauseParsing}, synchronously, with every
   * byte that arrived meanwhile, until done or paused again.
   */
  resumeParsing(): void {
    if ((this.#bits & PARSING_PAUSED) === 0) return;
    this.#bits &= ~PARSING_PAUSED;
    try {
      // What waited is owned (lent input was copied as it was kept).
      const parser = this.#parser;
      if (parser !== null) {
        parser.sink.lent = false;
        parser.resume();
      }
      const queued = this.#rare?.queued ?? null;
      while (
        (this.#bits & PARSING_PAUSED) === 0 &&
        queued !== null &&
        queued.length > 0 &&
        this.#accepting()
      ) {
        this.#parse(queued.shift()!, false);
      }
    } catch (error) {
      this.failWith(toWebSocketError(error));
    }
    if (!this.#accepting() && this.#rare !== null) this.#rare.queued = null;
  }

  /**
   * Holds back, until {@link release}, whatever in the input would change the
   * connection's state or make it write: a control frame (ping, pong, close)
   * and an input error (a protocol violation, invalid UTF-8, a message over
   * `maxPayload`). Data messages keep being delivered; parsing stops right
   * after a held control frame, and for good after an error.
   *
   * For an I/O layer that hands messages to the application later than it
   * reports them, as a WHATWG `WebSocket` does (one task per message): it
   * holds after each message it reports and releases once the application
   * has seen them all. A close frame or a bad frame that followed a message
   * in the same read then takes effect after the application handled that
   * message (and, say, echoed it), exactly as if its bytes had arrived a
   * moment later, which they legally could have.
   */
  hold(): void {
    // Once the transport is gone, nothing is waited for any more.
    if ((this.#bits & EOF) === 0) this.#bits |= HOLDING;
  }

  /**
   * Ends {@link hold}: a held error fails the connection now; a held control
   * frame takes effect now, and parsing continues behind it, synchronously.
   */
  release(): void {
    if ((this.#bits & HOLDING) === 0) return;
    this.#bits &= ~HOLDING;
    const rare = this.#rare;
    if (rare === null) return;
    const error = rare.heldError;
    const control = rare.heldControl;
    rare.heldError = null;
    rare.heldControl = null;
    if (error !== null) {
      this.failWith(error);
    } else if (control !== null) {
      try {
        // A close frame is validated here (its code, its reason's UTF-8).
        this.onControlFrame(control.opcode, control.payload);
      } catch (error) {
        this.failWith(toWebSocketError(error));
        return;
      }
      this.resumeParsing();
    }
  }

  /**
   * Delivers a message that the I/O layer transformed, e.g. inflated after
   * `onMessage` reported it `compressed`: text is checked for UTF-8 here
   * (failing the connection with 1007), then it goes to `onMessage` as any
   * other. Dropped once the connection is no longer open.
   */
  deliverMessage(data: Uint8Array, binary: boolean): void {
    if (this.#state() !== ConnectionState.Open || (this.#bits & FAILED) !== 0) return;
    if (!binary && !isValidUtf8(data)) {
      this.failWith(new InvalidUtf8Error());
      return;
    }
    this.guard(() => this.handler.onMessage(data, binary, false));
  }

  /** Whether input is still parsed (not failed, no close frame yet, not closed). */
  #accepting(): boolean {
    return (
      (this.#bits & (FAILED | CLOSE_RECEIVED)) === 0 && this.#state() !== ConnectionState.Closed
    );
  }

  #enableCompression(): void {
    this.#bits |= COMPRESSION;
    if (this.#parser) this.#parser.allowRsv1 = true;
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.#state();
  }

  /** The subprotocol in use, or `""`. */
  get protocol(): string {
    return this.#rare?.protocol ?? '';
  }

  /** The `Sec-WebSocket-Extensions` in use, or `""`. */
  get extensions(): string {
    return this.#rare?.extensions ?? '';
  }

  /**
   * Whether the transport should close soon: our close frame is out (or the
   * connection failed) and we wait for the peer's close frame or its EOF.
   * The I/O layer arms its close timeout while this is true and destroys the
   * transport when it fires, then calls {@link receiveEof}.
   */
  get closeExpected(): boolean {
    return this.#state() === ConnectionState.Closing && (this.#bits & (CLOSE_SENT | FAILED)) !== 0;
  }

  /**
   * Whether the closing handshake is complete: both close frames exchanged,
   * so the peer should send nothing more. The I/O layer half-closes at once
   * (RFC 6455 §7.1.1: the server closes the TCP connection first) and waits
   * for the peer's EOF only briefly, not for the close timeout.
   */
  get closeHandshakeComplete(): boolean {
    return (this.#bits & (CLOSE_SENT | CLOSE_RECEIVED)) === (CLOSE_SENT | CLOSE_RECEIVED);
  }

  /**
   * Feeds bytes received from the transport. By default the connection takes
   * ownership of `chunk`: it unmasks in place and may hand out views of it,
   * so do not reuse it. With `lent`, the chunk is only lent for this call, for
   * an I/O layer that reads every socket into one buffer it reuses (no
   * allocation per read): each message is then copied out, unmasked on the
   * way (with `allocate`, so a `Buffer` on Node), unless `lendMessages` says
   * to hand it on as it lies for the `onMessage` call, and whatever must wait (a
   * paused connection's input, the handshake's bytes) is copied too. Input
   * after a failure, after the peer's close frame, or after {@link
   * receiveEof} is discarded (RFC 6455 §7.1.7).
   */
  receiveData(chunk: Uint8Array, lent = false): void {
    if (!this.#accepting()) return;
    if ((this.#bits & PARSING_PAUSED) !== 0 && this.#state() !== ConnectionState.Connecting) {
      (this.#extra().queued ??= []).push(lent ? this.#own(chunk) : chunk);
      return;
    }
    try {
      if (this.#state() === ConnectionState.Connecting) {
        this.receiveHandshakeData(lent ? this.#own(chunk) : chunk);
      } else {
        this.#parse(chunk, lent);
      }
    } catch (error) {
      this.failWith(toWebSocketError(error));
    }
  }

  /**
   * The peer will send nothing more (its TCP FIN arrived), though we may
   * still write: whatever {@link hold} kept takes effect now, with all input
   * behind it, as it would have without a hold, and nothing is held from now
   * on. Then call {@link receiveEof} once the transport is closed (which does
   * this too, if it was not done).
   */
  receiveEnd(): void {
    this.#bits |= EOF;
    this.release();
  }

  /**
   * The transport closed (EOF, reset or destroyed). Ends the connection and
   * reports `onClose` exactly once.
   */
  receiveEof(): void {
    if (this.#state() === ConnectionState.Closed) return;
    this.receiveEnd();
    if (this.#state() === ConnectionState.Connecting && (this.#bits & FAILED) === 0)
      this.handshakeEof();
    this.#setState(ConnectionState.Closed);
    this.#parser?.halt();
    if ((this.#bits & ENDED) === 0) {
      this.#bits |= ENDED;
      this.guard(() => this.handler.end());
    }
    const wasClean = this.closeHandshakeComplete;
    const peer = this.#rare?.peerClose;
    this.guard(() =>
      this.handler.onClose(peer?.code ?? CloseCode.Abnormal, peer?.reason ?? '', wasClean),
    );
  }

  /**
   * Sends a text message, or its first or next fragment with `{ fin: false }`.
   * Strings are UTF-8 encoded; bytes are sent as they are and must be UTF-8.
   * @throws {InvalidStateError} unless the connection is open and no other
   *   fragmented message is in progress.
   */
  sendText(data: string | Uint8Array, options?: SendOptions): void {
    this.#sendData(
      Opcode.Text,
      typeof data === 'string' ? encodeUtf8(data) : data,
      options?.fin ?? true,
      options?.compressed ?? false,
    );
  }

  /**
   * Sends a binary message, or its first or next fragment with `{ fin: false }`.
   * @throws {InvalidStateError} as {@link sendText}.
   */
  sendBinary(data: ArrayBufferLike | ArrayBufferView, options?: SendOptions): void {
    this.#sendData(
      Opcode.Binary,
      toBytes(data),
      options?.fin ?? true,
      options?.compressed ?? false,
    );
  }

  /**
   * Sends a ping (at most 125 bytes).
   * @throws {RangeError} for a longer payload; {@link InvalidStateError} unless open.
   */
  sendPing(data: SendData = EMPTY): void {
    this.#sendControl(Opcode.Ping, data);
  }

  /**
   * Sends an unsolicited pong (at most 125 bytes), e.g. as a heartbeat.
   * Pings are answered automatically.
   */
  sendPong(data: SendData = EMPTY): void {
    this.#sendControl(Opcode.Pong, data);
  }

  /**
   * Sends a complete, unmasked data frame that was encoded once (with
   * `encodeFrame`) for many connections: the same chunks are written as they
   * are, so a broadcast costs one encoding however many peers receive it.
   * Only servers may do this, since client frames need a fresh mask each.
   * @throws {InvalidStateError} unless open, or while a fragmented message is
   *   being sent (the frame would land inside it), or on a client.
   */
  sendEncodedFrame(chunks: readonly Uint8Array[]): void {
    if (this.#maskSource())
      throw new InvalidStateError('Clients must mask every frame: encode per connection');
    if (this.#state() !== ConnectionState.Open) {
      throw new InvalidStateError(`Cannot send: connection is ${stateName(this.#state())}`);
    }
    if (this.#sendingOpcode() !== -1) {
      throw new InvalidStateError('Cannot send a frame inside a fragmented message');
    }
    this.handler.write(chunks);
  }

  /**
   * Starts the closing handshake: sends a close frame and stops delivering
   * messages (RFC 6455 §7.1.2). Without a code the frame has no body.
   * Does nothing once closing or closed; fails the connection while connecting.
   * @throws {RangeError} for a code that may not be sent or a reason over 123 bytes.
   */
  close(code?: number, reason?: string): void {
    const body = serializeClosePayload(code, reason);
    if (this.#state() === ConnectionState.Connecting) {
      this.fail(CloseCode.Abnormal);
      return;
    }
    if (this.#state() !== ConnectionState.Open) return;
    this.#setState(ConnectionState.Closing);
    this.#writeClose(body);
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): sends a close frame with `code`
   * unless one was sent already (or `code` is 1006, which is never sent),
   * calls `end()`, and discards all further input.
   */
  fail(code: number, reason = ''): void {
    if ((this.#bits & FAILED) !== 0 || this.#state() === ConnectionState.Closed) return;
    const sendClose =
      this.#state() === ConnectionState.Open &&
      (this.#bits & CLOSE_SENT) === 0 &&
      code !== CloseCode.Abnormal;
    // Validate (RangeError) before changing any state.
    const body = sendClose ? serializeClosePayload(code, truncateCloseReason(reason)) : EMPTY;
    this.#bits |= FAILED;
    this.#parser?.halt();
    if (sendClose) this.#writeClose(body);
    if (this.#state() !== ConnectionState.Connecting) this.#setState(ConnectionState.Closing);
    this.#end();
  }

  // ---- MessageSink: called by the assembler while parsing ----

  /** @internal */
  onMessage(data: Uint8Array, binary: boolean, compressed = false): void {
    // "If readyState is not OPEN, then return": data after our close frame is dropped.
    if (this.#state() !== ConnectionState.Open || (this.#bits & FAILED) !== 0) return;
    if (compressed) this.handler.onMessage(data, binary, true);
    else this.handler.onMessage(data, binary);
  }

  /** @internal */
  onControlFrame(opcode: number, payload: Uint8Array): void {
    if ((this.#bits & FAILED) !== 0) return;
    if ((this.#bits & HOLDING) !== 0) {
      // The payload may be a view of a buffer the assembler reuses.
      this.#extra().heldControl = { opcode, payload: payload.slice() };
      this.pauseParsing();
      return;
    }
    if (opcode === Opcode.Ping) {
      // "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
      // response, unless it already received a Close frame" (RFC 6455 §5.5.2);
      // nothing may follow our own close frame either.
      if ((this.#bits & CLOSE_SENT) === 0 && this.handler.replyToPing?.() !== false) {
        this.#writeFrame(Opcode.Pong, payload, true);
      }
      this.handler.onPing?.(payload);
    } else if (opcode === Opcode.Pong) {
      this.handler.onPong?.(payload);
    } else {
      this.#receiveClose(payload);
    }
  }

  // ---- for the role subclasses ----

  /** Handles bytes while connecting; only clients connect. */
  protected receiveHandshakeData(_chunk: Uint8Array): void {
    throw new InternalError('Handshake data on a connection that is not connecting');
  }

  /** Reports the transport closing before the handshake finished. */
  protected handshakeEof(): void {}

  /** Records what the opening handshake settled. */
  protected setNegotiated(protocol: string, extensions: string): void {
    // Most connections negotiate neither: nothing to keep then.
    if (protocol === '' && extensions === '' && this.#rare === null) return;
    const rare = this.#extra();
    rare.protocol = protocol;
    rare.extensions = extensions;
  }

  /** Completes the opening handshake; `rest` are the bytes that followed it. */
  protected open(info: OpenInfo, rest: Uint8Array): void {
    this.#setState(ConnectionState.Open);
    this.setNegotiated(info.protocol, info.extensions);
    if (info.deflate) this.#enableCompression();
    this.handler.onOpen?.(info);
    // Parsed as lent input whatever it is a view of (the caller's chunk, or
    // the head gathered across reads): its messages are then made by
    // `allocate`, as every later one is, at the cost of copying the bytes
    // that came with the handshake once.
    if (rest.length > 0 && (this.#bits & (FAILED | CLOSE_RECEIVED)) === 0) this.#parse(rest, true);
  }

  /**
   * Reports `error` to `onError` and fails the connection with its close
   * code, e.g. a {@link PayloadTooBigError} found while inflating.
   */
  failWith(error: WebSocketError): void {
    if ((this.#bits & FAILED) !== 0 || this.#state() === ConnectionState.Closed) return;
    if ((this.#bits & HOLDING) !== 0 && !(error instanceof InternalError)) {
      // Nothing after a bad frame is ever processed (RFC 6455 §7.1.7).
      this.#extra().heldError ??= error;
      this.#parser?.halt();
      return;
    }
    // Never put internal details on the wire (they may be security-sensitive).
    this.fail(error.closeCode, error instanceof InternalError ? 'Internal error' : error.message);
    // Reported after failing, as onError documents; a throwing onError then
    // finds the connection failed instead of failing it again, recursively.
    this.guard(() => this.handler.onError?.(error));
  }

  /** Runs a handler callback outside the parse loop's error mapping. */
  protected guard(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.callbackThrew(error);
    }
  }

  /**
   * Code called for this connection threw (a handler callback, or a
   * listener the I/O layer runs outside the protocol's calls): fail with
   * 1011 and report it to `onError` as an {@link InternalError}, or, once the
   * connection has closed or failed, to `onCallbackError`. Never throws.
   */
  callbackThrew(error: unknown): void {
    if ((this.#bits & FAILED) === 0 && this.#state() !== ConnectionState.Closed) {
      this.failWith(new InternalError(error));
      return;
    }
    try {
      this.handler.onCallbackError?.(error);
    } catch {
      // The report itself threw: there is nobody left to tell.
    }
  }

  /** Whether the connection has failed. */
  protected get failed(): boolean {
    return (this.#bits & FAILED) !== 0;
  }

  /** Writes raw bytes (the handshake). */
  protected writeRaw(bytes: Uint8Array): void {
    this.handler.write([bytes]);
  }

  #receiveClose(payload: Uint8Array): void {
    const peer = parseClosePayload(payload);
    const { code, reason } = peer;
    this.#bits |= CLOSE_RECEIVED;
    // Bytes after the close frame, even in the same chunk, are discarded.
    this.#parser?.halt();
    this.#extra().peerClose = peer;
    if ((this.#bits & CLOSE_SENT) === 0) {
      // "It SHOULD do so as soon as practical": echo the code (and reason,
      // as browsers and ws do) that we received.
      this.#setState(ConnectionState.Closing);
      this.#writeClose(code === CloseCode.NoStatus ? EMPTY : serializeClosePayload(code, reason));
      this.handler.onClosing?.(code, reason);
    }
    // Both close frames are exchanged. "The server MUST close the underlying
    // TCP connection immediately"; the client waits for it (RFC 6455 §7.1.1).
    if (this.endsFirst) this.#end();
  }

  /** Whether this side closes the transport first after the closing handshake (the server). */
  protected abstract get endsFirst(): boolean;

  #sendData(opcode: number, payload: Uint8Array, fin: boolean, compressed: boolean): void {
    if (this.#state() !== ConnectionState.Open) {
      throw new InvalidStateError(`Cannot send: connection is ${stateName(this.#state())}`);
    }
    if (compressed && (this.#bits & COMPRESSION) === 0) {
      throw new InvalidStateError('Cannot send compressed: permessage-deflate was not negotiated');
    }
    let frameOpcode = opcode;
    if (this.#sendingOpcode() !== -1) {
      if (this.#sendingOpcode() !== opcode) {
        throw new InvalidStateError('Cannot mix text and binary fragments in one message');
      }
      frameOpcode = Opcode.Continuation;
    }
    this.#setSendingOpcode(fin ? -1 : opcode);
    this.#writeFrame(frameOpcode, payload, fin, compressed && frameOpcode !== Opcode.Continuation);
  }

  #sendControl(opcode: number, data: SendData): void {
    const payload = typeof data === 'string' ? encodeUtf8(data) : toBytes(data);
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`Control frame payload must not exceed ${MAX_CONTROL_PAYLOAD} bytes`);
    }
    if (this.#state() !== ConnectionState.Open) {
      throw new InvalidStateError(`Cannot send: connection is ${stateName(this.#state())}`);
    }
    this.#writeFrame(opcode, payload, true);
  }

  #writeClose(body: Uint8Array): void {
    this.#bits |= CLOSE_SENT;
    this.#writeFrame(Opcode.Close, body, true);
  }

  #writeFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1 = false): void {
    const mask = this.#maskSource()?.();
    const handler = this.handler;
    if (handler.writeFrame?.(opcode, payload, fin, rsv1, mask) === true) return;
    handler.write(encodeFrame(opcode, payload, { fin, mask, rsv1 }));
  }

  #end(): void {
    if ((this.#bits & ENDED) !== 0) return;
    this.#bits |= ENDED;
    this.handler.end();
  }
}

/** The rarely used state of a {@link Connection}. */
interface RareState {
  /** Input received while parsing is paused, oldest first. */
  queued: Uint8Array[] | null;
  /** The control frame that arrived while holding; parsing is paused behind it. */
  heldControl: HeldControl | null;
  /** The input error found while holding; parsing has stopped for good. */
  heldError: WebSocketError | null;
  /** The peer's close frame (code and reason), once received. */
  peerClose: ClosePayload | null;
  /** A client's mask source (a server has none). */
  maskSource: MaskSource | undefined;
  /** The subprotocol in use, or `""`. */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` in use, or `""`. */
  extensions: string;
}

/** A control frame held by {@link Connection.hold}. */
interface HeldControl {
  readonly opcode: number;
  readonly payload: Uint8Array;
}

function stateName(state: ConnectionState): string {
  return ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'][state]!;
}
