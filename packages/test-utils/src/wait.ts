/** Awaitable helpers, so that no test sleeps where it can wait for an event. */

/** Anything with `once` (typed emitters included). */
export interface Emitter {
  once(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * The arguments of the next `event`. Unlike `events.once` it adds no `error`
 * listener: a server emits `error` only when someone listens.
 */
export function nextEmit<Args extends unknown[] = unknown[]>(
  emitter: Emitter,
  event: string,
): Promise<Args> {
  return new Promise((resolve) =>
    emitter.once(event, (...args: unknown[]) => resolve(args as Args)),
  );
}

/** Resolves after `ms`; only for "nothing happens within X ms" checks. */
export function quiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves after `count` trips around the event loop (to show nothing more happens). */
export async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Polls `condition` on each event-loop turn until it holds; `timeout` is only an upper bound. */
export async function until(condition: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** How long one socket-level case may take to end before it counts as a hang. */
export const CASE_TIMEOUT = 5_000;

/** Rejects with `label` if `promise` takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, label: string, ms = CASE_TIMEOUT): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${label}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
