/**
 * `ServerSession`: what the application sees of one resumable session
 * (`docs/session-protocol.md`). The machinery behind it lives in
 * `session-core.ts`; this class only hands calls to it and carries the
 * events.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import type { UpgradeRequest } from './request.js';
import type { ServerSendData, ServerWebSocket } from './server-websocket.js';

/**
 * Why a session ended, the third argument of its `close` event:
 *
 * | cause | what happened |
 * | --- | --- |
 * | `session-ended` | `end`: the client's, or `session.close()` (or a listener of the session threw: 1011) |
 * | `session-expired` | suspended for `timeout` without a resume: forgotten |
 * | `session-window-full` | a topic or broadcast message did not fit the replay log: forgotten |
 * | `session-taken` | another node resumed it through the store: this one let go |
 * | `server-closed` | `server.close()`: forgotten here, kept in the store for another node |
 */
export type SessionCloseCause =
  'session-ended' | 'session-expired' | 'session-window-full' | 'session-taken' | 'server-closed';

/** Events of a {@link ServerSession}, with their listener arguments. */
export interface ServerSessionEvents {
  /**
   * A data message from the client, delivered exactly once and in order:
   * text as a `string`, binary as a `Buffer`. `seq` is its number in the
   * session (1, 2, 3, ... over the whole session), for keying effects that
   * must not happen twice (see the README's guarantees).
   */
  message: [data: string | Buffer, isBinary: boolean, seq: number];
  /** The connection was lost (closed without `end`); the session is kept for `timeout`. */
  suspend: [code: number, reason: string];
  /** The client resumed the session on a new connection (of this server). */
  resume: [request: UpgradeRequest];
  /** The replay log has room again after `send` returned `false`. */
  drain: [];
  /**
   * The session is over; always its last event. `code` and `reason`: the
   * close frame that followed the client's `end`, what `close()` was given
   * (1000 by default), or what the server closed the connection with (see
   * the README's table).
   */
  close: [code: number, reason: string, cause: SessionCloseCause];
  /**
   * The client broke the session protocol (a `ProtocolError`, its connection
   * closed with 1002: the session is suspended), or a listener of this
   * session threw (an `InternalError` whose `cause` is what was thrown: the
   * session ends with 1011). Emitted only when a listener is attached;
   * without one, listener errors go to the server's `error` or a warning.
   */
  error: [error: Error];
}

/**
 * What a {@link ServerSession} hands its calls to: `SessionCore` in
 * `session-core.ts`, which creates the session (declared here, so that the
 * two modules do not import each other).
 * @internal
 */
export interface SessionMachinery<Data> {
  readonly id: string;
  readonly data: Data;
  readonly protocol: string;
  readonly socket: ServerWebSocket<Data> | undefined;
  readonly log: {
    readonly sent: number;
    readonly received: number;
    readonly acked: number;
    readonly unackedBytes: number;
  };
  readonly moved: boolean;
  readonly topics: ReadonlySet<string>;
  send(data: ServerSendData): boolean;
  close(code?: number, reason?: string): void;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
}

/**
 * One resumable session on the server: a sequence of messages each way,
 * delivered exactly once and in order across any number of connections.
 * Created by the server and passed to its `session` event; never
 * constructed directly.
 *
 * @typeParam Data - what `authenticate` returned for the connection that
 *   made this server hold the session (its `hello`, or its resume here).
 */
export class ServerSession<Data = undefined> extends EventEmitter<ServerSessionEvents> {
  readonly #core: SessionMachinery<Data>;

  /** @internal */
  constructor(core: SessionMachinery<Data>) {
    super();
    this.#core = core;
  }

  /** The session's id (what the client resumes with). */
  get id(): string {
    return this.#core.id;
  }

  /** What `authenticate` returned for the connection that made this server hold the session. */
  get data(): Data {
    return this.#core.data;
  }

  /** The application's subprotocol (the part after the session token), or `""`. */
  get protocol(): string {
    return this.#core.protocol;
  }

  /** Whether a connection carries the session now (else it is suspended, or over). */
  get connected(): boolean {
    return this.#core.socket !== undefined;
  }

  /**
   * The connection carrying the session now, for what it tells (its
   * `remoteAddress`, `bufferedAmount`). Send through the session, never on
   * it: a message sent on the socket is not numbered, logged or escaped.
   */
  get socket(): ServerWebSocket<Data> | undefined {
    return this.#core.socket;
  }

  /** The number of the last message this server produced ({@link send} and topics). */
  get sent(): number {
    return this.#core.log.sent;
  }

  /** The number of the last client message delivered (`message`). */
  get received(): number {
    return this.#core.log.received;
  }

  /** The largest number the client acknowledged; `sent - acked` messages wait in the replay log. */
  get acked(): number {
    return this.#core.log.acked;
  }

  /**
   * Bytes waiting to reach the client: the attached connection's
   * `bufferedAmount`, or, while suspended, the bytes of the replay log
   * (everything the client has not acknowledged), which a resume sends
   * again. What `broadcast`'s `filter` reads to skip a client that is
   * behind, as it does for a `ServerWebSocket`.
   */
  get bufferedAmount(): number {
    const socket = this.#core.socket;
    return socket ? socket.bufferedAmount : this.#core.log.unackedBytes;
  }

  /** Whether the session came from another node through the store. */
  get moved(): boolean {
    return this.#core.moved;
  }

  /** The topics the session is subscribed to (they move with it). */
  get topics(): ReadonlySet<string> {
    return this.#core.topics;
  }

  /**
   * Sends a data message: numbered, kept in the replay log until the client
   * acknowledges it, and written now if a connection carries the session
   * (with a store: once the store has recorded it). Strings go as text,
   * binary data as binary (copied: the log keeps it until acknowledged).
   * @returns `false` when the replay log is full (`maxMessages`/`maxBytes`)
   *   or the session is over: nothing was sent or logged; `drain` follows
   *   when acknowledgements free room.
   */
  send(data: ServerSendData): boolean {
    return this.#core.send(data);
  }

  /**
   * Ends the session: sends `end` after every message sent before it, then
   * closes the connection with `code` and `reason`. Without a connection
   * the session just ends (the client's next resume is answered `lost`).
   * Emits `close` (cause `session-ended`) at once. Does nothing once over.
   * @param code - 1000 (default), 1001-1003, 1007-1014 or 3000-4999.
   * @param reason - at most 123 UTF-8 bytes.
   * @throws {RangeError} for a code that may not be sent or a reason too long.
   */
  close(code?: number, reason?: string): void {
    this.#core.close(code, reason);
  }

  /**
   * Subscribes the session to `topic`: it receives what `server.publish`
   * sends there, as its own numbered messages (a message that does not fit
   * its replay log ends it: `session-window-full`).
   * @returns `false` when already subscribed or over.
   * @throws {TypeError} when `topic` is not a string.
   */
  subscribe(topic: string): boolean {
    return this.#core.subscribe(topic);
  }

  /**
   * Unsubscribes the session from `topic`.
   * @returns `false` when it was not subscribed.
   * @throws {TypeError} when `topic` is not a string.
   */
  unsubscribe(topic: string): boolean {
    return this.#core.unsubscribe(topic);
  }
}
