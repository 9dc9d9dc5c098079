/**
 * One cleanup registry for every test file: peers, servers and sockets made
 * by a test register how to tear themselves down, and {@link useCleanup}
 * runs that after each test (last registered first), so vitest exits cleanly
 * and no test sees another's leftovers.
 */
import process from 'node:process';
import { afterAll, afterEach, expect } from 'vitest';

const cleanups: Array<() => unknown> = [];
const uncaught: unknown[] = [];
const recordUncaught = (error: unknown): void => void uncaught.push(error);
let hooked = false;
let watching = false;

/** Registers `fn` to run after the current test (last registered runs first). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** Runs every registered cleanup, last registered first; a failing one is skipped. */
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // A cleanup failing must not hide the test's own result.
    }
  }
}

/**
 * Call at the top of a test file (or of a helpers module): cleans up after
 * each test. With `failOnUncaught` it also fails the test if anything reached
 * `uncaughtException` / `unhandledRejection` meanwhile. Calling it again in
 * the same file adds nothing but the uncaught check, once.
 */
export function useCleanup({ failOnUncaught = true }: { failOnUncaught?: boolean } = {}): void {
  if (!hooked) {
    hooked = true;
    afterEach(async () => {
      await cleanup();
      if (watching) {
        const errors = uncaught.splice(0);
        expect(errors, 'no uncaught exception or unhandled rejection').toEqual([]);
      }
    });
  }
  if (failOnUncaught && !watching) {
    watching = true;
    watchUncaught();
  }
}

/** Records every `uncaughtException` / `unhandledRejection` until the file ends. */
function watchUncaught(): void {
  process.on('uncaughtException', recordUncaught);
  process.on('unhandledRejection', recordUncaught);
  afterAll(() => {
    process.off('uncaughtException', recordUncaught);
    process.off('unhandledRejection', recordUncaught);
  });
}
