/**
 * Where each kind of line goes: what a script reads (received messages) to
 * stdout, everything a person reads to stderr.
 * @packageDocumentation
 */
import type { Writable } from 'node:stream';

/** The program's name, before every error message. */
export const PROGRAM = 'proj-ws';

/** The three kinds of line the commands print. */
export class Output {
  readonly #stdout: Writable;
  readonly #stderr: Writable;
  readonly #quiet: boolean;

  constructor(stdout: Writable, stderr: Writable, quiet: boolean) {
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.#quiet = quiet;
  }

  /** A received message: stdout, always. */
  data(line: string): void {
    this.#stdout.write(`${line}\n`);
  }

  /** Progress (connected, closed): stderr, unless `--quiet`. */
  status(line: string): void {
    if (!this.#quiet) this.#stderr.write(`${line}\n`);
  }

  /** A line scripts rely on even with `--quiet` (the port `listen` chose): stderr. */
  notice(line: string): void {
    this.#stderr.write(`${line}\n`);
  }

  /** What went wrong: stderr, always, after the program's name. */
  error(message: string): void {
    this.#stderr.write(`${PROGRAM}: ${message}\n`);
  }
}
