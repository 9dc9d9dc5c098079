/** The exit code of a `connect` session, for each way it can end. */
import { describe, expect, test } from 'vitest';
import { HandshakeRejectedError } from '@proj/client';
import { type SessionEnd, judgeSessionEnd } from '../src/session-end.js';

const base: SessionEnd = {
  url: new URL('ws://example.com:8080/chat'),
  opened: true,
  failure: undefined,
  interrupted: undefined,
  code: 1000,
  reason: '',
};

/** A Node system error, as `net` makes them. */
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code });
}

describe('after open', () => {
  test.each([1000, 1001, 1005])('%d is a normal end: 0', (code) => {
    expect(judgeSessionEnd({ ...base, code, reason: 'r' })).toEqual({
      exitCode: 0,
      status: `closed ${code} "r"`,
    });
  });

  test('another code from the server: 3, with code and reason', () => {
    expect(judgeSessionEnd({ ...base, code: 4001, reason: 'kicked' })).toEqual({
      exitCode: 3,
      error: 'the server closed the connection with code 4001 "kicked"',
    });
  });

  test('1006 without an error: the connection was lost, 3', () => {
    expect(judgeSessionEnd({ ...base, code: 1006 }).exitCode).toBe(3);
  });

  test('a protocol error: 3, naming it', () => {
    const failure = Object.assign(new Error('Invalid UTF-8'), {
      code: 'WS_ERR_INVALID_UTF8',
      closeCode: 1007,
    });
    expect(judgeSessionEnd({ ...base, failure, code: 1006 })).toEqual({
      exitCode: 3,
      error: 'connection failed: Invalid UTF-8 (WS_ERR_INVALID_UTF8, closed with 1007)',
    });
  });
});

describe('before open: 1, saying why', () => {
  const failed = (failure: Error | undefined): string | undefined =>
    judgeSessionEnd({ ...base, opened: false, failure, code: 1006 }).error;

  test.each([
    ['ECONNREFUSED', 'connection refused by example.com:8080'],
    ['ENOTFOUND', 'host not found: example.com'],
    ['EAI_AGAIN', 'could not resolve host example.com (DNS lookup failed)'],
    ['EHOSTUNREACH', 'host unreachable: example.com'],
    ['ENETUNREACH', 'network unreachable: cannot reach example.com'],
    ['ETIMEDOUT', 'connection to example.com:8080 timed out'],
    ['ECONNRESET', 'connection reset by example.com:8080 during the handshake'],
  ])('%s', (code, message) => {
    expect(failed(systemError(code))).toBe(message);
  });

  test('a refused handshake: the status and its text', () => {
    expect(failed(new HandshakeRejectedError('WS_ERR_HANDSHAKE_STATUS', 401, 'x'))).toBe(
      'handshake refused: HTTP 401 Unauthorized',
    );
    expect(failed(new HandshakeRejectedError('WS_ERR_HANDSHAKE_STATUS', 599, 'x'))).toBe(
      'handshake refused: HTTP 599',
    );
  });

  test('the default ports, and IPv6 hosts in brackets', () => {
    const refused = systemError('ECONNREFUSED');
    const end = { ...base, opened: false, failure: refused, code: 1006 };
    expect(judgeSessionEnd({ ...end, url: new URL('wss://h/') }).error).toBe(
      'connection refused by h:443',
    );
    expect(judgeSessionEnd({ ...end, url: new URL('ws://[::1]/') }).error).toBe(
      'connection refused by [::1]:80',
    );
  });

  test('anything else: its message', () => {
    expect(failed(new Error('Opening handshake timed out after 30000 ms'))).toBe(
      'Opening handshake timed out after 30000 ms',
    );
  });
});

describe('interrupted', () => {
  test('by SIGINT once open: 130, after the close', () => {
    expect(judgeSessionEnd({ ...base, interrupted: 'SIGINT' })).toEqual({
      exitCode: 130,
      status: 'closed 1000 (SIGINT)',
    });
  });

  test('by SIGTERM while connecting: 143, not a connection failure', () => {
    expect(judgeSessionEnd({ ...base, opened: false, interrupted: 'SIGTERM', code: 1006 })).toEqual(
      { exitCode: 143, status: 'SIGTERM before the connection was established' },
    );
  });
});
