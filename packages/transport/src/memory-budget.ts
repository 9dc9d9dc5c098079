/**
 * A memory budget shared by many connections: pure accounting, no I/O.
 * @packageDocumentation
 */

/**
 * Why: no per-connection limit bounds the process. 200 connections that each
 * send 8 MiB of a 16 MiB message (allowed by `maxPayload`) and stall hold
 * 1.6 GB; with 2,000 the default `maxPayload` lets them hold 30 GB (issue 17,
 * point 1; ws 8.23 behaves the same). A budget over every connection's
 * buffered bytes turns that into back-pressure: readers that hold the most
 * unfinished input stop reading (TCP flow control then pushes back on their
 * peers, and the kernel, not the process, holds what they keep sending).
 */

/** A connection that the budget may stop reading from, and resumes when the pressure ends. */
export interface BudgetReader {
  /** Bytes of unfinished input it has counted against the budget. */
  readonly heldInput: number;
  /** The pressure ended: read again (unless something else holds reading paused). */
  resumeAfterPressure(): void;
  /**
   * Its unfinished input did not change for a whole {@link MemoryBudget.sweep}
   * interval while the pressure went on (stopped by the budget, or stalled by
   * its peer): it uncounts everything it holds now (before this returns) and
   * closes.
   */
  evictForPressure(): void;
}

/** Called when the budget goes over its limit, and when it falls back below the resume mark. */
export type PressureListener = (exceeded: boolean, budget: MemoryBudget) => void;

/**
 * The pressure ends once the bytes held fall to this fraction of the limit,
 * not just below it: with the mark at the limit itself, one message finishing
 * would resume every paused reader, and the next read would pause them again.
 * (With no reader paused, back under the limit is enough.)
 */
export const RESUME_FRACTION = 0.75;

/**
 * Over the budget, a reader holding this much unfinished input stops even
 * when it holds less than the mean. The mean alone can be gamed: connections
 * that fill up one after another each hold less than the ones already full
 * (the mean) until they are full too, so none would ever stop. 64 KiB is
 * half a socket read (`READ_SIZE`): a message that arrives in one read holds
 * nothing between reads, so it never makes its connection stop.
 */
export const PAUSE_FLOOR = 64 * 1024;

/** A reader's mark in the budget's holders while it holds no unfinished input. */
const IDLE = -2;

/**
 * Counts the bytes that connections hold for later, across all of them:
 * **input** (partly received messages, compressed messages being inflated,
 * input waiting while parsing is paused) and **output** (sends queued on a
 * socket past its high-water mark). Each connection reports what it holds
 * now ({@link setInput}, {@link setOutput}); the budget keeps the totals and
 * the connections holding any, so that "holds the most" is an O(1)
 * comparison with the mean instead of a sort. A message that arrives within
 * one read is never counted: the hot path pays one comparison.
 *
 * Over the {@link limit} the budget is {@link exceeded} until the bytes fall
 * to {@link RESUME_FRACTION} of it (or below the limit with no reader
 * stopped). Meanwhile:
 * - a reader holding at least the mean unfinished input, or at least
 *   {@link PAUSE_FLOOR}, stops reading ({@link shouldPause}); readers with
 *   less (a client sending small messages holds none between reads) go on
 *   being served;
 * - a consumer with at least the mean queued output is a slow consumer
 *   ({@link isSlowConsumer}): the server applies its backlog policy to it;
 * - the server answers new handshakes 503;
 * - {@link sweep}, called on an interval while exceeded, closes the readers
 *   whose unfinished input did not change for a whole interval, largest
 *   first, until the pressure ends.
 *
 * Why the sweep: a reader that is not read cannot be seen to leave. Its
 * peer's FIN (or RST) waits behind the unread bytes, and Node stops polling
 * a socket it does not read; and a peer that stalls just short of a message's
 * end holds its bytes without ever being stopped. Either way stalled
 * attackers would hold the budget, and the server would refuse handshakes,
 * for ever.
 */
export class MemoryBudget {
  /** Bytes that may be held before the budget is exceeded. */
  readonly limit: number;
  readonly #resumeAt: number;
  readonly #onPressure: PressureListener | undefined;
  #input = 0;
  /**
   * Readers that have held unfinished input, each with what it held at the
   * last {@link sweep} (-1 before one: equal at the next means stalled), or
   * {@link IDLE} while it holds none. A reader stays until {@link forget}:
   * deleting it whenever a message ends would shrink the map and grow it
   * again with the next one (V8 rehashes an ordered hash table that falls
   * under a quarter full), an allocation and a rehash per large message.
   */
  readonly #holders = new Map<BudgetReader, number>();
  /** Readers in {@link #holders} that hold unfinished input now. */
  #holding = 0;
  #output = 0;
  #outputHolders = 0;
  #exceeded = false;
  /** Readers stopped by the budget; resumed together when the pressure ends. */
  readonly #paused = new Set<BudgetReader>();

  /**
   * @param limit - bytes, at least 1 (`Infinity`: never exceeded; a server
   *   makes no budget then, and counts nothing).
   * @param onPressure - hears each change of {@link exceeded}.
   * @throws {RangeError} for a limit that is not a positive number.
   */
  constructor(limit: number, onPressure?: PressureListener) {
    if (!(limit >= 1))
      throw new RangeError(`A memory budget must be at least 1 byte, got ${limit}`);
    this.limit = limit;
    this.#resumeAt = limit * RESUME_FRACTION;
    this.#onPressure = onPressure;
  }

  /** Bytes held now: {@link input} plus {@link output}. */
  get used(): number {
    return this.#input + this.#output;
  }

  /** Bytes of unfinished input held now, across all connections. */
  get input(): number {
    return this.#input;
  }

  /** Bytes of queued output counted now, across all connections. */
  get output(): number {
    return this.#output;
  }

  /** Whether the budget is over its limit (until the bytes fall to the resume mark). */
  get exceeded(): boolean {
    return this.#exceeded;
  }

  /** Readers stopped by the budget now. */
  get pausedReaders(): number {
    return this.#paused.size;
  }

  /** `reader` held `before` bytes of unfinished input and now holds `after`. */
  setInput(reader: BudgetReader, before: number, after: number): void {
    if (after === 0) {
      this.#holding--;
      // A reader forgotten (closed) is not added back.
      if (this.#holders.has(reader)) this.#holders.set(reader, IDLE);
    } else if (before === 0) {
      this.#holding++;
      this.#holders.set(reader, -1);
    }
    this.#input += after - before;
    this.#update();
  }

  /** A connection had `before` bytes of output counted and now has `after`. */
  setOutput(before: number, after: number): void {
    if (before === 0) this.#outputHolders++;
    if (after === 0) this.#outputHolders--;
    this.#output += after - before;
    this.#update();
  }

  /**
   * Whether a reader holding `held` bytes of unfinished input should stop
   * reading now: the budget is exceeded and it holds at least the mean or
   * at least {@link PAUSE_FLOOR}.
   */
  shouldPause(held: number): boolean {
    return (
      this.#exceeded && held > 0 && (held >= PAUSE_FLOOR || held * this.#holding >= this.#input)
    );
  }

  /**
   * Whether a consumer with `queued` bytes of output is among the slowest
   * while the budget is exceeded: it has at least the mean counted output.
   */
  isSlowConsumer(queued: number): boolean {
    return (
      this.#exceeded &&
      this.#outputHolders > 0 &&
      queued > 0 &&
      queued * this.#outputHolders >= this.#output
    );
  }

  /** `reader` stopped reading because of {@link shouldPause}; it is resumed when the pressure ends. */
  paused(reader: BudgetReader): void {
    this.#paused.add(reader);
  }

  /**
   * One tick of the eviction interval: while {@link exceeded}, the readers
   * whose unfinished input did not change since the previous tick are
   * evicted ({@link BudgetReader.evictForPressure}), largest first, until
   * the pressure ends. Returns how many were evicted.
   */
  sweep(): number {
    const stalled: BudgetReader[] = [];
    for (const [reader, atLastSweep] of this.#holders) {
      if (atLastSweep === IDLE) continue;
      const held = reader.heldInput;
      if (held === atLastSweep) stalled.push(reader);
      else this.#holders.set(reader, held);
    }
    if (!this.#exceeded) return 0;
    stalled.sort((a, b) => b.heldInput - a.heldInput);
    let evicted = 0;
    for (const reader of stalled) {
      if (!this.#exceeded) break;
      this.#paused.delete(reader);
      reader.evictForPressure();
      evicted++;
    }
    return evicted;
  }

  /** `reader` is gone (closed): it is not resumed, and the budget keeps no reference to it. */
  forget(reader: BudgetReader): void {
    this.#paused.delete(reader);
    this.#holders.delete(reader);
  }

  #update(): void {
    const used = this.#input + this.#output;
    if (this.#exceeded) {
      // Back under the limit with no reader stopped there is nobody to
      // resume, so no reason to wait for the resume mark.
      if (used > this.#resumeAt && (used > this.limit || this.#paused.size > 0)) return;
      this.#exceeded = false;
      const paused = [...this.#paused];
      this.#paused.clear();
      for (const reader of paused) reader.resumeAfterPressure();
      this.#onPressure?.(false, this);
    } else if (used > this.limit) {
      this.#exceeded = true;
      this.#onPressure?.(true, this);
    }
  }
}
