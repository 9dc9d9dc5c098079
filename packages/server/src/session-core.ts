/**
 * The machinery of one resumable session on the server
 * (`docs/session-protocol.md`): its numbers and replay log (the protocol's
 * {@link SessionLog}), the connection carrying it, acknowledgements, the
 * suspension timer, and its end. `ServerSession` is its public face;
 * `SessionHost` makes and finds sessions; `SessionCommits` records them in
 * a store.
 *
 * Without a store everything here is synchronous, and a message costs no
 * object beyond its log entry: a received one is counted and emitted, a sent
 * one logged and written.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import {
  CloseCode,
  InternalError,
  type ProtocolError,
  type SessionControl,
  SessionLog,
  escapeSessionText,
  serializeClosePayload,
  sessionError,
  toBytes,
} from '@proj/protocol';
import type { UpgradeRequest } from './request.js';
import type { Counters } from './diagnostics.js';
import {
  ServerSession,
  type ServerSessionEvents,
  type SessionCloseCause,
} from './server-session.js';
import { type ServerSendData, type ServerWebSocket, closeAs } from './server-websocket.js';
import type { LoggedData, SessionCommits } from './session-commits.js';
import type { SessionLink } from './session-link.js';
import type { ResolvedSessionOptions } from './session-options.js';
import type { StoredSession } from './session-store.js';

/** What every session of one server shares (one object per server). */
export interface SessionContext<Data> {
  readonly settings: ResolvedSessionOptions;
  readonly counters: Counters;
  /** The server's `closeTimeout`: how long a client has to close after its `end`. */
  readonly closeTimeout: number;
  /** The session ended: the server stops holding it (its map, its topics). */
  forget(core: SessionCore<Data>): void;
  /** Topic subscriptions of sessions. */
  subscribe(core: SessionCore<Data>, topic: string): void;
  unsubscribe(core: SessionCore<Data>, topic: string): void;
  /** With a store: the session's recorder, made from where the store has it. */
  commitsFor?(core: SessionCore<Data>, stored: StoredSession): SessionCommits;
  /**
   * Reports an error a listener of the session threw (counted, published),
   * and unless `consequence` is `undefined` (the session's own `error` took
   * it), emits it as the server's `error`, else warns.
   */
  reportUserError(error: unknown, core: SessionCore<Data>, consequence: string | undefined): void;
}

/** How a session starts on this server. */
export interface SessionInit<Data> {
  readonly id: string;
  readonly data: Data;
  readonly protocol: string;
  /** Where the store has it (a store only): a new session's zeros, or a claimed one's state. */
  readonly stored?: StoredSession | undefined;
  /** Whether it came from another node through the store. */
  readonly moved: boolean;
}

/** The machinery of one session. @internal */
export class SessionCore<Data> {
  readonly id: string;
  readonly data: Data;
  readonly protocol: string;
  readonly moved: boolean;
  readonly log: SessionLog<LoggedData>;
  readonly topics = new Set<string>();
  readonly session: ServerSession<Data>;
  /** The store's recorder; `undefined` without a store. */
  readonly commits: SessionCommits | undefined;
  readonly #context: SessionContext<Data>;
  readonly #settings: ResolvedSessionOptions;
  /** The connection carrying the session; `undefined` while suspended or once over. */
  #link: SessionLink<Data> | undefined;
  #closed = false;
  /** The `RECEIVED` last told to the client on this connection (`ready` or `ack`). */
  #lastAck = 0;
  /** With a store: the number of the last message written on this connection. */
  #written = 0;
  /** An `ack` is due but waits for the store to record what it acknowledges. */
  #ackOwed = false;
  /** `send` returned `false`: `drain` follows once acknowledgements free room. */
  #drainOwed = false;
  #ackTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  readonly #onAckTimer = (): void => {
    this.#ackTimer = undefined;
    this.#ackNow();
  };

  constructor(context: SessionContext<Data>, init: SessionInit<Data>) {
    this.#context = context;
    this.#settings = context.settings;
    this.id = init.id;
    this.data = init.data;
    this.protocol = init.protocol;
    this.moved = init.moved;
    const stored = init.stored;
    this.log = new SessionLog<LoggedData>(
      context.settings,
      stored && {
        sent: stored.sent,
        acked: stored.acked,
        received: stored.received,
        log: stored.log.map((entry) => ({
          seq: entry.seq,
          message: entry.data,
          bytes:
            typeof entry.data === 'string' ? Buffer.byteLength(entry.data) : entry.data.byteLength,
        })),
      },
    );
    if (stored) for (const topic of stored.topics) this.topics.add(topic);
    this.commits = stored && context.commitsFor?.(this, stored);
    this.session = new ServerSession(this);
  }

  /** The connection carrying the session now. */
  get socket(): ServerWebSocket<Data> | undefined {
    return this.#link?.socket;
  }

  /** Whether the session is over. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The `RECEIVED` the client may be told: with a store, only what the store has recorded. */
  #ackable(): number {
    return this.commits ? this.commits.received : this.log.received;
  }

  /** The last message that may be written: with a store, only what the store has recorded. */
  #writable(): number {
    return this.commits ? this.commits.sent : this.log.sent;
  }

  // ---- the application's calls ----

  /** See {@link ServerSession.send}. */
  send(data: ServerSendData): boolean {
    if (this.#closed) return false;
    const log = this.log;
    if (typeof data === 'string') {
      const bytes = Buffer.byteLength(data);
      if (!log.canSend(bytes)) return this.#refuse();
      log.record(data, bytes);
      this.#produced(data);
      return true;
    }
    const view = toBytes(data);
    if (!log.canSend(view.byteLength)) return this.#refuse();
    // The log keeps it until the client acknowledges it, long after this
    // call: a copy, so that the caller may reuse its buffer. From Node's
    // pool when small (no zero-filling: `new Uint8Array(view)` cost a 1 KiB
    // echo three times as much); an acknowledgement releases it soon.
    const bytes = Buffer.allocUnsafe(view.byteLength);
    bytes.set(view);
    log.record(bytes, bytes.byteLength);
    this.#produced(bytes);
    return true;
  }

  /**
   * A topic or broadcast message (`message` shared by every recipient and
   * never changed), which the caller checked fits (`log.canSend`); one that
   * does not goes to {@link windowFull} instead.
   * @returns whether it was logged; `false` once the session is over.
   */
  deliverShared(message: LoggedData, bytes: number): boolean {
    if (this.#closed) return false;
    this.log.record(message, bytes);
    this.#produced(message);
    return true;
  }

  /** See {@link ServerSession.close}. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.#closed) return;
    serializeClosePayload(code, reason);
    const link = this.#link;
    if (link) {
      // Nobody resumes an ended session, so what the store has not recorded
      // yet goes out now: everything sent before close() reaches the client.
      if (this.commits) this.#writeUpTo(this.log.sent);
      // And the client learns which of its last messages were delivered
      // (section 7): nothing will be replayed after `end`.
      if (this.log.received > this.#lastAck) {
        this.#lastAck = this.log.received;
        link.sendControl({ type: 'ack', received: this.log.received });
      }
      link.sendControl(END);
      closeAs(link.socket as ServerWebSocket<unknown>, 'local-close', code, reason);
    }
    this.#finish(true);
    this.#emitClose(code, reason, 'session-ended');
  }

  /** See {@link ServerSession.subscribe}. */
  subscribe(topic: string): boolean {
    checkTopic(topic);
    if (this.#closed || this.topics.has(topic)) return false;
    this.topics.add(topic);
    this.#context.subscribe(this, topic);
    this.commits?.topicsChanged();
    return true;
  }

  /** See {@link ServerSession.unsubscribe}. */
  unsubscribe(topic: string): boolean {
    checkTopic(topic);
    if (!this.topics.delete(topic)) return false;
    this.#context.unsubscribe(this, topic);
    this.commits?.topicsChanged();
    return true;
  }

  // ---- its connection ----

  /**
   * Whether a client that has delivered `received` of our messages can
   * resume: the log holds everything after it (section 4), and, with a
   * store, it claims no message the store has not recorded.
   */
  canResumeFrom(received: number): boolean {
    return this.log.canReplayFrom(received) && received <= this.#writable();
  }

  /**
   * Attaches the session to `link` (a `hello`: 0, 0; a `resume`: the
   * client's numbers, checked with {@link canResumeFrom}): detaches the
   * connection that carried it, sends `ready` and the replay.
   * @throws {ProtocolError} (1002), before anything changed, when the client
   *   says its messages resume past what was received (`acked` too large).
   */
  attach(link: SessionLink<Data>, received: number, acked: number): void {
    const log = this.log;
    log.startInbound(acked + 1);
    this.#link?.replaced();
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#link = link;
    link.attached(this);
    if (log.acknowledge(received)) this.commits?.changed();
    const ackable = this.#ackable();
    this.#lastAck = ackable;
    this.#ackOwed = ackable < log.received;
    link.sendControl({
      type: 'ready',
      id: this.id,
      received: ackable,
      keepAlive: this.#settings.keepAlive,
    });
    this.#written = received;
    const replayed = this.#writeUpTo(this.#writable());
    this.#context.counters.replayedMessages += replayed;
    this.#drainIfOwed();
  }

  /** A data message from the client on the attached connection. */
  receive(data: string | Buffer, isBinary: boolean): void {
    const log = this.log;
    const seq = log.inbound();
    if (seq === 0) {
      this.#context.counters.duplicatesDiscarded++;
      return;
    }
    try {
      this.session.emit('message', data, isBinary, seq);
    } catch (error) {
      this.#userError(error);
    }
    if (this.#link === undefined) return;
    this.commits?.changed();
    if (seq - this.#lastAck >= this.#settings.ackEvery) this.#ackNow();
    else if (this.#ackTimer === undefined) {
      this.#ackTimer = setTimeout(this.#onAckTimer, this.#settings.ackDelay);
      this.#ackTimer.unref();
    }
  }

  /**
   * A control message from the client on the attached connection.
   * @throws {ProtocolError} (1002) for one a client may not send here, or an
   *   `ack` of messages it never got.
   */
  control(control: SessionControl): void {
    if (control.type === 'ack') {
      // With a store, what was not written cannot have been received; the
      // log only knows what was produced.
      if (this.commits && control.received > this.#written) {
        throw sessionError(
          `the client acknowledged ${control.received} data messages, but only ${this.#written} were sent`,
        );
      }
      if (this.log.acknowledge(control.received)) {
        this.commits?.changed();
        this.#drainIfOwed();
      }
    } else if (control.type === 'end') {
      this.#endedByClient();
    } else {
      throw sessionError(`unexpected session control message "${control.type}" from a client`);
    }
  }

  /** The keep-alive tick: an `ack` proves to the client that the server is there (section 6). */
  keepAlive(): void {
    const link = this.#link;
    if (link === undefined) return;
    const ackable = this.#ackable();
    this.#lastAck = ackable;
    link.sendControl({ type: 'ack', received: ackable });
  }

  /** The connection carrying the session closed without `end`: the session is suspended. */
  linkClosed(link: SessionLink<Data>, code: number, reason: string): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#expiryTimer = setTimeout(() => this.#expire(), this.#settings.timeout);
    this.#expiryTimer.unref();
    this.#emit('suspend', code, reason);
  }

  /** The client broke the protocol on the attached connection (closed with 1002 already). */
  breached(error: ProtocolError): void {
    if (this.session.listenerCount('error') > 0) this.#emit('error', error);
  }

  /** The client's `end` was followed by its close (or our close after `closeTimeout`). */
  endClosed(code: number, reason: string): void {
    this.#emitClose(code, reason, 'session-ended');
  }

  /** Emits `resume`: the client resumed the session here. */
  resumed(request: UpgradeRequest): void {
    this.#emit('resume', request);
  }

  // ---- the server's and the store's calls ----

  /**
   * What the store recorded advanced (a commit resolved): the messages it
   * holds may be written, and the acknowledgement that waited for it sent.
   */
  committed(): void {
    if (this.#closed || this.#link === undefined) return;
    this.#writeUpTo(this.#writable());
    if (this.#ackOwed) this.#ackNow();
  }

  /** Another node took the session through the store: let go of it. */
  taken(): void {
    if (this.#closed) return;
    const link = this.#link;
    if (link) {
      link.release();
      closeAs(
        link.socket as ServerWebSocket<unknown>,
        'session-replaced',
        CloseCode.Normal,
        'Session taken by another node',
      );
    }
    this.#finish(false);
    this.#emitClose(CloseCode.Normal, 'Session taken by another node', 'session-taken');
  }

  /**
   * `server.close()`: forgets the session here without `end`, so that its
   * client resumes on another node (the server closes the connections).
   * @returns the store's last step for it, when there is one to record.
   */
  serverClosed(code: number, reason: string): Promise<void> | undefined {
    if (this.#closed) return undefined;
    const finished = this.commits?.finish();
    this.#finish(false);
    this.#emitClose(code, reason, 'server-closed');
    return finished;
  }

  /**
   * A topic or broadcast message did not fit: the session is forgotten and
   * its connection closed without `end`, so that the client's resume is
   * answered `lost` and its application told (section 8, point 2). The last
   * `ack` tells it which of its messages were delivered.
   */
  windowFull(): void {
    if (this.#closed) return;
    const link = this.#link;
    const reason = 'Session window full';
    if (link) {
      link.release();
      const ackable = this.#ackable();
      if (ackable > this.#lastAck) link.sendControl({ type: 'ack', received: ackable });
      closeAs(
        link.socket as ServerWebSocket<unknown>,
        'session-window-full',
        CloseCode.InternalError,
        reason,
      );
    }
    this.#finish(true);
    this.#emitClose(CloseCode.InternalError, reason, 'session-window-full');
  }

  /** A user error in the `session` listener: ends the session with 1011. */
  failed(): void {
    this.close(CloseCode.InternalError, 'Internal error');
  }

  // ---- internals ----

  /** A message was logged: written now, or once the store recorded it. */
  #produced(message: LoggedData): void {
    const commits = this.commits;
    if (commits) commits.changed();
    else
      this.#link?.socket.send(typeof message === 'string' ? escapeSessionText(message) : message);
  }

  /**
   * Writes the logged messages after the last one written on this
   * connection, up to `last`.
   * @returns how many.
   */
  #writeUpTo(last: number): number {
    const link = this.#link;
    if (link === undefined || this.#written >= last) return 0;
    const socket = link.socket;
    let count = 0;
    for (const entry of this.log.replayFrom(this.#written)) {
      if (entry.seq > last) break;
      const message = entry.message;
      socket.send(typeof message === 'string' ? escapeSessionText(message) : message);
      count++;
    }
    this.#written += count;
    return count;
  }

  #refuse(): false {
    this.#drainOwed = true;
    return false;
  }

  #drainIfOwed(): void {
    if (this.#drainOwed && !this.#closed && this.log.canSend(0)) {
      this.#drainOwed = false;
      this.#emit('drain');
    }
  }

  /** Acknowledges what may be acknowledged now; with a store, the rest once recorded. */
  #ackNow(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const link = this.#link;
    if (link === undefined) return;
    const ackable = this.#ackable();
    this.#ackOwed = ackable < this.log.received;
    if (ackable <= this.#lastAck) return;
    this.#lastAck = ackable;
    link.sendControl({ type: 'ack', received: ackable });
  }

  #expire(): void {
    this.#expiryTimer = undefined;
    if (this.#closed) return;
    this.#context.counters.sessionsExpired++;
    this.#finish(true);
    this.#emitClose(CloseCode.GoingAway, 'Session expired', 'session-expired');
  }

  /** The client sent `end`: over now; `close` follows with the close frame's code and reason. */
  #endedByClient(): void {
    const link = this.#link!;
    this.#link = undefined;
    link.ending(this, this.#context.closeTimeout);
    this.#finish(true);
  }

  /**
   * The session is over: timers stopped, the connection released, the
   * server and its topics forget it, and the store too if `removeFromStore`.
   */
  #finish(removeFromStore: boolean): void {
    this.#closed = true;
    clearTimeout(this.#ackTimer);
    clearTimeout(this.#expiryTimer);
    this.#ackTimer = this.#expiryTimer = undefined;
    this.#link?.release();
    this.#link = undefined;
    this.#context.forget(this);
    this.commits?.stop(removeFromStore);
  }

  #emitClose(code: number, reason: string, cause: SessionCloseCause): void {
    try {
      this.session.emit('close', code, reason, cause);
    } catch (error) {
      this.#userError(error);
    }
  }

  /** Emits an event; a listener's throw is the application's error. */
  #emit<E extends 'suspend' | 'resume' | 'drain' | 'error'>(
    event: E,
    ...args: ServerSessionEvents[E]
  ): void {
    try {
      (this.session.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    } catch (error) {
      this.#userError(error);
    }
  }

  /**
   * A listener of the session threw: reported (to the session's `error`
   * listener, else the server's, else a warning), and the session ends
   * with 1011, as a connection whose listener throws does.
   */
  #userError(error: unknown): void {
    if (this.#closed) {
      this.#context.reportUserError(error, this, 'the session had ended already');
      return;
    }
    const toSession = this.session.listenerCount('error') > 0;
    this.#context.reportUserError(
      error,
      this,
      toSession ? undefined : 'the session was ended with 1011',
    );
    this.close(CloseCode.InternalError, 'Internal error');
    if (toSession) {
      try {
        this.session.emit('error', new InternalError(error));
      } catch (thrown) {
        this.#context.reportUserError(thrown, this, 'the session had ended already');
      }
    }
  }
}

const END: SessionControl = { type: 'end' };

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') {
    throw new TypeError(`A topic must be a string, got ${typeof topic}`);
  }
}
