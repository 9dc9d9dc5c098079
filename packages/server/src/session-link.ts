/**
 * One session connection: a `ServerWebSocket` that negotiated the session
 * subprotocol, read as `docs/session-protocol.md` says. It waits for the
 * client's `hello` or `resume` (section 4), holds what the client pipelines
 * while the store answers, discards data after a `lost` until `hello`, and
 * hands an attached session its data and control messages. Breaches close it
 * with 1002.
 * @packageDocumentation
 */
import type { UpgradeRequest } from './request.js';
import {
  CloseCode,
  ProtocolError,
  type SessionControl,
  decodeSessionControl,
  encodeSessionControl,
  isSessionData,
  isSessionId,
  readSessionText,
  sessionError,
  truncateCloseReason,
} from '@proj/protocol';
import { type ServerWebSocket, closeAs } from './server-websocket.js';

/**
 * What a link hands a session's traffic to: `SessionCore` (declared here,
 * so that `session-core.ts` and this module do not import each other).
 */
export interface LinkedSession<Data> {
  /** A data message: numbered, then delivered or discarded as a duplicate. */
  receive(data: string | Buffer, isBinary: boolean): void;
  /** A control message after the opening one. */
  control(control: SessionControl): void;
  /** The link's connection closed without `end`. */
  linkClosed(link: SessionLink<Data>, code: number, reason: string): void;
  /** The link's connection closed after an `end`. */
  endClosed(code: number, reason: string): void;
  /** The client broke the protocol on this connection (closed with 1002 already). */
  breached(error: ProtocolError): void;
}

/** What a link asks of the server's sessions. */
export interface LinkHost<Data> {
  /** The client sent `hello`. */
  hello(link: SessionLink<Data>): void;
  /**
   * The client sent `resume` (its id may be malformed: the host answers `lost`).
   * @throws {ProtocolError} (1002) when its numbers cannot be right.
   */
  resume(link: SessionLink<Data>, control: ResumeControl): void;
  /** The connection closed. */
  closed(link: SessionLink<Data>): void;
}

/** A `resume`, as the link read it. */
export type ResumeControl = Extract<SessionControl, { type: 'resume' }>;

// The link's states.
/** Waiting for the client's first message: `hello` or `resume`. */
const OPENING = 0;
/** The store is creating or claiming the session: what arrives waits. */
const WAITING = 1;
/** `lost` was sent: data is discarded until `hello`. */
const LOST = 2;
/** A session is attached: data and control messages are its. */
const ATTACHED = 3;
/** The link broke the protocol while attached (closed with 1002): its close suspends the session. */
const BROKEN = 4;
/** The client sent `end`: its close frame ends the session. */
const ENDING = 5;
/** Done with: replaced, released, refused, or closed. */
const DETACHED = 6;

/** One session connection. @internal */
export class SessionLink<Data> {
  readonly socket: ServerWebSocket<Data>;
  readonly request: UpgradeRequest;
  /** The application's part of the negotiated subprotocol. */
  readonly protocol: string;
  readonly #host: LinkHost<Data>;
  #state = OPENING;
  #core: LinkedSession<Data> | undefined;
  /** Messages that arrived while {@link WAITING}: data, isBinary, data, isBinary, ... */
  #held: (string | Buffer | boolean)[] | undefined;
  #endTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    socket: ServerWebSocket<Data>,
    request: UpgradeRequest,
    protocol: string,
    host: LinkHost<Data>,
  ) {
    this.socket = socket;
    this.request = request;
    this.protocol = protocol;
    this.#host = host;
    socket.on('message', this.#onMessage);
    socket.on('close', this.#onClose);
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a control message (`ready`, `ack`, `lost`, `end`). */
  sendControl(control: SessionControl): void {
    this.socket.send(encodeSessionControl(control));
  }

  /** The store is being asked: reading stops, and what was read already waits. */
  waitForStore(): void {
    this.#state = WAITING;
    this.#held = [];
    this.socket.pause();
  }

  /**
   * The store answered (the state changed to attached, lost or detached):
   * reading goes on, and what waited is read now, in order.
   */
  storeAnswered(): void {
    if (this.#state === WAITING) this.#state = DETACHED;
    const held = this.#held;
    this.#held = undefined;
    if (!this.#closed) this.socket.resume();
    if (held === undefined) return;
    for (let i = 0; i < held.length && this.#state !== DETACHED; i += 2) {
      this.#onMessage(held[i] as string | Buffer, held[i + 1] as boolean);
    }
  }

  /** Answers `lost`: data is discarded until `hello`. */
  lost(): void {
    this.#state = LOST;
    this.sendControl(LOST_CONTROL);
  }

  /** `core` is attached to this connection now. */
  attached(core: LinkedSession<Data>): void {
    this.#state = ATTACHED;
    this.#core = core;
  }

  /** The session moved to a newer connection: this one closes with 1000, without `end`. */
  replaced(): void {
    this.release();
    closeAs(
      this.socket as ServerWebSocket<unknown>,
      'session-replaced',
      CloseCode.Normal,
      'Replaced by a newer connection',
    );
  }

  /** The session no longer uses this connection (it ended, or moved); what arrives is ignored. */
  release(): void {
    this.#state = DETACHED;
    this.#core = undefined;
  }

  /**
   * The client sent `end`: its close frame ends the session, with its code
   * and reason; a client that does not close within `closeTimeout` is
   * closed with 1000.
   */
  ending(core: LinkedSession<Data>, closeTimeout: number): void {
    this.#state = ENDING;
    this.#core = core;
    this.#endTimer = setTimeout(() => {
      closeAs(this.socket as ServerWebSocket<unknown>, 'local-close', CloseCode.Normal);
    }, closeTimeout);
    this.#endTimer.unref();
  }

  /** Closes the connection with 1002 for a breach of the session protocol. */
  breach(error: ProtocolError): void {
    const core = this.#core;
    this.#state = this.#state === ATTACHED ? BROKEN : DETACHED;
    closeAs(
      this.socket as ServerWebSocket<unknown>,
      'protocol-error',
      CloseCode.ProtocolError,
      truncateCloseReason(error.message),
    );
    if (this.#state === BROKEN) core?.breached(error);
  }

  readonly #onMessage = (data: string | Buffer, isBinary: boolean): void => {
    // Application data on an attached session, the path nearly every
    // message takes: binary, or text that does not begin with NUL, is the
    // application's unchanged (section 2), and costs no decoding.
    if (this.#state === ATTACHED && (isBinary || (data as string).charCodeAt(0) !== 0)) {
      this.#core!.receive(data, isBinary);
      return;
    }
    try {
      this.#readOther(data, isBinary);
    } catch (error) {
      if (error instanceof ProtocolError) this.breach(error);
      else throw error;
    }
  };

  #readOther(data: string | Buffer, isBinary: boolean): void {
    switch (this.#state) {
      case ATTACHED: {
        const read = readSessionText(data as string);
        if (read.kind === 'data') this.#core!.receive(read.text, false);
        else this.#core!.control(read.control);
        return;
      }
      case OPENING:
        if (isBinary || isSessionData(data as string)) {
          throw sessionError('a data message arrived before the session\'s "hello" or "resume"');
        }
        this.#opening(data as string);
        return;
      case WAITING:
        this.#held!.push(data, isBinary);
        return;
      case LOST:
        // Data the client sent before it learnt of the `lost` is discarded.
        if (isBinary || isSessionData(data as string)) return;
        if (decodeSessionControl(data as string).type !== 'hello') {
          throw sessionError('after "lost" the client must send "hello"');
        }
        this.#host.hello(this);
        return;
      default:
      // Broken, ending or detached: nothing more is read.
    }
  }

  /** The client's first message: `hello` or `resume`. */
  #opening(text: string): void {
    const control = readResume(text) ?? decodeSessionControl(text);
    if (control.type === 'hello') this.#host.hello(this);
    else if (control.type === 'resume') this.#host.resume(this, control);
    else
      throw sessionError(
        `the first session message must be "hello" or "resume", not "${control.type}"`,
      );
  }

  readonly #onClose = (code: number, reason: string): void => {
    this.#closed = true;
    clearTimeout(this.#endTimer);
    this.#host.closed(this);
    const state = this.#state;
    const core = this.#core;
    if (state === WAITING) return;
    this.release();
    if (core === undefined) return;
    if (state === ATTACHED || state === BROKEN) core.linkClosed(this, code, reason);
    else if (state === ENDING) core.endClosed(code, reason);
  };
}

const LOST_CONTROL: SessionControl = { type: 'lost' };

/**
 * A `resume` whose id is malformed but which is otherwise well formed: the
 * document (section 4) answers it `lost`, as an unknown session, where the
 * codec refuses it. Its numbers are still checked by the codec.
 */
function readResume(text: string): ResumeControl | undefined {
  if (!text.startsWith(RESUME_PREFIX)) return undefined;
  const parts = text.split(' ');
  const id = parts[1]!;
  if (parts.length !== 4 || isSessionId(id)) return undefined;
  const checked = decodeSessionControl(`${RESUME_PREFIX}x ${parts[2]} ${parts[3]}`);
  return checked.type === 'resume' ? { ...checked, id } : undefined;
}

const RESUME_PREFIX = '\u0000resume ';
