/**
 * The exit codes `proj-ws` promises to scripts. The README and `--help` table
 * them; change all three together.
 * @packageDocumentation
 */
import { constants } from 'node:os';

/** What a `proj-ws` exit code means. */
export const ExitCode = {
  /** A normal end: closed with 1000, 1001 or no code, stdin ended, or `listen` stopped by a signal. */
  Ok: 0,
  /** Could not connect (refused, unreachable, handshake refused or invalid) or listen (port in use...). */
  Failure: 1,
  /** The command line is wrong: an unknown option, a bad URL, port or value. */
  Usage: 2,
  /** Connected, then closed with another code (sent by the peer, or lost: 1006). */
  AbnormalClose: 3,
} as const;

/** One of the {@link ExitCode} values; `run()` may also resolve with 128 + a signal number. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The shell's code for a process ended by `signal` (128 + its number):
 * 130 for SIGINT, 143 for SIGTERM. `connect` exits with it after closing, so
 * a script can tell an interrupted session from one that ended normally.
 */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}
