import { describe, expect, test } from 'vitest';
import { HandshakeError, checkHeaderCount } from '@proj/protocol';
import { headerValue, parseRequestHead, parseResponseHead, splitHead } from '../src/http1.js';
import { concat, expectWsError, hex, thrown, utf8 } from './helpers.js';

const REQUEST =
  'GET /chat?room=1 HTTP/1.1\r\n' +
  'Host: server.example.com\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Sec-WebSocket-Version: 13';

describe('splitHead', () => {
  test('splits the head from the bytes that follow it', () => {
    const bytes = concat(utf8('HTTP/1.1 101 OK\r\nA: b\r\n\r\n'), hex('8100'));
    const split = splitHead(bytes)!;
    expect(new TextDecoder().decode(split.head)).toBe('HTTP/1.1 101 OK\r\nA: b');
    expect(split.rest).toEqual(hex('8100'));
    // Views, not copies.
    expect(split.head.buffer).toBe(bytes.buffer);
    expect(split.rest.buffer).toBe(bytes.buffer);
  });

  test('returns null while the head is incomplete', () => {
    expect(splitHead(utf8('HTTP/1.1 101 OK\r\nA: b\r\n'))).toBeNull();
    expect(splitHead(utf8(''))).toBeNull();
  });

  test('a head of exactly maxHeadSize bytes is accepted', () => {
    const head = utf8('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(10) + '\r\n\r\n');
    expect(splitHead(head, { maxHeadSize: head.length })).not.toBeNull();
  });

  test('a head over maxHeadSize is 431 WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', () => {
    const head = utf8('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(10) + '\r\n\r\n');
    const error = thrown(() => splitHead(head, { maxHeadSize: head.length - 1 }));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', 1006, 431);
  });

  test('fails as soon as maxHeadSize bytes arrived without a blank line', () => {
    expect(splitHead(new Uint8Array(99).fill(0x61), { maxHeadSize: 100 })).toBeNull();
    const error = thrown(() => splitHead(new Uint8Array(100).fill(0x61), { maxHeadSize: 100 }));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', 1006, 431);
  });

  test.each([
    [
      'a bare LF ending the status line',
      'HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n',
      /bare LF/,
    ],
    ['a bare LF after a CRLF line', 'HTTP/1.1 101 OK\r\nUpgrade: websocket\n', /bare LF/],
    ['a bare CR', 'HTTP/1.1 101 OK\rUpgrade: websocket', /bare CR/],
    ['a NUL', 'HTTP/1.1 101 OK\0', /NUL/],
  ])('fails at once, before the head is complete, on %s', (_name, text, message) => {
    const error = thrown(() => splitHead(utf8(text)));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_MALFORMED', 1006, 400);
    expect((error as Error).message).toMatch(message);
  });

  test('a CR at the very end may be the start of a CRLF: more bytes are awaited', () => {
    expect(splitHead(utf8('HTTP/1.1 101 OK\r'))).toBeNull();
    expect(splitHead(utf8('HTTP/1.1 101 OK\r\n\r'))).toBeNull();
  });

  test('the default bound is 16 KiB', () => {
    expect(splitHead(new Uint8Array(16 * 1024 - 1).fill(0x61))).toBeNull();
    const error = thrown(() => splitHead(new Uint8Array(16 * 1024).fill(0x61)));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', 1006, 431);
  });
});

describe('parseRequestHead', () => {
  test('parses the request line and lower-cases header names', () => {
    const head = parseRequestHead(utf8(REQUEST));
    expect(head.method).toBe('GET');
    expect(head.target).toBe('/chat?room=1');
    expect(head.httpVersion).toBe('1.1');
    expect({ ...head.headers }).toEqual({
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
    });
  });

  test('trims spaces and tabs around values and allows empty values', () => {
    const head = parseRequestHead(utf8('GET / HTTP/1.1\r\nA:\t x \t\r\nB:\r\nC:y'));
    expect(head.headers['a']).toBe('x');
    expect(head.headers['b']).toBe('');
    expect(head.headers['c']).toBe('y');
  });

  test('joins repeated fields with ", " (RFC 7230 §3.2.2)', () => {
    const head = parseRequestHead(
      utf8('GET / HTTP/1.1\r\nSec-WebSocket-Protocol: a\r\nsec-websocket-protocol: b, c'),
    );
    expect(head.headers['sec-websocket-protocol']).toBe('a, b, c');
  });

  test('decodes field values as Latin-1 octets (obs-text is allowed)', () => {
    const head = parseRequestHead(concat(utf8('GET / HTTP/1.1\r\nX: '), hex('e9ff')));
    expect(head.headers['x']).toBe('\u00e9\u00ff');
  });

  test('a head with obs-text is checked as strictly as an ASCII one, and decoded in pieces past 4096 bytes', () => {
    const bareLf = concat(utf8('GET / HTTP/1.1\r\nX: '), hex('e9'), utf8('\nY: z'));
    expectWsError(
      thrown(() => parseRequestHead(bareLf)),
      HandshakeError,
      'WS_ERR_HANDSHAKE_MALFORMED',
      1006,
      400,
    );
    const long = 'v'.repeat(5000);
    const head = parseRequestHead(
      concat(utf8(`GET / HTTP/1.1\r\nX: ${long}`), hex('80'), utf8('w')),
    );
    expect(head.headers['x']).toBe(`${long}\u0080w`);
  });

  test('"__proto__" is an ordinary header name', () => {
    const head = parseRequestHead(utf8('GET / HTTP/1.1\r\n__proto__: x'));
    expect(head.headers['__proto__']).toBe('x');
  });

  test('parses HTTP/1.0 and a request with no headers', () => {
    const head = parseRequestHead(utf8('POST /x HTTP/1.0'));
    expect(head.method).toBe('POST');
    expect(head.httpVersion).toBe('1.0');
    expect({ ...head.headers }).toEqual({});
  });

  test('reads a head longer than 4096 bytes (decoded in pieces)', () => {
    const long = 'v'.repeat(10_000);
    expect(parseRequestHead(utf8(`GET / HTTP/1.1\r\nX: ${long}`)).headers['x']).toBe(long);
  });

  test.each([
    ['', 'empty head'],
    ['GET / HTTP/1.1 extra', 'junk after the version'],
    ['GET  / HTTP/1.1', 'double space'],
    ['GET /', 'missing version'],
    ['GET / HTTP/11', 'version without a dot'],
    ['GET / http/1.1', 'lower-case protocol name'],
    ['G(T / HTTP/1.1', 'method that is not a token'],
    ['GET / HTTP/1.1\r\nNoColon', 'header line without a colon'],
    ['GET / HTTP/1.1\r\n: value', 'empty header name'],
    ['GET / HTTP/1.1\r\nName : value', 'space before the colon'],
    ['GET / HTTP/1.1\r\nA: b\r\n c', 'obs-fold continuation line'],
    ['GET / HTTP/1.1\r\nA: b\nC: d', 'bare LF'],
    ['GET / HTTP/1.1\rA: b', 'bare CR'],
    ['GET / HTTP/1.1\r\nA: b\u0000c', 'NUL'],
    ['GET / HTTP/1.1\r\nA: b\u0001c', 'control character in a value'],
    ['GET / HTTP/1.1\r\nA: b\u007fc', 'DEL in a value'],
    ['GET / HTTP/1.1\r\nA\u00e9: b', 'non-token header name'],
  ])('refuses %j (%s) with 400 WS_ERR_HANDSHAKE_MALFORMED', (text) => {
    const error = thrown(() => parseRequestHead(utf8(text)));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_MALFORMED', 1006, 400);
  });

  test('allows a tab inside a value', () => {
    expect(parseRequestHead(utf8('GET / HTTP/1.1\r\nA: b\tc')).headers['a']).toBe('b\tc');
  });

  test('more than maxHeaderCount fields is 431 WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', () => {
    const lines = (n: number): string =>
      'GET / HTTP/1.1' + Array.from({ length: n }, (_, i) => `\r\nX${i}: y`).join('');
    expect(() => parseRequestHead(utf8(lines(3)), { maxHeaderCount: 3 })).not.toThrow();
    const error = thrown(() => parseRequestHead(utf8(lines(4)), { maxHeaderCount: 3 }));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', 1006, 431);
    expect(() => parseRequestHead(utf8(lines(100)))).not.toThrow();
    expect(() => parseRequestHead(utf8(lines(101)))).toThrow(HandshakeError);
  });
});

describe('checkHeaderCount: the one header-count rule, for this parser and node:http', () => {
  test('at most maxHeaderCount fields (default 100); more is 431 "Too many header fields"', () => {
    expect(() => checkHeaderCount(100)).not.toThrow();
    expect(() => checkHeaderCount(3, { maxHeaderCount: 3 })).not.toThrow();
    const error = thrown(() => checkHeaderCount(101)) as HandshakeError;
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', 1006, 431);
    expect(error.message).toBe('Too many header fields');
    expect(error.headers).toEqual({});
    expect(() => checkHeaderCount(4, { maxHeaderCount: 3 })).toThrow('Too many header fields');
  });

  test('the head parser applies the same rule, with the same words', () => {
    const head = utf8('HTTP/1.1 101 OK\r\nA: 1\r\nB: 2');
    const message = (fn: () => unknown): string => (thrown(fn) as Error).message;
    expect(message(() => parseResponseHead(head, { maxHeaderCount: 1 }))).toBe(
      message(() => checkHeaderCount(2, { maxHeaderCount: 1 })),
    );
  });
});

describe('parseResponseHead', () => {
  test('parses the status line and headers', () => {
    const head = parseResponseHead(
      utf8('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade'),
    );
    expect(head).toMatchObject({
      httpVersion: '1.1',
      status: 101,
      statusText: 'Switching Protocols',
    });
    expect({ ...head.headers }).toEqual({ upgrade: 'websocket', connection: 'Upgrade' });
  });

  test('the reason phrase is optional and may be empty', () => {
    expect(parseResponseHead(utf8('HTTP/1.1 404')).statusText).toBe('');
    expect(parseResponseHead(utf8('HTTP/1.1 404 ')).statusText).toBe('');
    expect(parseResponseHead(utf8('HTTP/1.0 200 OK')).status).toBe(200);
  });

  test.each([
    ['HTTP/1.1 1O1 OK', 'non-numeric status'],
    ['HTTP/1.1 1010 OK', 'four-digit status'],
    ['HTTP/1.1101 OK', 'missing space'],
    ['ICY 200 OK', 'not HTTP'],
    ['HTTP/1.1 101 OK\r\nbad header', 'bad header line'],
  ])('refuses %j (%s) with WS_ERR_HANDSHAKE_MALFORMED', (text) => {
    const error = thrown(() => parseResponseHead(utf8(text)));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_MALFORMED', 1006, 400);
  });

  test('honours maxHeaderCount', () => {
    const error = thrown(() =>
      parseResponseHead(utf8('HTTP/1.1 101 OK\r\nA: 1\r\nB: 2'), { maxHeaderCount: 1 }),
    );
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', 1006, 431);
  });
});

describe('headerValue', () => {
  test('returns strings as they are and joins Node-style arrays', () => {
    const headers = { a: 'x', b: ['y', 'z'], c: undefined };
    expect(headerValue(headers, 'a')).toBe('x');
    expect(headerValue(headers, 'b')).toBe('y, z');
    expect(headerValue(headers, 'c')).toBeUndefined();
    expect(headerValue(headers, 'd')).toBeUndefined();
  });
});
