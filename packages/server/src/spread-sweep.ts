/**
 * A periodic visit of many items, spread over the period instead of made all
 * at once: the heartbeat's pings and the sessions' keep-alives.
 *
 * Why: one timer visiting every connection writes to all of them in one turn
 * of the event loop. With 5,000 connections that is 5,000 writes (and, for
 * sessions with a store, 5,000 store calls) in a row: the loop stalls for a
 * few hundred milliseconds, every other connection waits, and the answers
 * (5,000 pongs) come back together. Here the items are split into slices and
 * one slice is visited per tick, so each item is still visited once per
 * period, exactly a period apart, and the load is even over time.
 * @packageDocumentation
 */

/** At most this many slices: a tick per slice, so more would only add timer callbacks. */
const MAX_SLICES = 16;
/** No tick shorter than this: a short period is visited whole, as one slice. */
const MIN_TICK_MS = 100;

/**
 * How many slices a period is split into: the most (up to 16) that divide it
 * into whole milliseconds of at least 100 each, so that every item is
 * visited exactly one period after the last time. 1 (everything at once)
 * when none does.
 */
export function sliceCount(period: number): number {
  for (let slices = MAX_SLICES; slices > 1; slices--) {
    if (period % slices === 0 && period / slices >= MIN_TICK_MS) return slices;
  }
  return 1;
}

/**
 * Visits each item once per `period` ms, one slice of the items per tick. An
 * item joins the smallest slice (so the slices stay even as items come and
 * go) and is first visited within a period of joining. The timer is
 * `unref`'d: it never keeps the process alive by itself.
 */
export class SpreadSweep<T> {
  readonly #slices: Set<T>[];
  readonly #visit: (item: T) => void;
  readonly #timer: NodeJS.Timeout;
  /** The slice the next tick visits. */
  #next = 0;

  /**
   * @param period - ms between two visits of one item (an integer > 0).
   * @param visit - called with each item of a slice; it may `delete` the item.
   */
  constructor(period: number, visit: (item: T) => void) {
    const slices = sliceCount(period);
    this.#slices = Array.from({ length: slices }, () => new Set<T>());
    this.#visit = visit;
    this.#timer = setInterval(() => this.#tick(), period / slices);
    this.#timer.unref();
  }

  /** Starts visiting `item` (once per period, from within a period from now). */
  add(item: T): void {
    let smallest = this.#slices[0]!;
    for (const slice of this.#slices) if (slice.size < smallest.size) smallest = slice;
    smallest.add(item);
  }

  /** Stops visiting `item`. */
  delete(item: T): void {
    for (const slice of this.#slices) if (slice.delete(item)) return;
  }

  /** Stops the timer; nothing is visited any more. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const slice = this.#slices[this.#next]!;
    this.#next = (this.#next + 1) % this.#slices.length;
    // A Set's iteration survives deletion of the current item.
    for (const item of slice) this.#visit(item);
  }
}
