/**
 * How long a {@link ReconnectingWebSocket} waits before each reconnection
 * attempt: exponential backoff with full jitter, above a floor.
 *
 * Why full jitter: when a server drops many clients at once (a deploy, a
 * crash), clients that all wait the same delay, or the same delay give or take
 * a little, come back together in waves and knock it over again. Drawing each
 * delay uniformly over the whole window spreads them the most and, in AWS's
 * measurements, ends the contention in the fewest calls (Marc Brooker,
 * "Exponential Backoff And Jitter", AWS Architecture Blog, 2015). The floor
 * (`minDelay`) keeps a client from knocking again within a few milliseconds
 * of being dropped, which full jitter from 0 allows.
 * @packageDocumentation
 */

/** The three numbers that shape the delays, already validated. */
export interface BackoffSettings {
  /** The shortest delay, in ms, and the base of the exponential. At least 1. */
  readonly minDelay: number;
  /** The longest delay, in ms: the ceiling stops growing there. At least `minDelay`. */
  readonly maxDelay: number;
  /** How much the ceiling grows per attempt. At least 1. */
  readonly factor: number;
}

/**
 * The top of the window that retry number `attempt` (1 for the first) draws
 * its delay from: `min(maxDelay, minDelay × factor^attempt)`. The first
 * window is already `[minDelay, minDelay × factor]`, so even the first retry
 * is spread out.
 */
export function backoffCeiling(attempt: number, settings: BackoffSettings): number {
  // factor ** attempt overflows to Infinity after ~1000 attempts at factor 2;
  // min() turns that into maxDelay, which is the intent.
  return Math.min(settings.maxDelay, settings.minDelay * settings.factor ** attempt);
}

/**
 * The delay before retry number `attempt` (1 for the first), in whole ms:
 * uniform over `[minDelay, ceiling)`, or exactly `minDelay` when the window
 * is empty (`factor` 1).
 * @param random - a number in [0, 1), as `Math.random()` returns; values
 *   outside are clamped, so an injected source cannot leave the window.
 */
export function backoffDelay(
  attempt: number,
  settings: BackoffSettings,
  random: () => number,
): number {
  const ceiling = backoffCeiling(attempt, settings);
  const spread = ceiling - settings.minDelay;
  const draw = Math.min(Math.max(random(), 0), 1);
  // The largest whole offset below the ceiling: the window is half-open, and
  // a draw of exactly 1 (clamped) must not reach its top either.
  const top = Math.max(Math.ceil(spread) - 1, 0);
  return settings.minDelay + Math.min(Math.floor(draw * spread), top);
}
