/**
 * `run()`: the whole CLI as a function of its arguments and its streams.
 * The bin (cli.ts) only wires it to the process.
 * @packageDocumentation
 */
import process from 'node:process';
import { type Invocation, UsageError, parseInvocation } from './args.js';
import { connect } from './connect.js';
import { ExitCode } from './exit-code.js';
import type { CliIO } from './io.js';
import { listen } from './listen.js';
import { PROGRAM } from './output.js';
import { helpText, usageHint } from './usage.js';
import { version } from './version.js';

/**
 * Runs `proj-ws` with `argv` (the arguments after the program's name) and
 * resolves with the exit code; never rejects for an expected failure (a
 * refused connection, a usage error), which it reports on `io.stderr`.
 * @param argv - e.g. `['connect', 'ws://127.0.0.1:8080', '-x', 'hello']`.
 * @param io - the streams and stop signal; the process's streams by default.
 * @returns 0, 1, 2, 3, or 128 + a signal number: see {@link ExitCode}.
 * @example
 * process.exitCode = await run(['connect', 'wss://example.com', '-x', 'ping']);
 */
export async function run(
  argv: readonly string[],
  io: CliIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    return await dispatch(parseInvocation(argv), io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`${PROGRAM}: ${error.message}\n${usageHint(error.command)}`);
    return ExitCode.Usage;
  }
}

async function dispatch(invocation: Invocation, io: CliIO): Promise<number> {
  switch (invocation.command) {
    case 'help':
      io.stdout.write(helpText(invocation.topic));
      return ExitCode.Ok;
    case 'version':
      io.stdout.write(`${version}\n`);
      return ExitCode.Ok;
    case 'connect':
      return connect(invocation, io);
    case 'listen':
      return listen(invocation, io);
  }
}
