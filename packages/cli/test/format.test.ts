/** The line formats scripts parse (README, `--help`). */
import { describe, expect, test } from 'vitest';
import { formatClose, formatHost, formatMessage, formatSession } from '../src/format.js';

describe('formatMessage', () => {
  test('text as it is, after "< "', () => {
    expect(formatMessage('hello')).toBe('< hello');
    expect(formatMessage('')).toBe('< ');
    expect(formatMessage('hi', '#3')).toBe('< #3 hi');
  });

  test('binary as its length and lower-case hex', () => {
    expect(formatMessage(new Uint8Array([0, 15, 16, 255]))).toBe('< [binary 4 bytes] 000f10ff');
    expect(formatMessage(new Uint8Array(0))).toBe('< [binary 0 bytes]');
    expect(formatMessage(new Uint8Array([0xab]), '#1')).toBe('< #1 [binary 1 bytes] ab');
  });

  test('a view prints only the bytes it views', () => {
    const bytes = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    expect(formatMessage(bytes)).toBe('< [binary 2 bytes] 0203');
  });
});

test('formatClose quotes a reason, so that control characters show', () => {
  expect(formatClose(1000, '')).toBe('1000');
  expect(formatClose(4000, 'go "away"\n')).toBe('4000 "go \\"away\\"\\n"');
});

test('formatHost puts an IPv6 literal in brackets', () => {
  expect(formatHost('127.0.0.1')).toBe('127.0.0.1');
  expect(formatHost('::1')).toBe('[::1]');
  expect(formatHost('[::1]')).toBe('[::1]');
  expect(formatHost('example.com')).toBe('example.com');
});

test('formatSession names what the handshake agreed', () => {
  expect(formatSession('', '')).toBe('');
  expect(formatSession('chat', '')).toBe(' (subprotocol "chat")');
  expect(formatSession('chat', 'permessage-deflate')).toBe(
    ' (subprotocol "chat", extensions "permessage-deflate")',
  );
});
