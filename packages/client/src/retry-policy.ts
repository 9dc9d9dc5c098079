/**
 * The decision a {@link ReconnectingWebSocket} takes each time a connection
 * ends or an attempt fails: try again after how long, or give up and why.
 * Pure, given a clock and a random source, so every branch is tested without
 * waiting; the class only carries the decision out.
 * @packageDocumentation
 */
import { type BackoffSettings, backoffDelay } from './backoff.js';
import { MAX_DELAY } from './retry-hint.js';

/** Why a {@link ReconnectingWebSocket} stopped reconnecting on its own. */
export type GiveUpReason =
  /** `maxRetries` retries failed in a row. */
  | 'max-retries'
  /** The next attempt would start more than `maxRetryTime` ms into the outage. */
  | 'max-retry-time'
  /** The server closed with a code that means "do not come back like this". */
  | 'close-code'
  /** An attempt could not even start: a provider gave a URL, protocols or a token that is not valid. */
  | 'invalid';

/** What the policy needs to know, validated. */
export interface RetrySettings extends BackoffSettings {
  readonly maxRetries: number;
  readonly maxRetryTime: number;
  readonly minUptime: number;
  /** Close codes after which no attempt is made. */
  readonly finalCloseCodes: ReadonlySet<number>;
}

/** Try again: attempt number `attempt` after `delay` ms. */
export interface RetryLater {
  readonly retry: true;
  /** 1 for the first retry of an outage. */
  readonly attempt: number;
  /** ms to wait. */
  readonly delay: number;
  /** The server's hint that the delay honours, in ms, or `null`. */
  readonly retryAfter: number | null;
}

/** Stop. */
export interface GiveUp {
  readonly retry: false;
  readonly reason: GiveUpReason;
  /** Retries made in this outage. */
  readonly attempts: number;
}

/** What happens after a failed attempt or a lost connection. */
export type RetryDecision = RetryLater | GiveUp;

/** What ended: the close code, if a socket closed, and the server's hint, if any. */
export interface Ending {
  readonly code?: number | undefined;
  readonly retryAfter?: number | undefined;
}

/**
 * Counts the retries of an outage and decides each next step.
 *
 * An outage starts when a connection that stayed open at least `minUptime`
 * closes (or, before any, at construction), and ends at the next such
 * connection. A connection that closes sooner does not end it: a server that
 * accepts and drops at once keeps the delays growing instead of being hit
 * every `minDelay` for ever. Both caps count within one outage.
 */
export class RetryPolicy {
  readonly #settings: RetrySettings;
  readonly #now: () => number;
  readonly #random: () => number;
  #retries = 0;
  #outageStart: number;
  #openedAt: number | undefined;

  constructor(settings: RetrySettings, now: () => number, random: () => number) {
    this.#settings = settings;
    this.#now = now;
    this.#random = random;
    this.#outageStart = now();
  }

  /** Retries made so far in the current outage. */
  get retries(): number {
    return this.#retries;
  }

  /** A connection opened. */
  opened(): void {
    this.#openedAt = this.#now();
  }

  /**
   * A connection closed, or an attempt failed before opening: the next step.
   * A retry is counted as soon as it is decided.
   */
  ended(ending: Ending): RetryDecision {
    const now = this.#now();
    const settings = this.#settings;
    if (this.#openedAt !== undefined) {
      if (now - this.#openedAt >= settings.minUptime) {
        this.#retries = 0;
        this.#outageStart = now;
      }
      this.#openedAt = undefined;
    }
    if (ending.code !== undefined && settings.finalCloseCodes.has(ending.code)) {
      return this.giveUp('close-code');
    }
    const attempt = this.#retries + 1;
    if (attempt > settings.maxRetries) return this.giveUp('max-retries');
    const backoff = backoffDelay(attempt, settings, this.#random);
    const hint = ending.retryAfter;
    // A hint is a floor: on top of it, the backoff's jitter, so that clients
    // given the same hint by a restarting server do not all return at once.
    const delay =
      hint === undefined ? backoff : Math.min(hint + backoff - settings.minDelay, MAX_DELAY);
    if (now + delay - this.#outageStart > settings.maxRetryTime) {
      return this.giveUp('max-retry-time');
    }
    this.#retries = attempt;
    return { retry: true, attempt, delay, retryAfter: hint ?? null };
  }

  /** Whether an attempt starting now would start past `maxRetryTime` (after waiting offline). */
  expired(): boolean {
    return this.#now() - this.#outageStart > this.#settings.maxRetryTime;
  }

  /** A decision to stop, with the retries made. */
  giveUp(reason: GiveUpReason): GiveUp {
    return { retry: false, reason, attempts: this.#retries };
  }
}
