/**
 * Releases zlib contexts that have not been used for a while.
 *
 * Why one shared timer: a server with 10,000 connections must not arm 10,000
 * timers to notice that most of them went quiet. Every connection configured
 * with the same idle time joins one sweeper, which looks at the members it
 * holds every half idle time (so a context is released between one and one
 * and a half idle times after its last use) and stops its interval when it
 * holds none, so an idle process can exit.
 */
import { perValue } from './per-value.js';

/** What a sweeper releases: anything that knows when it was last busy. */
export interface IdleReleasable {
  /** `Date.now()` of the last use; a negative value means "in use now". */
  readonly lastUsed: number;
  /** Drops what it holds; it leaves the sweeper by calling {@link IdleSweeper.delete}. */
  releaseIdle(): void;
}

/** One interval for every member configured with the same idle time. */
export class IdleSweeper {
  readonly idleTime: number;
  readonly #members = new Set<IdleReleasable>();
  #timer: ReturnType<typeof setInterval> | null = null;

  /** @param idleTime milliseconds without use after which a member is released. */
  constructor(idleTime: number) {
    this.idleTime = idleTime;
  }

  /** Members currently watched (diagnostics and tests). */
  get size(): number {
    return this.#members.size;
  }

  add(member: IdleReleasable): void {
    this.#members.add(member);
    if (this.#timer === null) {
      this.#timer = setInterval(this.#sweep, Math.max(1, this.idleTime >>> 1));
      this.#timer.unref();
    }
  }

  delete(member: IdleReleasable): void {
    this.#members.delete(member);
    if (this.#members.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  readonly #sweep = (): void => {
    const cutoff = Date.now() - this.idleTime;
    for (const member of this.#members) {
      const used = member.lastUsed;
      if (used >= 0 && used <= cutoff) member.releaseIdle();
    }
  };
}

const sweepers = perValue((idleTime) => new IdleSweeper(idleTime));

/** The process-wide sweeper for `idleTime`, shared by every connection with that value. */
export function sharedIdleSweeper(idleTime: number): IdleSweeper {
  return sweepers(idleTime);
}
