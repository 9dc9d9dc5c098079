/**
 * The events a {@link ReconnectingWebSocket} adds to the WebSocket's own:
 * plain `Event` subclasses, the same in Node and browsers.
 * @packageDocumentation
 */
import type { QueuedData } from './offline-queue.js';
import type { GiveUpReason } from './retry-policy.js';

/** Options of a {@link ReconnectingEvent}. */
export interface ReconnectingEventInit extends EventInit {
  attempt: number;
  delay: number;
  retryAfter: number | null;
}

/**
 * `reconnecting`: an attempt is scheduled. Dispatched once per retry, when
 * its wait begins, so `attempt` counts 1, 2, 3... within an outage.
 */
export class ReconnectingEvent extends Event {
  readonly #attempt: number;
  readonly #delay: number;
  readonly #retryAfter: number | null;

  constructor(type: string, init: ReconnectingEventInit) {
    super(type, init);
    this.#attempt = init.attempt;
    this.#delay = init.delay;
    this.#retryAfter = init.retryAfter;
  }

  /** 1 for the first retry after a connection was lost (or the first attempt failed). */
  get attempt(): number {
    return this.#attempt;
  }

  /** ms until the attempt starts: 0 when it starts at once (the network came back). */
  get delay(): number {
    return this.#delay;
  }

  /**
   * The wait the server asked for, in ms (a 1012/1013 close reason's
   * `retry-after=<seconds>`, or `Retry-After` on a 503/429), which `delay`
   * honours; `null` without one.
   */
  get retryAfter(): number | null {
    return this.#retryAfter;
  }
}

/** Options of a {@link ReconnectedEvent}. */
export interface ReconnectedEventInit extends EventInit {
  attempts: number;
  downtime: number;
}

/**
 * `reconnected`: a connection opened again after one had been open before.
 * Dispatched right after that connection's `open` event.
 */
export class ReconnectedEvent extends Event {
  readonly #attempts: number;
  readonly #downtime: number;

  constructor(type: string, init: ReconnectedEventInit) {
    super(type, init);
    this.#attempts = init.attempts;
    this.#downtime = init.downtime;
  }

  /** Retries it took (the successful one included). */
  get attempts(): number {
    return this.#attempts;
  }

  /** ms between the previous connection's close and this one's open. */
  get downtime(): number {
    return this.#downtime;
  }
}

/** Options of a {@link GiveUpEvent}. */
export interface GiveUpEventInit extends EventInit {
  reason: GiveUpReason;
  attempts: number;
  code: number | null;
  error?: unknown;
}

/**
 * `giveup`: the ReconnectingWebSocket stopped on its own and is CLOSED.
 * Dispatched once, right after the final `close` event. Not dispatched
 * after `close()`.
 */
export class GiveUpEvent extends Event {
  readonly #reason: GiveUpReason;
  readonly #attempts: number;
  readonly #code: number | null;
  readonly #error: unknown;

  constructor(type: string, init: GiveUpEventInit) {
    super(type, init);
    this.#reason = init.reason;
    this.#attempts = init.attempts;
    this.#code = init.code;
    this.#error = init.error;
  }

  /** Which limit or signal ended it. */
  get reason(): GiveUpReason {
    return this.#reason;
  }

  /** Retries made in the last outage. */
  get attempts(): number {
    return this.#attempts;
  }

  /** The close code of the last connection that closed (e.g. 1008), or `null` when none did. */
  get code(): number | null {
    return this.#code;
  }

  /** For `reason` `"invalid"`: what was wrong (a `SyntaxError` `DOMException`, a `TypeError`). */
  get error(): unknown {
    return this.#error;
  }
}

/** Options of an {@link UnsentEvent} and a {@link SessionLostEvent}: messages and their size. */
export interface MessagesEventInit extends EventInit {
  messages: readonly QueuedData[];
  bytes: number;
}

/** Options of an {@link UnsentEvent}. */
export type UnsentEventInit = MessagesEventInit;

/** Options of a {@link SessionLostEvent}. */
export type SessionLostEventInit = MessagesEventInit;

/**
 * An event that hands back messages the application sent and that will not
 * (all) arrive: what {@link UnsentEvent} and {@link SessionLostEvent} share.
 */
abstract class MessagesEvent extends Event {
  readonly #messages: readonly QueuedData[];
  readonly #bytes: number;

  constructor(type: string, init: MessagesEventInit) {
    super(type, init);
    this.#messages = init.messages;
    this.#bytes = init.bytes;
  }

  /** The messages, oldest first: strings, `ArrayBuffer` copies of the bytes sent, `Blob`s. */
  get messages(): readonly QueuedData[] {
    return this.#messages;
  }

  /** Their size, as `bufferedAmount` counted it (UTF-8 bytes of text, bytes of binary). */
  get bytes(): number {
    return this.#bytes;
  }
}

/**
 * `unsent`: messages that `send()` queued while disconnected and that will
 * never be sent, because the ReconnectingWebSocket closed for good first
 * (`close()`, or giving up). Dispatched once, just before the final `close`.
 */
export class UnsentEvent extends MessagesEvent {}

/**
 * `sessionlost`: the resumable session could not be resumed (the server
 * answered `lost`: it expired, or the server restarted; or the server no
 * longer speaks sessions), so a new one starts. `messages` are the ones sent
 * in the old session that the server never acknowledged: some may have
 * reached the server's application, the rest never will; they are not sent
 * again. Dispatched before the `open` event of the connection that found out.
 * @see docs/session-protocol.md, section 4
 */
export class SessionLostEvent extends MessagesEvent {}
