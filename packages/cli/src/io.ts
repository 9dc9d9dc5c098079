/**
 * What a command reads from, writes to and is stopped by: the process's
 * streams and signals in the bin, anything stream-shaped under `run()`.
 * @packageDocumentation
 */
import type { Readable, Writable } from 'node:stream';

/** The streams and the stop signal `run()` works with. */
export interface CliIO {
  /** Lines to send: `connect` without `--execute`, `listen --mode print`. */
  readonly stdin: Readable;
  /** Received messages, help, version. */
  readonly stdout: Writable;
  /** Status lines and errors. */
  readonly stderr: Writable;
  /**
   * Aborting it stops the command as the process signal named by its
   * `reason` (`'SIGINT'`, `'SIGTERM'`; any other reason counts as SIGINT):
   * `connect` closes with 1000 and resolves with 128 + the signal's number,
   * `listen` closes every connection with 1001 and resolves with 0. Without
   * it, `listen` runs until the process ends.
   */
  readonly signal?: AbortSignal | undefined;
}
