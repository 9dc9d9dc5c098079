import { describe, expect, test } from 'vitest';
import * as errors from '../src/errors.js';
import { expectWsError } from './helpers.js';

describe('error classes', () => {
  test('ProtocolError carries its code and 1002', () => {
    const error = new errors.ProtocolError('WS_ERR_INVALID_OPCODE', 'Invalid opcode 3');
    expectWsError(error, errors.ProtocolError, 'WS_ERR_INVALID_OPCODE', 1002);
    expect(error.message).toBe('Invalid opcode 3');
    expect(error.name).toBe('ProtocolError');
    expect(error).toBeInstanceOf(Error);
  });

  test('InvalidUtf8Error is 1007 with a default message', () => {
    const error = new errors.InvalidUtf8Error();
    expectWsError(error, errors.InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
    expect(error.message).toBe('Invalid UTF-8 in text message');
    expect(new errors.InvalidUtf8Error('bad reason').message).toBe('bad reason');
  });

  test('PolicyError is 1008', () => {
    expectWsError(
      new errors.PolicyError('WS_ERR_TOO_MANY_FRAGMENTS', 'x'),
      errors.PolicyError,
      'WS_ERR_TOO_MANY_FRAGMENTS',
      1008,
    );
  });

  test('PayloadTooBigError is 1009', () => {
    expectWsError(
      new errors.PayloadTooBigError('x'),
      errors.PayloadTooBigError,
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      1009,
    );
  });

  test('InvalidCompressedDataError is 1007 and keeps the cause', () => {
    const cause = new Error('invalid stored block lengths');
    const error = new errors.InvalidCompressedDataError(cause.message, { cause });
    expectWsError(error, errors.InvalidCompressedDataError, 'WS_ERR_INVALID_COMPRESSED_DATA', 1007);
    expect(error.cause).toBe(cause);
  });

  test('HandshakeError (a server refusal) is 1006 and carries the status and headers to send', () => {
    const error = new errors.HandshakeError('WS_ERR_HANDSHAKE_VERSION', 426, 'x', {
      'sec-websocket-version': '13',
    });
    expectWsError(error, errors.HandshakeError, 'WS_ERR_HANDSHAKE_VERSION', 1006, 426);
    expect(error.headers).toEqual({ 'sec-websocket-version': '13' });
    expect(new errors.HandshakeError('WS_ERR_HANDSHAKE_HOST', 400, 'x').headers).toEqual({});
    expect(error.name).toBe('HandshakeError');
    expect(error).not.toBeInstanceOf(errors.HandshakeRejectedError);
  });

  test('HandshakeRejectedError (a client failure) is a HandshakeError with what was received', () => {
    const error = new errors.HandshakeRejectedError('WS_ERR_HANDSHAKE_STATUS', 403, 'x', {
      a: 'b',
    });
    expectWsError(error, errors.HandshakeRejectedError, 'WS_ERR_HANDSHAKE_STATUS', 1006, 403);
    expect(error).toBeInstanceOf(errors.HandshakeError);
    expect(error.headers).toEqual({ a: 'b' });
    expect(error.name).toBe('HandshakeRejectedError');
  });

  test('ExtensionError is a client handshake failure about extensions, 101 by default', () => {
    const error = new errors.ExtensionError('x');
    expectWsError(error, errors.ExtensionError, 'WS_ERR_HANDSHAKE_EXTENSIONS', 1006, 101);
    expect(error).toBeInstanceOf(errors.HandshakeRejectedError);
    expect(new errors.ExtensionError('x', 101, { a: 'b' }).headers).toEqual({ a: 'b' });
  });

  test('AbnormalClosureError: the transport closed before the answer, status 0', () => {
    const error = new errors.AbnormalClosureError();
    expectWsError(error, errors.AbnormalClosureError, 'WS_ERR_HANDSHAKE_EOF', 1006, 0);
    expect(error).toBeInstanceOf(errors.HandshakeRejectedError);
    expect(error.message).toMatch(/before the opening handshake completed/);
    expect(new errors.AbnormalClosureError('gone').message).toBe('gone');
  });

  test('InternalError is 1011 with a generic message and the original as cause', () => {
    const cause = new Error('database password is hunter2');
    const error = new errors.InternalError(cause);
    expectWsError(error, errors.InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(error.message).toBe('Internal error');
    expect(error.cause).toBe(cause);
  });

  test('names are the subclass names, also in stack traces', () => {
    expect(String(new errors.PolicyError('WS_ERR_TOO_MANY_FRAGMENTS', 'm'))).toBe('PolicyError: m');
  });
});

describe('errors of a call carry no close code', () => {
  test('InvalidStateError', () => {
    const error = new errors.InvalidStateError('Cannot send: connection is CLOSED');
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(errors.WebSocketError);
    expect(error.code).toBe('WS_ERR_INVALID_STATE');
    expect(error.name).toBe('InvalidStateError');
  });

  test('BacklogExceededError names what was queued and the limit', () => {
    const error = new errors.BacklogExceededError(2048, 1024);
    expect(error).not.toBeInstanceOf(errors.WebSocketError);
    expect(error.code).toBe('WS_ERR_BACKLOG_EXCEEDED');
    expect(error.name).toBe('BacklogExceededError');
    expect(error).toMatchObject({ bufferedAmount: 2048, maxBacklog: 1024 });
    expect(error.message).toBe('Send refused: 2048 bytes queued, the limit is 1024');
  });
});

describe('toWebSocketError', () => {
  test('passes our errors through unchanged', () => {
    const error = new errors.ProtocolError('WS_ERR_EXPECTED_FIN', 'x');
    expect(errors.toWebSocketError(error)).toBe(error);
  });

  test.each([new TypeError('oops'), 'a string', undefined, { code: 'WS_ERR_INVALID_UTF8' }])(
    'maps anything else (%s) to an InternalError (1011) that keeps the cause',
    (thrown) => {
      const error = errors.toWebSocketError(thrown);
      expectWsError(error, errors.InternalError, 'WS_ERR_INTERNAL', 1011);
      expect(error.cause).toBe(thrown);
      expect(error).toBeInstanceOf(errors.WebSocketError);
    },
  );
});
