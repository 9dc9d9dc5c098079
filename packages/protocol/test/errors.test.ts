import { describe, expect, test } from 'vitest';
import {
  AbnormalClosureError,
  BacklogExceededError,
  ExtensionError,
  HandshakeError,
  HandshakeRejectedError,
  InternalError,
  InvalidCompressedDataError,
  InvalidStateError,
  InvalidUtf8Error,
  PayloadTooBigError,
  PolicyError,
  ProtocolError,
  WebSocketError,
  toWebSocketError,
} from '@proj/protocol';
import { expectWsError } from './helpers.js';

describe('error classes', () => {
  test('ProtocolError carries its code and 1002', () => {
    const error = new ProtocolError('WS_ERR_INVALID_OPCODE', 'Invalid opcode 3');
    expectWsError(error, ProtocolError, 'WS_ERR_INVALID_OPCODE', 1002);
    expect(error.message).toBe('Invalid opcode 3');
    expect(error.name).toBe('ProtocolError');
    expect(error).toBeInstanceOf(Error);
  });

  test('InvalidUtf8Error is 1007 with a default message', () => {
    const error = new InvalidUtf8Error();
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
    expect(error.message).toBe('Invalid UTF-8 in text message');
    expect(new InvalidUtf8Error('bad reason').message).toBe('bad reason');
  });

  test('PolicyError is 1008', () => {
    expectWsError(
      new PolicyError('WS_ERR_TOO_MANY_FRAGMENTS', 'x'),
      PolicyError,
      'WS_ERR_TOO_MANY_FRAGMENTS',
      1008,
    );
  });

  test('PayloadTooBigError is 1009', () => {
    expectWsError(
      new PayloadTooBigError('x'),
      PayloadTooBigError,
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      1009,
    );
  });

  test('InvalidCompressedDataError is 1007 and keeps the cause', () => {
    const cause = new Error('invalid stored block lengths');
    const error = new InvalidCompressedDataError(cause.message, { cause });
    expectWsError(error, InvalidCompressedDataError, 'WS_ERR_INVALID_COMPRESSED_DATA', 1007);
    expect(error.cause).toBe(cause);
  });

  test('HandshakeError (a server refusal) is 1006 and carries the status and headers to send', () => {
    const error = new HandshakeError('WS_ERR_HANDSHAKE_VERSION', 426, 'x', {
      'sec-websocket-version': '13',
    });
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_VERSION', 1006, 426);
    expect(error.headers).toEqual({ 'sec-websocket-version': '13' });
    expect(new HandshakeError('WS_ERR_HANDSHAKE_HOST', 400, 'x').headers).toEqual({});
    expect(error.name).toBe('HandshakeError');
    expect(error).not.toBeInstanceOf(HandshakeRejectedError);
  });

  test('HandshakeRejectedError (a client failure) is a HandshakeError with what was received', () => {
    const error = new HandshakeRejectedError('WS_ERR_HANDSHAKE_STATUS', 403, 'x', { a: 'b' });
    expectWsError(error, HandshakeRejectedError, 'WS_ERR_HANDSHAKE_STATUS', 1006, 403);
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.headers).toEqual({ a: 'b' });
    expect(error.name).toBe('HandshakeRejectedError');
  });

  test('ExtensionError is a client handshake failure about extensions, 101 by default', () => {
    const error = new ExtensionError('x');
    expectWsError(error, ExtensionError, 'WS_ERR_HANDSHAKE_EXTENSIONS', 1006, 101);
    expect(error).toBeInstanceOf(HandshakeRejectedError);
    expect(new ExtensionError('x', 101, { a: 'b' }).headers).toEqual({ a: 'b' });
  });

  test('AbnormalClosureError: the transport closed before the answer, status 0', () => {
    const error = new AbnormalClosureError();
    expectWsError(error, AbnormalClosureError, 'WS_ERR_HANDSHAKE_EOF', 1006, 0);
    expect(error).toBeInstanceOf(HandshakeRejectedError);
    expect(error.message).toMatch(/before the opening handshake completed/);
    expect(new AbnormalClosureError('gone').message).toBe('gone');
  });

  test('InternalError is 1011 with a generic message and the original as cause', () => {
    const cause = new Error('database password is hunter2');
    const error = new InternalError(cause);
    expectWsError(error, InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(error.message).toBe('Internal error');
    expect(error.cause).toBe(cause);
  });

  test('names are the subclass names, also in stack traces', () => {
    expect(String(new PolicyError('WS_ERR_TOO_MANY_FRAGMENTS', 'm'))).toBe('PolicyError: m');
  });
});

describe('errors of a call carry no close code', () => {
  test('InvalidStateError', () => {
    const error = new InvalidStateError('Cannot send: connection is CLOSED');
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(WebSocketError);
    expect(error.code).toBe('WS_ERR_INVALID_STATE');
    expect(error.name).toBe('InvalidStateError');
  });

  test('BacklogExceededError names what was queued and the limit', () => {
    const error = new BacklogExceededError(2048, 1024);
    expect(error).not.toBeInstanceOf(WebSocketError);
    expect(error.code).toBe('WS_ERR_BACKLOG_EXCEEDED');
    expect(error.name).toBe('BacklogExceededError');
    expect(error).toMatchObject({ bufferedAmount: 2048, maxBacklog: 1024 });
    expect(error.message).toBe('Send refused: 2048 bytes queued, the limit is 1024');
  });
});

describe('toWebSocketError', () => {
  test('passes our errors through unchanged', () => {
    const error = new ProtocolError('WS_ERR_EXPECTED_FIN', 'x');
    expect(toWebSocketError(error)).toBe(error);
  });

  test.each([new TypeError('oops'), 'a string', undefined, { code: 'WS_ERR_INVALID_UTF8' }])(
    'maps anything else (%s) to an InternalError (1011) that keeps the cause',
    (thrown) => {
      const error = toWebSocketError(thrown);
      expectWsError(error, InternalError, 'WS_ERR_INTERNAL', 1011);
      expect(error.cause).toBe(thrown);
      expect(error).toBeInstanceOf(WebSocketError);
    },
  );
});
