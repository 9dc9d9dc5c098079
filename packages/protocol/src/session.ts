/**
 * The resumable session protocol (`docs/session-protocol.md`), sans I/O:
 * subprotocol negotiation, the text escape that tells data from control
 * messages, the control messages' codec, and {@link SessionLog}, one side's
 * sequence numbers and replay log. The server's `sessions` option and the
 * client's `ReconnectingWebSocket` `session` option are built on this; every
 * rule of the document that does not need a clock or a socket lives here.
 * @packageDocumentation
 */
import { ProtocolError } from './errors.js';

/** The protocol's subprotocol token (version 1). */
export const SESSION_PROTOCOL = 'proj-session.v1';

/** What joins the session token to an application's subprotocol in an offer. */
const JOIN = '+';
const PREFIX = SESSION_PROTOCOL + JOIN;
const NUL = '\u0000';
const NUL_CODE = 0;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_PATTERN = /^[a-z]+$/;
const NUMBER_PATTERN = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The `Sec-WebSocket-Protocol` offer of a client that wants a session:
 * each application protocol combined with the session token, then the
 * application protocols themselves (for a server without sessions), or the
 * session token alone when the application offers none.
 */
export function sessionOffer(appProtocols: readonly string[]): string[] {
  if (appProtocols.length === 0) return [SESSION_PROTOCOL];
  return [...appProtocols.map((p) => PREFIX + p), ...appProtocols];
}

/** A selected subprotocol, read as a session client reads it. */
export interface SelectedProtocol {
  /** Whether the connection is a session connection. */
  readonly session: boolean;
  /** The application's subprotocol, `""` for none. */
  readonly app: string;
}

/** Reads the subprotocol a server selected: session or not, and the application's part. */
export function parseSelectedProtocol(selected: string): SelectedProtocol {
  if (selected === SESSION_PROTOCOL) return { session: true, app: '' };
  if (selected.startsWith(PREFIX)) return { session: true, app: selected.slice(PREFIX.length) };
  return { session: false, app: selected };
}

/** One session offer found in a client's `Sec-WebSocket-Protocol`. */
export interface SessionOfferEntry {
  /** The value to select: `proj-session.v1` or `proj-session.v1+<app>`. */
  readonly token: string;
  /** The application protocol it carries, `""` for none. */
  readonly app: string;
}

/**
 * The session offers among a client's offered subprotocols, in the client's
 * order. A server picks the first whose `app` it would select on its own.
 */
export function sessionOffers(offered: Iterable<string>): SessionOfferEntry[] {
  const entries: SessionOfferEntry[] = [];
  for (const token of offered) {
    const parsed = parseSelectedProtocol(token);
    if (parsed.session && (parsed.app !== '' || token === SESSION_PROTOCOL)) {
      entries.push({ token, app: parsed.app });
    }
  }
  return entries;
}

/** Whether an offered subprotocol is one of this protocol's tokens (not the application's). */
export function isSessionToken(token: string): boolean {
  return token === SESSION_PROTOCOL || token.startsWith(PREFIX);
}

// ---- messages ----

/** A session control message (section 2 of the document). */
export type SessionControl =
  | { readonly type: 'hello' }
  | {
      readonly type: 'resume';
      readonly id: string;
      readonly received: number;
      readonly acked: number;
    }
  | {
      readonly type: 'ready';
      readonly id: string;
      readonly received: number;
      readonly keepAlive: number;
    }
  | { readonly type: 'lost' }
  | { readonly type: 'ack'; readonly received: number }
  | { readonly type: 'end' };

/** A text message read off a session connection. */
export type SessionText =
  | { readonly kind: 'data'; readonly text: string }
  | { readonly kind: 'control'; readonly control: SessionControl };

/** The wire form of application text: unchanged, or one NUL prepended if it begins with NUL. */
export function escapeSessionText(text: string): string {
  return text.charCodeAt(0) === NUL_CODE ? NUL + text : text;
}

/** Whether a received text message is a data message (binary messages always are). */
export function isSessionData(text: string): boolean {
  return text.charCodeAt(0) !== NUL_CODE || text.charCodeAt(1) === NUL_CODE;
}

/**
 * Reads a received text message: application text (unescaped) or a control
 * message.
 * @throws {ProtocolError} (1002) for a malformed control message.
 */
export function readSessionText(text: string): SessionText {
  if (text.charCodeAt(0) !== NUL_CODE) return { kind: 'data', text };
  if (text.charCodeAt(1) === NUL_CODE) return { kind: 'data', text: text.slice(1) };
  return { kind: 'control', control: decodeSessionControl(text) };
}

/** The wire form of a control message. */
export function encodeSessionControl(control: SessionControl): string {
  switch (control.type) {
    case 'hello':
    case 'lost':
    case 'end':
      return NUL + control.type;
    case 'ack':
      return `${NUL}ack ${control.received}`;
    case 'resume':
      return `${NUL}resume ${checkId(control.id)} ${control.received} ${control.acked}`;
    case 'ready':
      return `${NUL}ready ${checkId(control.id)} ${control.received} ${control.keepAlive}`;
  }
}

/** How many arguments each control message takes. */
const ARITY: Readonly<Record<SessionControl['type'], number>> = {
  hello: 0,
  lost: 0,
  end: 0,
  ack: 1,
  resume: 3,
  ready: 3,
};

/**
 * Decodes a control message (text beginning with one NUL).
 * @throws {ProtocolError} (1002) naming what is wrong.
 */
export function decodeSessionControl(text: string): SessionControl {
  const parts = text.slice(1).split(' ');
  const name = parts[0]!;
  if (!NAME_PATTERN.test(name) || !Object.hasOwn(ARITY, name)) {
    throw sessionError(`unknown session control message ${JSON.stringify(name.slice(0, 32))}`);
  }
  const type = name as SessionControl['type'];
  if (parts.length - 1 !== ARITY[type]) {
    throw sessionError(
      `session control message "${type}" takes ${ARITY[type]} argument(s), got ${parts.length - 1}`,
    );
  }
  switch (type) {
    case 'hello':
    case 'lost':
    case 'end':
      return { type };
    case 'ack':
      return { type, received: readNumber(type, parts[1]!) };
    case 'resume':
      return {
        type,
        id: readId(type, parts[1]!),
        received: readNumber(type, parts[2]!),
        acked: readNumber(type, parts[3]!),
      };
    case 'ready':
      return {
        type,
        id: readId(type, parts[1]!),
        received: readNumber(type, parts[2]!),
        keepAlive: readNumber(type, parts[3]!),
      };
  }
}

/** Whether `id` is a well-formed session id (1 to 64 of `A-Z a-z 0-9 - _`). */
export function isSessionId(id: string): boolean {
  return ID_PATTERN.test(id);
}

function checkId(id: string): string {
  if (!isSessionId(id)) throw new RangeError(`Invalid session id ${JSON.stringify(id)}`);
  return id;
}

function readId(type: string, value: string): string {
  if (!isSessionId(value))
    throw sessionError(`session control message "${type}" has a malformed id`);
  return value;
}

function readNumber(type: string, value: string): number {
  const number = NUMBER_PATTERN.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number)) {
    throw sessionError(
      `session control message "${type}" has a malformed number ${JSON.stringify(value.slice(0, 20))}`,
    );
  }
  return number;
}

/** A breach of the session protocol: the connection is closed with 1002. */
export function sessionError(message: string): ProtocolError {
  return new ProtocolError('WS_ERR_SESSION_PROTOCOL', message);
}

// ---- sequence numbers and the replay log ----

/** Bounds of a replay log. */
export interface SessionLogLimits {
  /** Most data messages sent and not yet acknowledged. */
  readonly maxMessages: number;
  /** Most bytes of them (UTF-8 bytes of text, bytes of binary). */
  readonly maxBytes: number;
}

/** One entry of a replay log. */
export interface LoggedMessage<T> {
  /** Its sequence number. */
  readonly seq: number;
  readonly message: T;
  readonly bytes: number;
}

/**
 * One side of a session: the numbers of section 3 of the document (`sent`,
 * `acked`, `received`) and the replay log between `acked` and `sent`.
 * Knows nothing of connections; {@link SessionLog.startInbound} tells it
 * where a connection's incoming data messages start.
 * @typeParam T - what the log keeps of a message (its text or bytes, as the caller needs to resend it).
 */
export class SessionLog<T> {
  readonly #limits: SessionLogLimits;
  /** The log, oldest first; `#head` is the index of its first live entry. */
  #entries: (LoggedMessage<T> | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #sent = 0;
  #acked = 0;
  #received = 0;
  /** The number the next incoming data message on the current connection carries. */
  #nextInbound = 1;

  /**
   * @param state - where to start: a new session starts at zeros; a session
   *   loaded from a store passes its numbers and its log.
   */
  constructor(
    limits: SessionLogLimits,
    state?: {
      readonly sent: number;
      readonly acked: number;
      readonly received: number;
      readonly log: readonly LoggedMessage<T>[];
    },
  ) {
    this.#limits = limits;
    if (state) {
      if (state.acked > state.sent || state.log.length !== state.sent - state.acked) {
        throw new RangeError(
          `Inconsistent session state: sent ${state.sent}, acked ${state.acked}, ${state.log.length} logged`,
        );
      }
      this.#sent = state.sent;
      this.#acked = state.acked;
      this.#received = state.received;
      for (const entry of state.log) {
        this.#entries.push(entry);
        this.#bytes += entry.bytes;
      }
    }
  }

  /** The number of the last data message produced. */
  get sent(): number {
    return this.#sent;
  }

  /** The largest number the peer acknowledged. */
  get acked(): number {
    return this.#acked;
  }

  /** The number of the last data message delivered to the application. */
  get received(): number {
    return this.#received;
  }

  /** Messages in the replay log. */
  get unackedMessages(): number {
    return this.#sent - this.#acked;
  }

  /** Bytes in the replay log. */
  get unackedBytes(): number {
    return this.#bytes;
  }

  /** Whether a message of `bytes` fits in the log now. */
  canSend(bytes: number): boolean {
    return (
      this.unackedMessages < this.#limits.maxMessages &&
      (this.#bytes + bytes <= this.#limits.maxBytes || this.unackedMessages === 0)
    );
  }

  /**
   * Numbers a new outgoing data message and keeps it for replay.
   * @returns its sequence number.
   * @throws {RangeError} when it does not fit ({@link SessionLog.canSend}):
   *   the caller checks first and reports the refusal.
   */
  record(message: T, bytes: number): number {
    if (!this.canSend(bytes)) {
      throw new RangeError(
        `The session's replay log is full (${this.unackedMessages} messages, ${this.#bytes} bytes unacknowledged)`,
      );
    }
    const seq = ++this.#sent;
    this.#entries.push({ seq, message, bytes });
    this.#bytes += bytes;
    return seq;
  }

  /**
   * The peer's cumulative acknowledgement (`ack`, or `ready`'s `RECEIVED`):
   * forgets the log up to `received`. A smaller value than before is ignored.
   * @returns whether anything was forgotten.
   * @throws {ProtocolError} (1002) if it acknowledges more than was sent.
   */
  acknowledge(received: number): boolean {
    if (received > this.#sent) {
      throw sessionError(
        `the peer acknowledged ${received} data messages, but only ${this.#sent} were sent`,
      );
    }
    if (received <= this.#acked) return false;
    while (this.#acked < received) {
      const entry = this.#entries[this.#head]!;
      this.#entries[this.#head++] = undefined;
      this.#bytes -= entry.bytes;
      this.#acked++;
    }
    // Compact now and then, not on every ack.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return true;
  }

  /**
   * Whether the log can replay everything after `received` (the peer's
   * count of delivered messages): `acked <= received <= sent`.
   */
  canReplayFrom(received: number): boolean {
    return received >= this.#acked && received <= this.#sent;
  }

  /**
   * The logged messages after `received`, oldest first, for a replay.
   * @throws {RangeError} unless {@link SessionLog.canReplayFrom}.
   */
  replayFrom(received: number): LoggedMessage<T>[] {
    if (!this.canReplayFrom(received)) {
      throw new RangeError(
        `Cannot replay after ${received}: the log holds ${this.#acked + 1} to ${this.#sent}`,
      );
    }
    const start = this.#head + (received - this.#acked);
    return this.#entries.slice(start) as LoggedMessage<T>[];
  }

  /** Every logged message, oldest first (for a store, or a `sessionlost` report). */
  logged(): LoggedMessage<T>[] {
    return this.#entries.slice(this.#head) as LoggedMessage<T>[];
  }

  /**
   * A connection starts: its first incoming data message carries `first`
   * (`ACKED + 1` of the client's `resume` on the server, `received + 1` on
   * the client).
   * @throws {ProtocolError} (1002) if `first` would skip messages (above `received + 1`).
   */
  startInbound(first: number): void {
    if (first > this.#received + 1) {
      throw sessionError(
        `the peer resumes its messages at ${first}, but only ${this.#received} were received`,
      );
    }
    this.#nextInbound = first;
  }

  /**
   * An incoming data message on the current connection.
   * @returns its sequence number if it is new (then `received` counts it
   *   and the caller delivers it), or 0 for a duplicate, which the caller
   *   discards.
   */
  inbound(): number {
    const seq = this.#nextInbound++;
    if (seq <= this.#received) return 0;
    this.#received = seq;
    return seq;
  }
}
