/**
 * The WHATWG `WebSocket` interface: only its IDL surface. The connection is
 * the transport's business (connect.ts); this class turns its reports into
 * events, one task each, in the order the spec gives.
 * @packageDocumentation
 */
import { setMaxListeners } from 'node:events';
import {
  CloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  encodeUtf8,
  isToken,
  utf8Length,
} from '@proj/protocol';
import { type WebSocketInit, readConstructorArguments } from './constructor-arguments.js';
import { CloseEvent, ErrorEvent, MessageEvent, PongEvent } from './events.js';
import { type WebSocketOptions, resolveOptions } from './options.js';
import { BufferedAmount } from './buffered-amount.js';
import { type LinkHandler, NodeLink } from './node-link.js';
import { type EventHandlerSlots, getEventHandler, setEventHandler } from './event-handlers.js';
import { TaskQueue } from './task-queue.js';
import { getURLRecord } from './url.js';
import { isArrayBuffer, toClampedUnsignedShort, toDOMString, toUSVString } from './webidl.js';
import {
  CLOSED,
  CLOSING,
  CONNECTING,
  OPEN,
  type ReadyState,
  type ReadyStateConstants,
  defineWebSocketInterface,
} from './websocket-interface.js';

/**
 * How binary messages are exposed: as a `Blob` (the default) or an `ArrayBuffer`.
 * @see https://websockets.spec.whatwg.org/#enumdef-binarytype
 */
export type BinaryType = 'blob' | 'arraybuffer';

/** The events a {@link WebSocket} dispatches, by type. */
export interface WebSocketEventMap {
  close: CloseEvent;
  /** A plain `Event` in the spec; in Node an {@link ErrorEvent} carrying the cause. */
  error: ErrorEvent;
  message: MessageEvent<string | ArrayBuffer | Blob>;
  open: Event;
  /** Node only: a pong arrived (see {@link WebSocket.ping}). */
  pong: PongEvent;
}

/** An event handler IDL attribute's value. */
export type WebSocketEventHandler<E extends Event> =
  ((this: WebSocket, event: E) => unknown) | null;

/** Data `send()` accepts. */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** Data `ping()` accepts: a string (sent as UTF-8) or bytes. */
export type PingData = string | ArrayBufferLike | ArrayBufferView;

/** What the close task needs. */
interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/**
 * The WHATWG WebSocket, for Node.js: the same interface as in browsers, over
 * the RFC 6455 implementation of `@proj/protocol`.
 *
 * ```ts
 * const ws = new WebSocket('wss://example.com/chat', 'chat.v1');
 * ws.onmessage = (event) => console.log(event.data);
 * ws.onopen = () => ws.send('hello');
 * ```
 *
 * A third argument, never required, takes Node-only options
 * ({@link WebSocketOptions}): request headers, timeouts, limits, TLS. They
 * may instead go, with `protocols`, in an init dictionary as the second
 * argument, as undici and Bun take it ({@link WebSocketInit}):
 *
 * ```ts
 * const ws = new WebSocket('wss://example.com/feed', {
 *   protocols: 'feed.v1',
 *   perMessageDeflate: true,
 * });
 * ```
 *
 * Beyond WHATWG, in Node only: {@link WebSocket.ping}, the `pong` event
 * ({@link PongEvent}, also `onpong`) and the `pingInterval` option, which
 * fails a half-open connection.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
// The interface of the same name below only adds typed listener overloads.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WebSocket extends EventTarget {
  /** The connection has not yet been established. */
  declare static readonly CONNECTING: 0;
  /** The connection is established and communication is possible. */
  declare static readonly OPEN: 1;
  /** The closing handshake is in progress, or `close()` was called. */
  declare static readonly CLOSING: 2;
  /** The connection has been closed or could not be opened. */
  declare static readonly CLOSED: 3;

  static {
    // Beyond the WHATWG interface, Node's ping() and onpong.
    defineWebSocketInterface(this, 'WebSocket', ['ping', 'onpong']);
  }

  readonly #url: URL;
  /** The serialization of the URL's origin, for every message event. */
  readonly #origin: string;
  #readyState: ReadyState = CONNECTING;
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  readonly #tasks = new TaskQueue<WebSocket>(this);
  readonly #handlers: EventHandlerSlots = new Map();
  readonly #link: NodeLink;
  readonly #bufferedAmount = new BufferedAmount();

  /**
   * Creates a WebSocket and starts connecting to `url` in the background.
   * Node only: the second argument may be an init dictionary, a plain
   * object with `protocols` and any {@link WebSocketOptions}.
   * @param url - A `ws:`, `wss:`, `http:` or `https:` URL, without a fragment.
   * @param protocols - A subprotocol or a list of them, offered in order of
   *   preference; or the init dictionary.
   * @throws {DOMException} `SyntaxError` for a URL that does not parse, has
   *   another scheme or a fragment, or for protocols that repeat or are not tokens.
   * @throws {TypeError} for an unknown option (ws's names say what to do
   *   instead), an init dictionary with options as well, or an init
   *   dictionary whose `protocols` is not a string or a sequence of strings.
   * @throws {TypeError} or {RangeError} for an invalid option, naming it.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket
   */
  constructor(url: string | URL, protocols?: string | Iterable<string> | WebSocketInit);
  /**
   * Creates a WebSocket and starts connecting to `url` in the background.
   * @param url - A `ws:`, `wss:`, `http:` or `https:` URL, without a fragment.
   * @param protocols - A subprotocol or a list of them, offered in order of preference.
   * @param options - Node-only options; browsers ignore a third argument.
   * @throws {DOMException} `SyntaxError` for a URL that does not parse, has
   *   another scheme or a fragment, or for protocols that repeat or are not tokens.
   * @throws {TypeError} for an unknown option (ws's names say what to do instead).
   * @throws {TypeError} or {RangeError} for an invalid option, naming it.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket
   */
  constructor(url: string | URL, protocols?: string | Iterable<string>, options?: WebSocketOptions);
  constructor(url: string | URL, protocols?: unknown, options?: unknown) {
    super();
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to construct 'WebSocket': 1 argument required, but only 0 present.",
      );
    }
    // WebIDL: url is a USVString; protocols a (DOMString or sequence<DOMString>),
    // or (Node only) the init dictionary.
    const urlString = toUSVString(url);
    const args = readConstructorArguments(protocols, options);
    let protocolList = args.protocols;
    // 1. Let baseURL be this's relevant settings object's API base URL.
    //    Node has no document, hence no base URL: URLs must be absolute.
    // 2. Let urlRecord be the result of getting a URL record given url and baseURL.
    const urlRecord = getURLRecord(urlString);
    // 3. If protocols is a string, set protocols to a sequence consisting of just that string.
    if (typeof protocolList === 'string') protocolList = [protocolList];
    // 4. If any of the values in protocols occur more than once or otherwise fail to
    //    match the requirements for elements that comprise the value of
    //    `Sec-WebSocket-Protocol` fields as defined by The WebSocket Protocol, then
    //    throw a "SyntaxError" DOMException.
    for (const protocol of protocolList) {
      if (!isToken(protocol)) {
        throw new DOMException(`The subprotocol '${protocol}' is invalid.`, 'SyntaxError');
      }
    }
    if (new Set(protocolList).size !== protocolList.length) {
      throw new DOMException('The subprotocols must not contain duplicates.', 'SyntaxError');
    }
    // Node only: the options, checked before anything starts.
    const resolved = resolveOptions(args.options, args.inInit);
    // 5. Set this's url to urlRecord.
    this.#url = urlRecord;
    this.#origin = urlRecord.origin;
    // 6. Let client be this's relevant settings object.
    //    (Node has none: its origin is the `origin` option, if any.)
    // 7. Run this step in parallel: establish a WebSocket connection given
    //    urlRecord, protocols, and client.
    const feedback = new WebSocket.#Feedback(this);
    this.#link = new NodeLink(urlRecord, protocolList, resolved, feedback, this.#tasks);
    // Browsers do not limit listeners; Node's EventTarget warns past 10.
    setMaxListeners(0, this);
  }

  /**
   * The URL, as parsed: `http:` shows as `ws:`, `https:` as `wss:`.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-url
   */
  get url(): string {
    return this.#url.href;
  }

  /**
   * `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3).
   * @see https://websockets.spec.whatwg.org/#dom-websocket-readystate
   */
  get readyState(): ReadyState {
    return this.#readyState;
  }

  /**
   * Bytes of application data (UTF-8 bytes of text, bytes of binary data;
   * no framing) passed to `send()` and not yet handed to the network. It
   * grows in `send()` and falls in a later task as the socket drains; data
   * sent while CLOSING or CLOSED is counted and never drains.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
   */
  get bufferedAmount(): number {
    return this.#bufferedAmount.value;
  }

  /**
   * The `Sec-WebSocket-Extensions` the server accepted, or `""`.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-extensions
   */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * The subprotocol the server chose, or `""`.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-protocol
   */
  get protocol(): string {
    return this.#protocol;
  }

  /**
   * How binary messages are exposed: `"blob"` (default) or `"arraybuffer"`.
   * Other values are ignored.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-binarytype
   */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // A WebIDL enumeration: a value outside it is ignored, not an error.
    const type = toDOMString(value);
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  /** @see https://websockets.spec.whatwg.org/#handler-websocket-onopen */
  get onopen(): WebSocketEventHandler<Event> {
    return getEventHandler(this.#handlers, 'open');
  }

  set onopen(value: WebSocketEventHandler<Event>) {
    setEventHandler(this.#handlers, this, 'open', value);
  }

  /** @see https://websockets.spec.whatwg.org/#handler-websocket-onerror */
  get onerror(): WebSocketEventHandler<ErrorEvent> {
    return getEventHandler(this.#handlers, 'error');
  }

  set onerror(value: WebSocketEventHandler<ErrorEvent>) {
    setEventHandler(this.#handlers, this, 'error', value);
  }

  /** @see https://websockets.spec.whatwg.org/#handler-websocket-onclose */
  get onclose(): WebSocketEventHandler<CloseEvent> {
    return getEventHandler(this.#handlers, 'close');
  }

  set onclose(value: WebSocketEventHandler<CloseEvent>) {
    setEventHandler(this.#handlers, this, 'close', value);
  }

  /** @see https://websockets.spec.whatwg.org/#handler-websocket-onmessage */
  get onmessage(): WebSocketEventHandler<MessageEvent<string | ArrayBuffer | Blob>> {
    return getEventHandler(this.#handlers, 'message');
  }

  set onmessage(value: WebSocketEventHandler<MessageEvent<string | ArrayBuffer | Blob>>) {
    setEventHandler(this.#handlers, this, 'message', value);
  }

  /**
   * Node only, beyond WHATWG: the `pong` event's handler.
   * @see {@link PongEvent}
   */
  get onpong(): WebSocketEventHandler<PongEvent> {
    return getEventHandler(this.#handlers, 'pong');
  }

  set onpong(value: WebSocketEventHandler<PongEvent>) {
    setEventHandler(this.#handlers, this, 'pong', value);
  }

  /**
   * Closes the connection, or abandons the attempt while still connecting.
   * @param code - 1000, or 3000-4999. Without code and reason the close frame has no body.
   * @param reason - At most 123 bytes of UTF-8. With a reason but no code, the code is 1000.
   * @throws {DOMException} `InvalidAccessError` for another code; `SyntaxError` for a longer reason.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-close
   */
  close(code?: number, reason?: string): void {
    // WebIDL: optional [Clamp] unsigned short code, optional USVString reason.
    let closeCode = code === undefined ? null : toClampedUnsignedShort(code);
    const closeReason = reason === undefined ? '' : toUSVString(reason);
    // 1. If code is present, but is neither an integer equal to 1000 nor an integer
    //    in the range 3000 to 4999, inclusive, throw an "InvalidAccessError" DOMException.
    if (
      closeCode !== null &&
      closeCode !== CloseCode.Normal &&
      (closeCode < 3000 || closeCode > 4999)
    ) {
      throw new DOMException(
        `The close code must be either 1000, or between 3000 and 4999. ${closeCode} is neither.`,
        'InvalidAccessError',
      );
    }
    // 2. If reason is present: let reasonBytes be the result of UTF-8 encoding
    //    reason; if reasonBytes is longer than 123 bytes, throw a "SyntaxError" DOMException.
    if (utf8Length(closeReason) > MAX_CLOSE_REASON_BYTES) {
      throw new DOMException(
        `The close reason must not be greater than ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes.`,
        'SyntaxError',
      );
    }
    // 3. Run the first matching steps from the following list:
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) {
      // -> If this's ready state is CLOSING (2) or CLOSED (3): do nothing.
      return;
    }
    if (this.#readyState === CONNECTING) {
      // -> If the WebSocket connection is not yet established: fail the WebSocket
      //    connection and set this's ready state to CLOSING (2).
      this.#readyState = CLOSING;
      this.#link.fail(new Error('WebSocket was closed before the connection was established'));
      return;
    }
    // -> If the WebSocket closing handshake has not yet been started: start the
    //    WebSocket closing handshake and set this's ready state to CLOSING (2).
    //    If code is null and reason is empty, the close frame has no body; if reason
    //    is non-empty but code is null, code is 1000. Messages sent before (a Blob
    //    still being read included) go out first.
    // -> Otherwise (the server started it): set this's ready state to CLOSING (2);
    //    the connection then ignores the second close.
    if (closeCode === null && closeReason !== '') closeCode = CloseCode.Normal;
    this.#readyState = CLOSING;
    this.#link.close(closeCode ?? undefined, closeReason);
  }

  /**
   * Sends a message: a string as text, anything else as binary.
   * @throws {DOMException} `InvalidStateError` while CONNECTING.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-send
   */
  send(data: WebSocketData): void {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.",
      );
    }
    // WebIDL: (BufferSource or Blob or USVString). A SharedArrayBuffer is not a
    // BufferSource, so it converts to a string; a view over one is a TypeError.
    let kind: 'buffer' | 'blob' | 'text';
    let bytes: Uint8Array | undefined;
    let text = '';
    if (isArrayBuffer(data)) {
      kind = 'buffer';
      bytes = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      if (!isArrayBuffer(data.buffer)) {
        throw new TypeError(
          "Failed to execute 'send' on 'WebSocket': The provided ArrayBufferView value must not be shared.",
        );
      }
      kind = 'buffer';
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (data instanceof Blob) {
      kind = 'blob';
    } else {
      kind = 'text';
      text = toUSVString(data);
    }
    // 1. If this's ready state is CONNECTING, then throw an "InvalidStateError" DOMException.
    if (this.#readyState === CONNECTING) {
      throw new DOMException(
        "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
        'InvalidStateError',
      );
    }
    // 2. Run the appropriate set of steps, depending on the type of data:
    //    If the WebSocket connection is established and the WebSocket closing
    //    handshake has not yet started, send a WebSocket message comprised of data
    //    (a text frame for a string, binary otherwise). Either way, an invocation
    //    that does not throw must increase bufferedAmount by the data's size in
    //    bytes (UTF-8 bytes for a string).
    const open = this.#readyState === OPEN;
    if (kind === 'text') {
      const size = utf8Length(text);
      this.#bufferedAmount.add(size);
      if (open) this.#link.sendText(text, size);
    } else if (kind === 'blob') {
      this.#bufferedAmount.add((data as Blob).size);
      if (open) this.#link.sendBlob(data as Blob);
    } else {
      this.#bufferedAmount.add(bytes!.length);
      if (open) this.#link.sendBinary(bytes!);
    }
  }

  /**
   * Node only, beyond WHATWG: sends a ping, ahead of messages still waiting
   * to be written. The server answers with a pong, dispatched as a `pong`
   * event. As with `send()`, it throws while CONNECTING and does nothing
   * once CLOSING or CLOSED.
   * @param data - At most 125 bytes: a string (sent as UTF-8) or bytes. Default: empty.
   * @throws {RangeError} for a payload over 125 bytes.
   * @throws {TypeError} for a `Blob` (it would have to be read first) or a
   *   view over shared memory.
   * @throws {DOMException} `InvalidStateError` while CONNECTING.
   */
  ping(data?: PingData): void {
    let bytes: Uint8Array;
    if (data === undefined) {
      bytes = new Uint8Array(0);
    } else if (isArrayBuffer(data)) {
      bytes = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      if (!isArrayBuffer(data.buffer)) {
        throw new TypeError(
          "Failed to execute 'ping' on 'WebSocket': The provided ArrayBufferView value must not be shared.",
        );
      }
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (data instanceof Blob) {
      throw new TypeError(
        "Failed to execute 'ping' on 'WebSocket': a Blob is not accepted; " +
          'pass its bytes (await blob.arrayBuffer())',
      );
    } else {
      bytes = encodeUtf8(toUSVString(data));
    }
    if (bytes.byteLength > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(
        `The ping payload must not be greater than ${MAX_CONTROL_PAYLOAD} bytes, got ${bytes.byteLength}`,
      );
    }
    if (this.#readyState === CONNECTING) {
      throw new DOMException(
        "Failed to execute 'ping' on 'WebSocket': Still in CONNECTING state.",
        'InvalidStateError',
      );
    }
    if (this.#readyState === OPEN) this.#link.ping(bytes);
  }

  // ---- feedback from the protocol ----

  /**
   * What the link reports, turned into queued tasks. A class rather than an
   * object of arrow functions, and the steps below methods rather than arrow
   * fields: an open connection then holds one small object for them, not a
   * dozen closures (0.7 KiB of its heap).
   */
  static readonly #Feedback = class Feedback implements LinkHandler {
    readonly #socket: WebSocket;

    constructor(socket: WebSocket) {
      this.#socket = socket;
    }

    onOpen(protocol: string, extensions: string): void {
      const socket = this.#socket;
      socket.#tasks.queue(socket.#established, { protocol, extensions });
    }

    onMessage(data: string | ArrayBuffer): void {
      const socket = this.#socket;
      socket.#tasks.queue(socket.#messageReceived, data);
    }

    onPong(data: ArrayBuffer): void {
      const socket = this.#socket;
      socket.#tasks.queue(socket.#pongReceived, data);
    }

    onClosing(): void {
      const socket = this.#socket;
      socket.#tasks.queue(socket.#closingStarted, undefined);
    }

    onWritten(size: number): void {
      this.#socket.#bufferedAmount.written(size);
    }

    onClose(code: number, reason: string, wasClean: boolean, error: Error | undefined): void {
      const socket = this.#socket;
      if (error !== undefined) socket.#tasks.queue(socket.#failed, error);
      socket.#tasks.queue(socket.#closed, { code, reason, wasClean });
    }
  };

  /**
   * When the WebSocket connection is established, queue a task to run these steps.
   * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
   */
  #established(info: { protocol: string; extensions: string }): void {
    // close() before this task ran failed the connection already and set the
    // ready state to CLOSING; as in browsers, no open event then.
    if (this.#readyState !== CONNECTING) return;
    // 1. Change the ready state to OPEN (1).
    this.#readyState = OPEN;
    // 2. Change the extensions attribute's value to the extensions in use, if it is not the null value.
    this.#extensions = info.extensions;
    // 3. Change the protocol attribute's value to the subprotocol in use, if it is not the null value.
    this.#protocol = info.protocol;
    // 4. Fire an event named open at the WebSocket object.
    this.dispatchEvent(new Event('open'));
  }

  /**
   * When a WebSocket message has been received with type type and data data,
   * queue a task to follow these steps.
   * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
   */
  #messageReceived(data: string | ArrayBuffer): void {
    // 1. If ready state is not OPEN (1), then return.
    if (this.#readyState !== OPEN) return;
    // 2. Let dataForEvent be determined by switching on type and binary type:
    //    text: a new DOMString containing data; binary and "blob": a new Blob
    //    whose raw data is data; binary and "arraybuffer": a new ArrayBuffer
    //    whose contents are data.
    const dataForEvent =
      typeof data === 'string' || this.#binaryType === 'arraybuffer' ? data : new Blob([data]);
    // 3. Fire an event named message at the WebSocket object, using MessageEvent,
    //    with the origin attribute initialized to the serialization of the
    //    WebSocket object's url's origin, and the data attribute initialized to dataForEvent.
    this.dispatchEvent(new MessageEvent('message', { data: dataForEvent, origin: this.#origin }));
  }

  /**
   * Node only: a pong arrived. Like a message, in a task of its own; unlike
   * one, still dispatched while CLOSING, since a pong answers a ping this
   * side sent and is no message the spec would drop.
   */
  #pongReceived(data: ArrayBuffer): void {
    if (this.#readyState !== OPEN && this.#readyState !== CLOSING) return;
    this.dispatchEvent(new PongEvent('pong', { data }));
  }

  /**
   * When the WebSocket closing handshake is started, queue a task to change
   * the ready state to CLOSING (2). (If close() was called, it already is.)
   * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
   */
  #closingStarted(): void {
    if (this.#readyState === OPEN) this.#readyState = CLOSING;
  }

  /**
   * When the WebSocket connection is closed, queue a task: steps 1 and 2, for a
   * connection that failed. Step 3 runs in a task of its own (see below).
   * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
   */
  #failed(error: Error): void {
    // 1. Change the ready state to CLOSED (3).
    this.#readyState = CLOSED;
    // 2. If the user agent was required to fail the WebSocket connection, or if
    //    the WebSocket connection was closed after being flagged as full, fire an
    //    event named error at the WebSocket object. (An ErrorEvent in Node, so
    //    that `error` tells what failed.)
    this.dispatchEvent(new ErrorEvent('error', { error, message: error.message }));
  }

  /**
   * When the WebSocket connection is closed: the close event. It gets its own
   * task, after the error event's, so that promise callbacks queued by error
   * listeners settle first, as they would in a browser.
   * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
   */
  #closed(info: CloseInfo): void {
    // 1. Change the ready state to CLOSED (3).
    this.#readyState = CLOSED;
    // 3. Fire an event named close at the WebSocket object, using CloseEvent, with
    //    the wasClean attribute initialized to true if the connection closed cleanly
    //    and false otherwise, the code attribute initialized to the WebSocket
    //    connection close code, and the reason attribute initialized to the result
    //    of applying UTF-8 decode without BOM to the WebSocket connection close reason.
    this.dispatchEvent(
      new CloseEvent('close', { wasClean: info.wasClean, code: info.code, reason: info.reason }),
    );
  }
}

// The constants on instances, and typed listeners for the WebSocket's own
// events, as lib.dom declares them.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface WebSocket extends ReadyStateConstants {
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}
