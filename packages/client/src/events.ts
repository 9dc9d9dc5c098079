/**
 * The event classes a WebSocket dispatches. Node 20 has `Event` and
 * `MessageEvent` but neither `CloseEvent` nor `ErrorEvent`; each export is the
 * runtime's own class where it has one, and ours otherwise, so `instanceof`
 * works with either. `PongEvent` is ours alone: pings are beyond WHATWG.
 * @packageDocumentation
 */

/** Options of a {@link CloseEvent}. */
export interface CloseEventInit extends EventInit {
  wasClean?: boolean;
  code?: number;
  reason?: string;
}

/** Options of an {@link ErrorEvent}. */
export interface ErrorEventInit extends EventInit {
  message?: string;
  filename?: string;
  lineno?: number;
  colno?: number;
  error?: unknown;
}

/** Options of a {@link MessageEvent}. */
export interface MessageEventInit<T = unknown> extends EventInit {
  data?: T;
  origin?: string;
  lastEventId?: string;
}

/**
 * The `close` event: how the connection ended.
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 */
export interface CloseEvent extends Event {
  /** Whether both close frames were exchanged before the transport closed. */
  readonly wasClean: boolean;
  /** The close code the server sent, 1005 when it sent none, 1006 when no close frame arrived. */
  readonly code: number;
  /** The close reason the server sent, or `""`. */
  readonly reason: string;
}

/**
 * An `error` event. The WebSocket spec fires a plain `Event`; in Node we fire
 * this subclass so that `error` (the cause) and `message` help debugging.
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#the-errorevent-interface
 */
export interface ErrorEvent extends Event {
  /** A description of the failure. */
  readonly message: string;
  readonly filename: string;
  readonly lineno: number;
  readonly colno: number;
  /**
   * The cause: a `HandshakeError` (with `status` and `headers`) for a refused
   * handshake, the socket's error for DNS/TCP/TLS failures, a protocol error
   * for a peer that broke RFC 6455.
   */
  readonly error: unknown;
}

/**
 * A `message` event.
 * @see https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface
 */
export interface MessageEvent<T = unknown> extends Event {
  /** The message: a string, or an `ArrayBuffer` or `Blob` per `binaryType`. */
  readonly data: T;
  /** The serialization of the WebSocket URL's origin, e.g. `ws://example.com:8080`. */
  readonly origin: string;
  readonly lastEventId: string;
}

/** An event class: constructible with a type and an init dictionary. */
export interface EventClass<E extends Event, Init extends EventInit> {
  readonly prototype: E;
  new (type: string, init?: Init): E;
}

/** WebIDL `unsigned short`: ToNumber, truncate, modulo 2^16. */
function toUnsignedShort(value: unknown): number {
  return Math.trunc(Number(value)) & 0xffff;
}

/** WebIDL `unsigned long`: ToNumber, truncate, modulo 2^32. */
function toUnsignedLong(value: unknown): number {
  return Math.trunc(Number(value)) >>> 0;
}

class CloseEventImpl extends Event implements CloseEvent {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#wasClean = Boolean(init.wasClean);
    this.#code = toUnsignedShort(init.code ?? 0);
    this.#reason = `${init.reason ?? ''}`;
  }

  get wasClean(): boolean {
    return this.#wasClean;
  }

  get code(): number {
    return this.#code;
  }

  get reason(): string {
    return this.#reason;
  }
}

class ErrorEventImpl extends Event implements ErrorEvent {
  readonly #message: string;
  readonly #filename: string;
  readonly #lineno: number;
  readonly #colno: number;
  readonly #error: unknown;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.#message = `${init.message ?? ''}`;
    this.#filename = `${init.filename ?? ''}`;
    this.#lineno = toUnsignedLong(init.lineno ?? 0);
    this.#colno = toUnsignedLong(init.colno ?? 0);
    this.#error = 'error' in init ? init.error : null;
  }

  get message(): string {
    return this.#message;
  }

  get filename(): string {
    return this.#filename;
  }

  get lineno(): number {
    return this.#lineno;
  }

  get colno(): number {
    return this.#colno;
  }

  get error(): unknown {
    return this.#error;
  }
}

class MessageEventImpl<T = unknown> extends Event implements MessageEvent<T> {
  readonly #data: T;
  readonly #origin: string;
  readonly #lastEventId: string;

  constructor(type: string, init: MessageEventInit<T> = {}) {
    super(type, init);
    this.#data = init.data as T;
    this.#origin = `${init.origin ?? ''}`;
    this.#lastEventId = `${init.lastEventId ?? ''}`;
  }

  get data(): T {
    return this.#data;
  }

  get origin(): string {
    return this.#origin;
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }
}

/** Options of a {@link PongEvent}. */
export interface PongEventInit extends EventInit {
  /** The pong's payload. Default: empty. */
  data?: ArrayBuffer;
}

/**
 * The `pong` event, Node only (no browser exposes pings): a pong frame
 * arrived, answering `WebSocket.ping()`, a `pingInterval` ping, or sent
 * unsolicited by the server. Dispatched in its own task, like every event.
 */
export class PongEvent extends Event {
  readonly #data: ArrayBuffer;

  constructor(type: string, init: PongEventInit = {}) {
    super(type, init);
    this.#data = init.data ?? new ArrayBuffer(0);
  }

  /** The pong's payload (at most 125 bytes), as `ArrayBuffer` like a binary message's. */
  get data(): ArrayBuffer {
    return this.#data;
  }
}

for (const [name, impl] of [
  ['CloseEvent', CloseEventImpl],
  ['ErrorEvent', ErrorEventImpl],
  ['MessageEvent', MessageEventImpl],
  ['PongEvent', PongEvent],
] as const) {
  // Report the interface name, as the runtime's own classes do.
  Object.defineProperty(impl, 'name', { value: name });
  Object.defineProperty(impl.prototype, Symbol.toStringTag, { value: name, configurable: true });
}

const runtime = globalThis as {
  CloseEvent?: unknown;
  ErrorEvent?: unknown;
  MessageEvent?: unknown;
};

/**
 * `CloseEvent`: the runtime's (browsers, Node 23+), else ours.
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 */
export const CloseEvent = (runtime.CloseEvent ?? CloseEventImpl) as EventClass<
  CloseEvent,
  CloseEventInit
>;

/**
 * `ErrorEvent`: the runtime's where it has one, else ours.
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#the-errorevent-interface
 */
export const ErrorEvent = (runtime.ErrorEvent ?? ErrorEventImpl) as EventClass<
  ErrorEvent,
  ErrorEventInit
>;

/**
 * `MessageEvent`: the runtime's (every supported Node has one), else ours.
 * @see https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface
 */
export const MessageEvent = (runtime.MessageEvent ?? MessageEventImpl) as {
  readonly prototype: MessageEvent;
  new <T = unknown>(type: string, init?: MessageEventInit<T>): MessageEvent<T>;
};
