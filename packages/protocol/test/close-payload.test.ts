import { describe, expect, test } from 'vitest';
import { InvalidUtf8Error, ProtocolError } from '@proj/protocol';
import {
  parseClosePayload,
  serializeClosePayload,
  truncateCloseReason,
} from '../src/close-payload.js';
import { closeBody, expectWsError, hex, thrown, utf8 } from './helpers.js';

/** Codes RFC 6455 §7.4.2 keeps off the wire (reserved, unassigned, out of range), edges included. */
const UNSENDABLE = [0, 999, 1004, 1005, 1006, 1015, 1016, 1999, 2000, 2999, 5000, 65535];

describe('parseClosePayload', () => {
  test('an empty body means "no status" (1005)', () => {
    expect(parseClosePayload(new Uint8Array(0))).toEqual({ code: 1005, reason: '' });
  });

  test('decodes the code and UTF-8 reason', () => {
    expect(parseClosePayload(hex('03e8'))).toEqual({ code: 1000, reason: '' });
    expect(parseClosePayload(closeBody(4000, 'héllo'))).toEqual({ code: 4000, reason: 'héllo' });
  });

  test('a 1-byte body is a protocol error (1002)', () => {
    const error = thrown(() => parseClosePayload(hex('03')));
    expectWsError(error, ProtocolError, 'WS_ERR_INVALID_CLOSE_PAYLOAD', 1002);
  });

  test.each(UNSENDABLE)('code %i is a protocol error (1002)', (code) => {
    const error = thrown(() => parseClosePayload(closeBody(code)));
    expectWsError(error, ProtocolError, 'WS_ERR_INVALID_CLOSE_CODE', 1002);
  });

  test('a reason that is not UTF-8 fails with 1007', () => {
    const error = thrown(() => parseClosePayload(hex('03e8 ce ba e1 bd b9 ed a0 80')));
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('a reason truncated mid code point fails with 1007', () => {
    const error = thrown(() => parseClosePayload(hex('03e8 e2 82')));
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });
});

describe('serializeClosePayload', () => {
  test('no code gives an empty body', () => {
    expect(serializeClosePayload()).toHaveLength(0);
  });

  test('encodes the code big-endian, then the reason', () => {
    expect(serializeClosePayload(1000)).toEqual(hex('03e8'));
    expect(serializeClosePayload(4999, 'bye')).toEqual(hex('1387 627965'));
  });

  test('allows a 123-byte reason', () => {
    expect(serializeClosePayload(1000, 'a'.repeat(123))).toHaveLength(125);
    expect(serializeClosePayload(1000, 'é'.repeat(61) + 'a')).toHaveLength(125);
  });

  test('a reason over 123 UTF-8 bytes is a RangeError', () => {
    expect(() => serializeClosePayload(1000, 'a'.repeat(124))).toThrow(RangeError);
    expect(() => serializeClosePayload(1000, 'é'.repeat(62))).toThrow(RangeError);
  });

  test.each([...UNSENDABLE, 1000.5])('code %s is a RangeError', (code) => {
    expect(() => serializeClosePayload(code)).toThrow(RangeError);
  });

  test('a reason without a code is a RangeError', () => {
    expect(() => serializeClosePayload(undefined, 'why')).toThrow(RangeError);
  });

  test('round-trips through parseClosePayload', () => {
    expect(parseClosePayload(serializeClosePayload(3001, 'κόσμε'))).toEqual({
      code: 3001,
      reason: 'κόσμε',
    });
  });
});

describe('truncateCloseReason', () => {
  test('keeps a reason that fits', () => {
    const reason = 'a'.repeat(123);
    expect(truncateCloseReason(reason)).toBe(reason);
  });

  test('cuts to 123 bytes', () => {
    expect(truncateCloseReason('a'.repeat(200))).toBe('a'.repeat(123));
  });

  test('cuts on a code point boundary', () => {
    // 40 four-byte emoji = 160 bytes; 30 fit in 120 bytes, the 31st would make 124.
    const out = truncateCloseReason('😀'.repeat(40));
    expect(out).toBe('😀'.repeat(30));
    expect(utf8(out).length).toBe(120);
    const mixed = truncateCloseReason('a'.repeat(122) + 'é');
    expect(mixed).toBe('a'.repeat(122));
  });
});
