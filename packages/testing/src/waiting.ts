/**
 * Waiting for something to become true, the one way every helper of the kit
 * waits: re-check on each change, never poll, never sleep. A wait ends with
 * the check's value, with what the check throws, or, at the timeout, with the
 * error that says what was expected and what happened instead.
 */

/** Listeners told that something changed (a message, a close, a connection). */
export class ChangeSignal {
  readonly #listeners = new Set<() => void>();

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener; each re-checks what it waits for. */
  notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** What a wait found: a box, so that a found `undefined` is still found. */
export type Found<T> = { readonly value: T } | undefined;

/** One wait: what to watch, what to check, and what to say at the timeout. */
export interface Wait<T> {
  /** Re-check after any of these changes. */
  readonly signals: readonly ChangeSignal[];
  /** The value once there, `undefined` while not; throws to end the wait with an error. */
  check(): Found<T>;
  /** Milliseconds; `Infinity` waits as long as it takes. */
  readonly timeout: number;
  /** The error at the timeout, made then, so it lists what had arrived by then. */
  timedOut(): Error;
}

/** Longest delay `setTimeout` takes (2^31 - 1 ms, about 24.8 days); longer means never. */
const MAX_TIMER = 2_147_483_647;

/** Resolves with the first value `check` finds, checking now and after each change. */
export function waitUntil<T>(wait: Wait<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const unsubscribers: Array<() => void> = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      for (const unsubscribe of unsubscribers) unsubscribe();
    };
    const attempt = (): boolean => {
      let found: Found<T>;
      try {
        found = wait.check();
      } catch (error) {
        finish();
        reject(error);
        return true;
      }
      if (found === undefined) return false;
      finish();
      resolve(found.value);
      return true;
    };
    if (attempt()) return;
    for (const signal of wait.signals) unsubscribers.push(signal.subscribe(attempt));
    if (wait.timeout <= MAX_TIMER) {
      timer = setTimeout(() => {
        finish();
        reject(wait.timedOut());
      }, wait.timeout);
    }
  });
}

/**
 * Checks a `timeout` option: a number of milliseconds above 0, or
 * `Infinity`; `undefined` takes `fallback`.
 * @throws {RangeError} naming the option and the value.
 */
export function timeoutOption(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new RangeError(
      `The "timeout" option must be a number of milliseconds above 0, or Infinity, got ${String(value)}`,
    );
  }
  return value;
}
