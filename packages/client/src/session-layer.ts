/**
 * The client role of the resumable session protocol
 * (`docs/session-protocol.md`): what a {@link ReconnectingWebSocket} with the
 * `session` option does on each of its connections. It numbers and logs
 * every message sent, resumes the session on each new connection (replaying
 * what the server has not acknowledged), delivers the server's messages once
 * each, acknowledges them, and judges the connection by the server's
 * keep-alives. The wire format and the numbers are `@proj/protocol`'s
 * (`session.ts`); this file adds the sockets, the timers and the events.
 * Runtime-neutral: the browser entry uses it.
 * @packageDocumentation
 */
import {
  type ProtocolError,
  type SessionControl,
  SessionLog,
  type SessionLogLimits,
  type SessionText,
  encodeSessionControl,
  escapeSessionText,
  parseSelectedProtocol,
  readSessionText,
  sessionError,
  sessionOffer,
} from '@proj/protocol';
import {
  type QueuedData,
  type SendData,
  checkRoom,
  queuedSize,
  toQueuedData,
} from './offline-queue.js';
import { SessionLostEvent } from './reconnect-events.js';
import { ControlBytes } from './session-control-bytes.js';
import { MAX_DELAY } from './retry-hint.js';
import { Liveness, type LivenessClock } from './session-liveness.js';
import type { ResolvedSessionOptions } from './session-options.js';
import { OPEN } from './websocket-interface.js';

/**
 * The close code a client closes a connection with when the server broke the
 * session protocol. The document's code for that is 1002, which a browser's
 * `close()` refuses (only 1000 and 3000-4999 are allowed): 4002 stands for
 * it, in the range for applications.
 */
export const SESSION_ERROR_CLOSE_CODE = 4002;

/** What the session needs of a socket. */
export interface SessionSocket {
  readonly protocol: string;
  readonly readyState: number;
  send(data: SendData): void;
}

/** A received message, as the session reads it. */
export interface SessionMessageEvent {
  readonly data: unknown;
}

/**
 * What the session asks of the ReconnectingWebSocket it runs in: events and
 * transport decisions, each about the socket it names (the current one).
 */
export interface SessionHost<S extends SessionSocket, E extends SessionMessageEvent> {
  /** The session is attached to `socket` (`ready`): open it to the application. */
  attached(socket: S): void;
  /** Dispatch a data message of `event` with this data (text unescaped) and `lastEventId`. */
  deliver(event: E, data: unknown, lastEventId: string): void;
  /** Dispatch `sessionlost`. */
  lost(event: SessionLostEvent): void;
  /** The server broke the protocol on `socket`: close it and report `error`; no retry. */
  breach(socket: S, error: ProtocolError): void;
  /** The server sent `end` on `socket`: the session is over; its close is the final one. */
  ended(socket: S): void;
  /** Nothing came on `socket` for `keepAliveTimeout`: drop it and reconnect. */
  dead(socket: S, error: Error): void;
}

/** How a session connection ended, for the ReconnectingWebSocket to carry out. */
export type SessionDetach =
  /** Lost, or never attached: resume on the next connection. */
  | 'retry'
  /** After the server's `end`: the close is final. */
  | 'ended'
  /** After the server broke the protocol: the close is final. */
  | 'breach';

/**
 * Where the current connection stands:
 * - `none`: no socket open;
 * - `plain`: the server chose no session (a plain WebSocket for this connection);
 * - `hello`, `resume`: sent, waiting for `ready` (or `lost`, after `resume`);
 * - `attached`: `ready` came;
 * - `ended`: the server's `end` came;
 * - `failed`: the server broke the protocol; the socket is closing.
 */
type LinkState = 'none' | 'plain' | 'hello' | 'resume' | 'attached' | 'ended' | 'failed';

/** What a session reports as never delivered: messages and their bytes. */
export interface Undelivered {
  readonly messages: QueuedData[];
  readonly bytes: number;
}

/**
 * One client's session, across its connections. The ReconnectingWebSocket
 * calls {@link ClientSession.opened} for each socket that opens,
 * {@link ClientSession.message} for each message on it and
 * {@link ClientSession.detached} when it is gone; `send()` goes to
 * {@link ClientSession.send}, whether a connection is open or not.
 *
 * After `hello` it waits for `ready` before sending data: data sent with a
 * `hello` that reached the server, on a connection lost before its `ready`
 * reached the client, would be delivered in a session the client never
 * learns of, and again in the next one. After `resume` it replays at once:
 * the server discards what it already has.
 */
export class ClientSession<S extends SessionSocket, E extends SessionMessageEvent> {
  readonly #settings: ResolvedSessionOptions;
  readonly #limits: SessionLogLimits;
  readonly #clock: LivenessClock;
  readonly #host: SessionHost<S, E>;
  readonly #liveness: Liveness;
  #log: SessionLog<QueuedData>;
  #id: string | null = null;
  #socket: S | undefined;
  /** The control bytes written to `#socket`, for `bufferedAmount`. */
  readonly #controlBytes = new ControlBytes();
  #state: LinkState = 'none';
  /** Deliveries since the last `ack`. */
  #unacked = 0;
  #ackTimer: unknown;
  /** `end` went out: the last number written before it; `undefined` while not. */
  #endAfter: number | undefined;
  /** Whether the connection that carried `end` closed cleanly: the server then read all before it. */
  #endClean = false;

  /**
   * @param limits - the replay log's bounds (`maxQueuedMessages`, `maxQueuedBytes`).
   * @param clock - the ReconnectingWebSocket's clock and timers.
   */
  constructor(
    settings: ResolvedSessionOptions,
    limits: SessionLogLimits,
    clock: LivenessClock,
    host: SessionHost<S, E>,
  ) {
    this.#settings = settings;
    this.#limits = limits;
    this.#clock = clock;
    this.#host = host;
    this.#log = new SessionLog(limits);
    this.#liveness = new Liveness(clock, this.#onDead);
  }

  /** The session's id; `null` before the first `ready`, and after the session was lost or ended. */
  get id(): string | null {
    return this.#id;
  }

  /**
   * Bytes of logged messages not handed to the current connection: none
   * while attached (or resuming: the replay goes out at once), the whole
   * log otherwise, since it all goes out on the next connection.
   */
  /**
   * The bytes of the session's own control messages among `bufferedAmount`,
   * the current socket's: `ReconnectingWebSocket.bufferedAmount` leaves
   * them out, as it counts only what the application sent.
   */
  controlBytesIn(bufferedAmount: number): number {
    return bufferedAmount === 0 ? 0 : this.#controlBytes.buffered(bufferedAmount);
  }

  get unwrittenBytes(): number {
    return this.#flowing() ? 0 : this.#log.unackedBytes;
  }

  /** Whether what is logged is written at once: on a resumed or attached connection. */
  #flowing(): boolean {
    return this.#state === 'resume' || this.#state === 'attached';
  }

  /** The subprotocols to offer for the application's `protocols`. */
  offer(protocols: string[]): string[] {
    return sessionOffer(protocols);
  }

  /**
   * A socket opened. On a session connection: sends `hello`, or `resume`
   * and the replay log.
   * @returns whether to hold the `open` event until {@link SessionHost.attached}
   *   (session connections); a plain connection opens at once.
   */
  opened(socket: S): boolean {
    this.#socket = socket;
    this.#controlBytes.reset();
    if (!parseSelectedProtocol(socket.protocol).session) {
      this.#state = 'plain';
      // The session cannot go on with a server that no longer speaks it.
      const lost = this.#id === null ? undefined : this.#forget();
      // What is left was never written anywhere: the offline queue's
      // messages, sent as it would send them.
      const queued = this.#log.logged();
      if (queued.length > 0) {
        this.#log = new SessionLog(this.#limits);
        for (const entry of queued) socket.send(entry.message);
      }
      if (lost) this.#host.lost(lost);
      return false;
    }
    const log = this.#log;
    if (this.#id === null) {
      this.#state = 'hello';
      this.#sendControl(socket, { type: 'hello' });
      return true;
    }
    this.#state = 'resume';
    this.#sendControl(socket, {
      type: 'resume',
      id: this.#id,
      received: log.received,
      acked: log.acked,
    });
    for (const entry of log.logged()) this.#write(socket, entry.message, entry.bytes);
    return true;
  }

  /**
   * `send()`: numbers and logs `data` (a copy of it), and writes it if the
   * connection takes it now; on a plain connection, writes it as is.
   * @throws {OfflineQueueFullError} when the log is full; nothing is logged then.
   * @throws {TypeError} for a view over shared memory.
   */
  send(data: SendData): void {
    const socket = this.#socket;
    if (this.#state === 'plain' && socket!.readyState === OPEN) {
      socket!.send(data);
      return;
    }
    const item = toQueuedData(data);
    const size = queuedSize(item);
    const log = this.#log;
    const limits = this.#limits;
    checkRoom(limits.maxMessages, limits.maxBytes, size, log.unackedMessages, log.unackedBytes);
    log.record(item, size);
    if (this.#flowing()) this.#write(socket!, item, size);
  }

  /**
   * A message on `socket` (the current one).
   * @returns whether to dispatch it as it is (on a plain connection); a
   *   session's data messages are dispatched through {@link SessionHost.deliver}.
   */
  message(socket: S, event: E): boolean {
    const state = this.#state;
    if (state === 'plain') return true;
    if (state === 'failed' || state === 'ended' || state === 'none') return false;
    this.#liveness.received();
    let data = event.data;
    if (typeof data === 'string') {
      let read: SessionText;
      try {
        read = readSessionText(data);
      } catch (error) {
        this.#breach(socket, error as ProtocolError);
        return false;
      }
      if (read.kind === 'control') {
        this.#control(socket, read.control);
        return false;
      }
      data = read.text;
    }
    if (state !== 'attached') {
      this.#breach(socket, sessionError(`a data message arrived before "ready"`));
      return false;
    }
    const seq = this.#log.inbound();
    // A replay of one already delivered.
    if (seq === 0) return false;
    this.#host.deliver(event, data, String(seq));
    // A listener may have closed it, or a `close()` sent `end`.
    if (socket === this.#socket && this.#state === 'attached') this.#delivered();
    return false;
  }

  /** `close()` while `socket` is current: sends `end` on a session connection. */
  closing(): void {
    const socket = this.#socket;
    const state = this.#state;
    if (socket === undefined || socket.readyState !== OPEN) return;
    if (state !== 'hello' && state !== 'resume' && state !== 'attached') return;
    // What was delivered is acknowledged first: the server then knows that
    // nothing it sent before is in doubt.
    if (state === 'attached' && this.#unacked > 0) {
      this.#sendControl(socket, { type: 'ack', received: this.#log.received });
    }
    this.#stopAcks();
    // After `hello` nothing was written; otherwise the whole log was.
    this.#endAfter = state === 'hello' ? this.#log.acked : this.#log.sent;
    this.#sendControl(socket, { type: 'end' });
  }

  /**
   * `socket` is gone (closed, dropped or abandoned).
   * @param clean - whether its close was clean.
   */
  detached(socket: S, clean: boolean): SessionDetach {
    if (socket !== this.#socket) return 'retry';
    const state = this.#state;
    this.#socket = undefined;
    this.#state = 'none';
    this.#liveness.stop();
    this.#stopAcks();
    if (this.#endAfter !== undefined) this.#endClean = clean;
    if (state === 'ended') return 'ended';
    return state === 'failed' ? 'breach' : 'retry';
  }

  /**
   * The ReconnectingWebSocket is closed for good: stops every timer, forgets
   * the session, and returns what the server never got. After the client's
   * `end` on a connection that then closed cleanly, the server read (and
   * delivered) everything written before it: only what was never written is
   * returned. Otherwise every message it did not acknowledge.
   */
  finish(): Undelivered {
    this.#liveness.stop();
    this.#stopAcks();
    this.#socket = undefined;
    this.#state = 'none';
    const after = this.#endAfter !== undefined && this.#endClean ? this.#endAfter : 0;
    const entries = this.#log.logged().filter((entry) => entry.seq > after);
    this.#log = new SessionLog(this.#limits);
    this.#id = null;
    return {
      messages: entries.map((entry) => entry.message),
      bytes: entries.reduce((sum, entry) => sum + entry.bytes, 0),
    };
  }

  #control(socket: S, control: SessionControl): void {
    switch (control.type) {
      case 'ready':
        this.#ready(socket, control);
        return;
      case 'lost':
        this.#lost(socket);
        return;
      case 'ack':
        if (this.#state !== 'attached') {
          this.#breach(socket, sessionError('"ack" arrived before "ready"'));
          return;
        }
        try {
          this.#log.acknowledge(control.received);
        } catch (error) {
          this.#breach(socket, error as ProtocolError);
        }
        return;
      case 'end':
        if (this.#state !== 'attached') {
          this.#breach(socket, sessionError('"end" arrived before "ready"'));
          return;
        }
        this.#state = 'ended';
        this.#liveness.stop();
        this.#stopAcks();
        this.#host.ended(socket);
        return;
      case 'hello':
      case 'resume':
        this.#breach(socket, sessionError(`the server sent "${control.type}", a client's message`));
        return;
    }
  }

  #ready(socket: S, ready: Extract<SessionControl, { type: 'ready' }>): void {
    const state = this.#state;
    const log = this.#log;
    let problem: string | undefined;
    if (state !== 'hello' && state !== 'resume') {
      problem = '"ready" arrived on a connection already attached';
    } else if (state === 'resume' && ready.id !== this.#id) {
      problem = `"ready" names session ${ready.id}, but ${this.#id} was resumed`;
    } else if (state === 'hello' && ready.received !== 0) {
      problem = `"ready" for a new session acknowledges ${ready.received} messages, not 0`;
    } else if (ready.received < log.acked || ready.received > log.sent) {
      problem =
        `"ready" acknowledges ${ready.received} messages, outside the ` +
        `${log.acked} acknowledged to ${log.sent} sent`;
    }
    if (problem !== undefined) {
      this.#breach(socket, sessionError(problem));
      return;
    }
    log.acknowledge(ready.received);
    log.startInbound(log.received + 1);
    this.#id = ready.id;
    this.#state = 'attached';
    // Held back since `hello`; not after an `end`, which closes the session.
    if (state === 'hello' && this.#endAfter === undefined) {
      for (const entry of log.logged()) this.#write(socket, entry.message, entry.bytes);
    }
    const timeout = this.#settings.keepAliveTimeout ?? 2 * ready.keepAlive;
    if (timeout > 0) this.#liveness.start(Math.min(timeout, MAX_DELAY));
    this.#host.attached(socket);
  }

  #lost(socket: S): void {
    if (this.#state !== 'resume') {
      this.#breach(socket, sessionError('"lost" arrived, but no session was resumed'));
      return;
    }
    const lost = this.#forget();
    this.#state = 'hello';
    if (this.#endAfter === undefined) this.#sendControl(socket, { type: 'hello' });
    this.#host.lost(lost);
  }

  /** Forgets the session: a new log, no id. @returns the `sessionlost` event reporting the old log. */
  #forget(): SessionLostEvent {
    const log = this.#log;
    const event = new SessionLostEvent('sessionlost', {
      messages: log.logged().map((entry) => entry.message),
      bytes: log.unackedBytes,
    });
    this.#log = new SessionLog(this.#limits);
    this.#id = null;
    this.#stopAcks();
    return event;
  }

  /** Writes a data message of `size` bytes (escaped text: one more if it begins with NUL). */
  #write(socket: S, message: QueuedData, size: number): void {
    if (typeof message === 'string') {
      const wire = escapeSessionText(message);
      this.#controlBytes.data(wire === message ? size : size + 1);
      socket.send(wire);
    } else {
      this.#controlBytes.data(size);
      socket.send(message);
    }
  }

  /** Writes a control message, counted apart from the application's bytes. */
  #sendControl(socket: S, control: SessionControl): void {
    const text = encodeSessionControl(control);
    // ASCII (and NUL): one byte a character.
    this.#controlBytes.control(text.length);
    socket.send(text);
  }

  #breach(socket: S, error: ProtocolError): void {
    this.#state = 'failed';
    this.#liveness.stop();
    this.#stopAcks();
    this.#host.breach(socket, error);
  }

  /** One more data message delivered: acknowledge now, or soon. */
  #delivered(): void {
    if (++this.#unacked >= this.#settings.ackEvery) this.#sendAck();
    else if (this.#ackTimer === undefined) {
      this.#ackTimer = this.#clock.setTimeout(this.#sendAck, this.#settings.ackDelay);
    }
  }

  readonly #sendAck = (): void => {
    this.#stopAcks();
    const socket = this.#socket;
    if (socket === undefined || this.#state !== 'attached' || this.#endAfter !== undefined) return;
    if (socket.readyState !== OPEN) return;
    this.#sendControl(socket, { type: 'ack', received: this.#log.received });
  };

  #stopAcks(): void {
    if (this.#ackTimer !== undefined) this.#clock.clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#unacked = 0;
  }

  readonly #onDead = (silence: number): void => {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#host.dead(
      socket,
      new Error(
        `No message from the server for ${silence} ms (keepAliveTimeout): the connection is dead`,
      ),
    );
  };
}
