// The control side of the client generators (gen/clients.mjs, gen/deflate-clients.mjs): one
// command per line on stdin, one answer per line on stdout, and connections opened a bounded
// number at a time.
import { createInterface } from 'node:readline';

export const answer = (line) => process.stdout.write(`${line}\n`);

/**
 * Calls `connectOne()` (resolving true once its connection is open, false if it failed) from
 * `parallel` lanes until `openCount()` reaches `target`, or `target` attempts have failed; failures
 * are retried. Returns how many failed.
 */
export async function openUpTo(target, parallel, openCount, connectOne) {
  let connecting = 0;
  let failed = 0;
  const lane = async () => {
    // Claim a slot before connecting so that the lanes do not overshoot.
    while (openCount() + connecting < target && failed < target) {
      connecting++;
      const opened = await connectOne();
      connecting--;
      if (!opened) failed++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return failed;
}

/** Runs `handlers[command](argument)` for every command line on stdin; exits when stdin ends. */
export function serveCommands(handlers) {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, argument] = line.trim().split(/\s+/);
    handlers[command]?.(argument);
  });
  process.stdin.on('end', () => process.exit(0));
}
