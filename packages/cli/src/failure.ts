/**
 * Failures in words: what a person needs to act on (the HTTP status, the
 * host that could not be found, the port in use), never a stack trace.
 * @packageDocumentation
 */
import { STATUS_CODES } from 'node:http';
import { HandshakeRejectedError } from '@proj/client';
import { formatHost } from './format.js';

/** Why a connection could not be established (exit code 1). */
export function describeConnectFailure(error: Error | undefined, url: URL): string {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const where = `${formatHost(hostname)}:${url.port || (url.protocol === 'wss:' ? 443 : 80)}`;
  if (error === undefined) return `could not connect to ${where}`;
  if (error instanceof HandshakeRejectedError) {
    // 0: the server hung up, or said something that is not HTTP.
    if (error.status === 0) return `handshake failed: ${error.message}`;
    if (error.status !== 101) {
      const text = STATUS_CODES[error.status];
      return `handshake refused: HTTP ${error.status}${text === undefined ? '' : ` ${text}`}`;
    }
    // A 101 that breaks the handshake rules (accept key, subprotocol, extensions).
    return `invalid handshake response: ${error.message}`;
  }
  switch (systemCode(error)) {
    case 'ECONNREFUSED':
      return `connection refused by ${where}`;
    case 'ENOTFOUND':
      return `host not found: ${hostname}`;
    case 'EAI_AGAIN':
      return `could not resolve host ${hostname} (DNS lookup failed)`;
    case 'EHOSTUNREACH':
      return `host unreachable: ${hostname}`;
    case 'ENETUNREACH':
      return `network unreachable: cannot reach ${hostname}`;
    case 'ETIMEDOUT':
      return `connection to ${where} timed out`;
    case 'ECONNRESET':
      return `connection reset by ${where} during the handshake`;
    default:
      return error.message;
  }
}

/** Why `listen` could not listen (exit code 1). */
export function describeListenFailure(error: Error, host: string, port: number): string {
  const where = `${formatHost(host)}:${port}`;
  switch (systemCode(error)) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the port is already in use`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: no interface of this machine has the address ${host}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${where}: host not found: ${host}`;
    default:
      return `cannot listen on ${where}: ${error.message}`;
  }
}

/** Why a connection failed once open (exit code 3): the protocol error and what was sent. */
export function describeProtocolFailure(error: Error): string {
  const { code, closeCode } = error as { code?: unknown; closeCode?: unknown };
  const details: string[] = [];
  if (typeof code === 'string') details.push(code);
  // 1006 names a connection dropped without a close frame: nothing was sent.
  if (typeof closeCode === 'number' && closeCode !== 1006) details.push(`closed with ${closeCode}`);
  const suffix = details.length === 0 ? '' : ` (${details.join(', ')})`;
  return `connection failed: ${error.message}${suffix}`;
}

/** A Node system error's code (`ECONNREFUSED`...), if it is one. */
function systemCode(error: Error): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : undefined;
}
