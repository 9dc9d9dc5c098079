import { describe, expect, test } from 'vitest';
import { CloseCode, isValidCloseCode } from '../src/close-code.js';

describe('isValidCloseCode', () => {
  test.each([
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
  ])('allows %i on the wire', (code) => {
    expect(isValidCloseCode(code)).toBe(true);
  });

  test.each([
    0,
    1,
    999,
    1004,
    1005,
    1006,
    1015,
    1016,
    1100,
    2000,
    2999,
    5000,
    65535,
    -1000,
    1000.5,
    NaN,
    Infinity,
  ])('refuses %s (RFC 6455 §7.4.2)', (code) => {
    expect(isValidCloseCode(code)).toBe(false);
  });

  test('the reserved named codes may never be sent', () => {
    expect(isValidCloseCode(CloseCode.NoStatus)).toBe(false);
    expect(isValidCloseCode(CloseCode.Abnormal)).toBe(false);
    expect(isValidCloseCode(CloseCode.TlsHandshake)).toBe(false);
  });

  test('names the RFC 6455 §7.4.1 codes', () => {
    expect(CloseCode).toMatchObject({
      Normal: 1000,
      GoingAway: 1001,
      ProtocolError: 1002,
      UnsupportedData: 1003,
      NoStatus: 1005,
      Abnormal: 1006,
      InvalidPayload: 1007,
      PolicyViolation: 1008,
      MessageTooBig: 1009,
      MandatoryExtension: 1010,
      InternalError: 1011,
    });
  });
});
