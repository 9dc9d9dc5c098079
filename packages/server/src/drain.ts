/**
 * `server.drain()`, the deploy's shutdown: the plan (its validated
 * options, the close reason and the refusal's `Retry-After`) and the
 * schedule that closes connections evenly over the window.
 *
 * Why spread the closes instead of telling every client at once to come
 * back later: a client closed at once and asked to wait is offline for that
 * wait. Spread closes keep each client served until its turn, and the
 * reconnects follow the closes, so the next node sees them arrive at the
 * average rate (N / window) instead of all in the first second (issue 17,
 * point 2). The `retry-after=<s>` hint in each close reason (our 1012/1013
 * convention, read by `ReconnectingWebSocket`) is a floor on top of which
 * the client adds only its backoff's jitter: the default 0 means "come back
 * now, elsewhere" without the backoff's `minDelay`.
 * @packageDocumentation
 */
import { CloseCode } from '@proj/protocol';

/** Options of {@link WebSocketServer.drain}. */
export interface DrainOptions {
  /**
   * Milliseconds over which the open connections are closed, evenly spaced
   * (the first at once, the last `window × (n-1)/n` in). Default 10 000.
   */
  window?: number;
  /**
   * The close code sent to each client: 1012 (Service Restart, the default),
   * 1013 (Try Again Later) or 1001 (Going Away; carries no hint a client reads).
   */
  code?: number;
  /**
   * Whole seconds each client is told to wait before reconnecting, as
   * `retry-after=<s>` in the close reason (a floor: `ReconnectingWebSocket`
   * adds its jitter). Default 0: come back at once, to another node.
   * Handshakes refused while draining carry it as `Retry-After` (at least 1).
   */
  retryAfter?: number;
  /**
   * Milliseconds to wait for the last clients to close after the window
   * before terminating them. Default: the `closeTimeout` option.
   */
  timeout?: number;
}

/** Close codes a drain may send. */
const DRAIN_CODES: ReadonlySet<number> = new Set([
  CloseCode.ServiceRestart,
  CloseCode.TryAgainLater,
  CloseCode.GoingAway,
]);

/** A drain's validated options, and what it tells clients. @internal */
export interface DrainPlan {
  readonly window: number;
  readonly code: number;
  readonly reason: string;
  readonly timeout: number;
  /** The fields of a handshake refused while draining (503). */
  readonly refusalHeaders: Readonly<Record<string, string>>;
}

/**
 * Validates `drain()`'s options.
 * @param closeTimeout - the server's `closeTimeout`, the default `timeout`.
 * @throws {TypeError|RangeError} naming the option.
 * @internal
 */
export function planDrain(options: DrainOptions, closeTimeout: number): DrainPlan {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('drain() options must be an object');
  }
  const window = milliseconds('window', options.window, 10_000);
  const timeout = milliseconds('timeout', options.timeout, closeTimeout);
  const code = options.code ?? CloseCode.ServiceRestart;
  if (!DRAIN_CODES.has(code)) {
    throw new RangeError(`drain() option "code" must be 1012, 1013 or 1001, got ${String(code)}`);
  }
  const retryAfter = options.retryAfter ?? 0;
  if (!Number.isSafeInteger(retryAfter) || retryAfter < 0) {
    throw new RangeError(
      `drain() option "retryAfter" must be a whole number of seconds >= 0, got ${String(retryAfter)}`,
    );
  }
  return {
    window,
    code,
    reason: code === CloseCode.GoingAway ? 'Server draining' : `retry-after=${retryAfter}`,
    timeout,
    refusalHeaders: { 'retry-after': String(Math.max(1, retryAfter)) },
  };
}

function milliseconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `drain() option "${name}" must be a finite number of ms >= 0, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * How much faster than the schedule {@link spreadOver} may close to catch up
 * after a stall: well under the 1.5x peak-over-average that issue 17 allows.
 */
export const CATCH_UP_RATE = 1.25;

/**
 * The longest pause of the event loop that {@link spreadOver} makes up at
 * once; what a longer stall left behind is made up at {@link CATCH_UP_RATE}.
 */
export const MAX_CATCH_UP_MS = 50;

/**
 * Calls `close` on each of `items` at evenly spaced times over `window` ms:
 * item k of n at `k × window / n`.
 *
 * Why not simply close everything that came due when a timer fires late:
 * on a busy machine the event loop stalls for hundreds of ms, and closing
 * all that came due meanwhile at once is the very burst a drain exists to
 * avoid. So a stall counts for at most {@link MAX_CATCH_UP_MS}, and the
 * schedule catches up at {@link CATCH_UP_RATE} times its rate: the window
 * may stretch by about the stalls, the rate stays even.
 * @param now - the clock (ms), injectable for tests.
 * @returns once the last item was closed.
 * @internal
 */
export function spreadOver<T>(
  items: readonly T[],
  window: number,
  close: (item: T) => void,
  now: () => number = performance.now.bind(performance),
): Promise<void> {
  const count = items.length;
  if (count === 0) return Promise.resolve();
  if (window === 0) {
    for (const item of items) close(item);
    return Promise.resolve();
  }
  const start = now();
  const slot = window / count;
  let next = 0;
  let last = start;
  // How many items may close now: the first at once.
  let allowance = 1;
  return new Promise<void>((resolve) => {
    const step = (): void => {
      const time = now();
      allowance += (Math.min(time - last, Math.max(slot, MAX_CATCH_UP_MS)) / slot) * CATCH_UP_RATE;
      last = time;
      // Every item whose time has come: k × slot <= elapsed.
      const due = Math.min(count, Math.floor((time - start) / slot) + 1);
      const closing = Math.min(due - next, Math.floor(allowance));
      for (let i = 0; i < closing; i++) close(items[next++]!);
      allowance -= closing;
      if (next >= count) {
        resolve();
        return;
      }
      // On schedule: no credit kept for later (it would be a burst).
      if (next === due) allowance = Math.min(allowance, 1);
      // Behind: wake again after one slot; on time: when the next comes due.
      setTimeout(step, next < due ? slot : Math.max(0, next * slot - (time - start)));
    };
    step();
  });
}
