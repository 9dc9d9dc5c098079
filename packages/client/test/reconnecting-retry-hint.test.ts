/**
 * The server's signals to a reconnecting client (src/retry-hint.ts): the
 * final close codes, `retry-after=<seconds>` in a 1012/1013 close reason (our
 * convention), and `Retry-After` on a 503 or 429 (RFC 9110 §10.2.3).
 */
import { describe, expect, test } from 'vitest';
import {
  FINAL_CLOSE_CODES,
  MAX_DELAY,
  closeRetryAfter,
  httpRetryAfter,
  parseRetryAfter,
} from '../src/retry-hint.js';

test('the final close codes: 1002, 1003, 1007, 1008, 1009, 1010', () => {
  expect([...FINAL_CLOSE_CODES].sort()).toEqual([1002, 1003, 1007, 1008, 1009, 1010]);
});

describe('closeRetryAfter: retry-after=<seconds> in the reason of a 1012 or 1013', () => {
  test.each([
    [1012, 'retry-after=30', 30_000],
    [1013, 'retry-after=0', 0],
    [1012, 'deploying; retry-after=5', 5000],
    [1012, 'retry-after=5, please', 5000],
    [1013, 'overloaded RETRY-AFTER=2', 2000],
  ])('%i %j: %i ms', (code, reason, expected) => {
    expect(closeRetryAfter(code, reason)).toBe(expected);
  });

  test.each([
    [1012, ''],
    [1012, 'restarting'],
    [1012, 'retry-after='],
    [1012, 'retry-after=-1'],
    [1012, 'retry-after=1.5'],
    [1012, 'retry-after=5s'],
    [1012, 'noretry-after=5'],
    [1013, 'retry-after = 5'],
  ])('%i %j: no hint', (code, reason) => {
    expect(closeRetryAfter(code, reason)).toBeUndefined();
  });

  test.each([1000, 1001, 1006, 1011, 4000])('another code (%i) carries no hint', (code) => {
    expect(closeRetryAfter(code, 'retry-after=5')).toBeUndefined();
  });

  test('a hint longer than a timer can wait is cut to MAX_DELAY', () => {
    expect(closeRetryAfter(1013, 'retry-after=9999999999')).toBe(MAX_DELAY);
  });
});

describe('parseRetryAfter (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('Tue, 15 Nov 1994 08:12:31 GMT');

  test('delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', now)).toBe(3000);
  });

  test('an HTTP-date (IMF-fixdate): the time until then, or 0 when past', () => {
    expect(parseRetryAfter('Tue, 15 Nov 1994 08:13:01 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 14 Nov 1994 08:12:31 GMT', now)).toBe(0);
  });

  test.each([
    '',
    'soon',
    '-5',
    '1.5',
    '1e3',
    '2024-01-01T00:00:00Z',
    'Tuesday, 15-Nov-94 08:13:01 GMT',
  ])('anything else (%j) is ignored', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('httpRetryAfter: only on a 503 or a 429', () => {
  test.each([503, 429])('%i with Retry-After', (status) => {
    expect(httpRetryAfter(status, { 'retry-after': '7' }, 0)).toBe(7000);
  });

  test('a 503 without it, or another status with it: no hint', () => {
    expect(httpRetryAfter(503, {}, 0)).toBeUndefined();
    expect(httpRetryAfter(500, { 'retry-after': '7' }, 0)).toBeUndefined();
    expect(httpRetryAfter(301, { 'retry-after': '7' }, 0)).toBeUndefined();
  });
});
