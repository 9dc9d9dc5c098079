/**
 * Liveness of a session connection (`docs/session-protocol.md`, section 6):
 * the server sends something (an `ack`, if nothing else) at least every
 * KEEPALIVE ms, so a connection that has carried nothing for
 * `keepAliveTimeout` ms is dead, whatever TCP says. Runtime-neutral: the
 * clock and the timers are injected.
 *
 * Why timestamps, not ticks: browsers throttle the timers of background
 * pages (Chrome runs them at most once a minute after five hidden minutes)
 * but keep delivering messages, so counting ticks without a message would
 * judge a healthy connection dead. The timer only says when to look; the
 * verdict compares the time of the last message with the time now.
 * @packageDocumentation
 */

/** The clock and timers to use (a ReconnectingWebSocket's `environment`). */
export interface LivenessClock {
  readonly now: () => number;
  readonly setTimeout: (callback: () => void, ms: number) => unknown;
  readonly clearTimeout: (handle: unknown) => void;
}

/**
 * The longest wait, after a check that ran much later than scheduled, before
 * judging: the page was frozen or the machine slept, and the messages that
 * arrived meanwhile are queued behind the timer. A moment lets them be
 * dispatched (and counted) first.
 */
const MAX_GRACE = 1000;

/**
 * Watches one connection: {@link Liveness.received} on every message,
 * `onDead` once when the silence exceeds the timeout. A check runs every
 * `timeout / 2` ms, so on time it finds a dead connection at most
 * `timeout + timeout / 2` ms after its last message.
 */
export class Liveness {
  readonly #clock: LivenessClock;
  readonly #onDead: (silence: number) => void;
  #timeout = 0;
  #interval = 0;
  #lastReceived = 0;
  /** When the pending check should run; a check later than this by more than an interval was held back. */
  #dueAt = 0;
  #timer: unknown;
  /** The pending check is the grace after a late one: it judges, whatever its own lateness. */
  #grace = false;

  /** @param onDead - called once, with the ms since the last message, when the connection is judged dead. */
  constructor(clock: LivenessClock, onDead: (silence: number) => void) {
    this.#clock = clock;
    this.#onDead = onDead;
  }

  /** Whether a connection is being watched. */
  get watching(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts watching, counting from now; replaces any previous watch. */
  start(timeout: number): void {
    this.stop();
    this.#timeout = timeout;
    this.#interval = Math.max(1, Math.floor(timeout / 2));
    this.#lastReceived = this.#clock.now();
    this.#schedule(this.#interval);
  }

  /** A message arrived. */
  received(): void {
    this.#lastReceived = this.#clock.now();
  }

  /** Stops watching; no timer is left. */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#grace = false;
  }

  #schedule(ms: number): void {
    this.#dueAt = this.#clock.now() + ms;
    this.#timer = this.#clock.setTimeout(this.#check, ms);
  }

  readonly #check = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    if (!this.#grace && now - this.#dueAt > this.#interval) {
      // Held back by more than a period: frozen or asleep. One short grace.
      this.#grace = true;
      this.#schedule(Math.min(this.#interval, MAX_GRACE));
      return;
    }
    this.#grace = false;
    const silence = now - this.#lastReceived;
    if (silence > this.#timeout) {
      this.#onDead(silence);
      return;
    }
    this.#schedule(this.#interval);
  };
}
