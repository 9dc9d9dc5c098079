/**
 * Polling for conditions that need an `await` to read (a child process's
 * stats over IPC, HAProxy's admin socket): `@proj/test-utils`' `until` takes
 * only synchronous conditions.
 */

/**
 * Resolves once `condition` holds, checking it every `interval` ms; rejects
 * after `timeout` ms with `label` (or what the function `label` returns
 * then, to describe what was left undone) and the last error `condition`
 * threw, if any. The timeout is an upper bound for a noisy machine, not a
 * measurement.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  label: string | (() => string),
  { timeout = 30_000, interval = 50 }: { timeout?: number; interval?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      const what = typeof label === 'string' ? label : label();
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
