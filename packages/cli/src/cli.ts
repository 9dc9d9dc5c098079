#!/usr/bin/env node
/**
 * The `proj-ws` bin: {@link run} on the process's arguments, streams and
 * signals, then exit with its code.
 * @packageDocumentation
 */
import process from 'node:process';
import { signalExitCode } from './exit-code.js';
import { PROGRAM } from './output.js';
import { run } from './run.js';

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second signal means now: the graceful close is taking too long.
    if (stop.signal.aborted) process.exit(signalExitCode(signal));
    stop.abort(signal);
  });
}

// The reader of stdout went away (`proj-ws connect ... | head -1`): stop as
// the SIGPIPE a shell expects would, instead of crashing on EPIPE.
process.stdout.on('error', () => stop.abort('SIGPIPE'));

run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: stop.signal,
}).then(exit, (error: unknown) => {
  // Only a bug gets here (expected failures are reported by run): show all of it.
  process.stderr.write(`${PROGRAM}: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  exit(1);
});

/**
 * Exits once stdout and stderr have taken everything written to them: an
 * explicit exit, because stdin (paused or not) must not keep the process alive.
 */
function exit(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
