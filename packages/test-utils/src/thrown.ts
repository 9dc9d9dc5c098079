/** What code under test throws, caught for assertions. */
import { expect } from 'vitest';

/** Runs `fn` and returns what it throws; fails the test if it does not throw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Asserts that `fn` throws a `DOMException` named `name` (WebIDL's exception for API misuse). */
export function expectDomException(fn: () => unknown, name: string): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(DOMException);
  expect((error as DOMException).name).toBe(name);
}
