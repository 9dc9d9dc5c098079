import { describe, expect, test } from 'vitest';
import {
  AbnormalClosureError,
  ExtensionError,
  HandshakeError,
  InternalError,
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

  test('ExtensionError is 1010', () => {
    expectWsError(new ExtensionError('x'), ExtensionError, 'WS_ERR_EXTENSION_NEGOTIATION', 1010);
  });

  test('HandshakeError is 1006 and carries the HTTP status and headers', () => {
    const error = new HandshakeError('WS_ERR_HANDSHAKE_VERSION', 426, 'x', {
      'sec-websocket-version': '13',
    });
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_VERSION', 1006, 426);
    expect(error.headers).toEqual({ 'sec-websocket-version': '13' });
    expect(new HandshakeError('WS_ERR_HANDSHAKE_HOST', 400, 'x').headers).toEqual({});
    expect(error.name).toBe('HandshakeError');
  });

  test('AbnormalClosureError is 1006 with a default message', () => {
    const error = new AbnormalClosureError();
    expectWsError(error, AbnormalClosureError, 'WS_ERR_ABNORMAL_CLOSURE', 1006);
    expect(error.message).toMatch(/without a close frame/);
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
