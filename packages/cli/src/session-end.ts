/**
 * How a `connect` session ended, as an exit code and the line that says why.
 * One table, so that the README's exit codes have one place to agree with.
 * @packageDocumentation
 */
import { ExitCode, signalExitCode } from './exit-code.js';
import { describeConnectFailure, describeProtocolFailure } from './failure.js';
import { formatClose } from './format.js';

/** What happened, as the WebSocket's events told it. */
export interface SessionEnd {
  readonly url: URL;
  /** Whether `open` fired. */
  readonly opened: boolean;
  /** The `error` event's cause, if the connection failed. */
  readonly failure: Error | undefined;
  /** The signal that stopped the session, if one did. */
  readonly interrupted: NodeJS.Signals | undefined;
  readonly code: number;
  readonly reason: string;
}

/** The exit code, and a status line (hidden by `--quiet`) or an error line (always shown). */
export interface Verdict {
  readonly exitCode: number;
  readonly status?: string;
  readonly error?: string;
}

/**
 * Codes that end a session normally: 1000 (normal), 1001 (going away, e.g.
 * a server shutting down) and 1005 (a close frame without a code).
 */
const NORMAL_CLOSE = new Set([1000, 1001, 1005]);

/** 1006: the connection ended without a close frame (RFC 6455 §7.1.5). */
const ABNORMAL = 1006;

/** Decides the exit code of a `connect` session. */
export function judgeSessionEnd(end: SessionEnd): Verdict {
  const close = formatClose(end.code, end.reason);
  if (end.interrupted !== undefined) {
    return {
      exitCode: signalExitCode(end.interrupted),
      status: end.opened
        ? `closed ${close} (${end.interrupted})`
        : `${end.interrupted} before the connection was established`,
    };
  }
  if (!end.opened) {
    return { exitCode: ExitCode.Failure, error: describeConnectFailure(end.failure, end.url) };
  }
  if (end.failure !== undefined) {
    return { exitCode: ExitCode.AbnormalClose, error: describeProtocolFailure(end.failure) };
  }
  if (NORMAL_CLOSE.has(end.code)) return { exitCode: ExitCode.Ok, status: `closed ${close}` };
  if (end.code === ABNORMAL) {
    return {
      exitCode: ExitCode.AbnormalClose,
      error: 'connection lost: closed without a close frame (1006)',
    };
  }
  // The close code is the one in the server's close frame (RFC 6455 §7.1.5),
  // whether it started the closing handshake or answered ours.
  return {
    exitCode: ExitCode.AbnormalClose,
    error: `the server closed the connection with code ${close}`,
  };
}
