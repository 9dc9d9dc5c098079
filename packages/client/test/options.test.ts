/**
 * The Node-only third constructor argument: defaults and validation, with a
 * TypeError or RangeError naming the option.
 */
import { describe, expect, test } from 'vitest';
import { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_PAYLOAD } from '@proj/protocol';
import { WebSocket } from '@proj/client';
import { DEFAULT_TIMEOUT, resolveOptions } from '../src/options.js';

describe('resolveOptions', () => {
  test('everything has a default; the options argument itself is optional', () => {
    for (const options of [undefined, null, {}]) {
      expect(resolveOptions(options)).toEqual({
        headers: undefined,
        origin: undefined,
        handshakeTimeout: DEFAULT_TIMEOUT,
        closeTimeout: DEFAULT_TIMEOUT,
        maxPayload: DEFAULT_MAX_PAYLOAD,
        maxFragments: DEFAULT_MAX_FRAGMENTS,
        pingInterval: 0,
        deflate: null,
        tls: { rejectUnauthorized: true, servername: undefined },
        http2: false,
      });
    }
    expect(DEFAULT_TIMEOUT).toBe(30_000);
  });

  test('a non-object is a TypeError', () => {
    expect(() => resolveOptions('x')).toThrow(TypeError);
    expect(() => resolveOptions(5)).toThrow(/"options"/);
  });

  for (const name of [
    'handshakeTimeout',
    'closeTimeout',
    'maxPayload',
    'maxFragments',
    'pingInterval',
  ]) {
    test(`${name}: a non-number is a TypeError, a bad number a RangeError`, () => {
      expect(() => resolveOptions({ [name]: '100' })).toThrow(TypeError);
      expect(() => resolveOptions({ [name]: '100' })).toThrow(`"${name}"`);
      // maxPayload alone takes Infinity (see ws-options.test.ts).
      const bad =
        name === 'maxPayload' ? [-1, 1.5, NaN, 2 ** 53] : [-1, 1.5, NaN, Infinity, 2 ** 53];
      for (const value of bad) {
        expect(() => resolveOptions({ [name]: value })).toThrow(RangeError);
        expect(() => resolveOptions({ [name]: value })).toThrow(`"${name}"`);
      }
      expect(resolveOptions({ [name]: 1234 })[name as 'maxPayload']).toBe(1234);
    });
  }

  test('the wording is the one every package uses (@proj/protocol integerOption)', () => {
    expect(() => resolveOptions({ maxPayload: 'abc' })).toThrow(
      new TypeError(
        'The "maxPayload" option must be an integer of at least 1 or Infinity, got "abc"',
      ),
    );
    expect(() => resolveOptions({ handshakeTimeout: 1.5 })).toThrow(
      new RangeError(
        'The "handshakeTimeout" option must be an integer from 1 to 2147483647, got 1.5',
      ),
    );
    expect(() => resolveOptions({ rejectUnauthorized: 'no' })).toThrow(
      new TypeError('The "rejectUnauthorized" option must be a boolean, got "no"'),
    );
  });

  test('timeouts must be at least 1 ms and fit a Node timer', () => {
    expect(() => resolveOptions({ handshakeTimeout: 0 })).toThrow(RangeError);
    expect(() => resolveOptions({ closeTimeout: 2 ** 31 })).toThrow(RangeError);
    expect(resolveOptions({ closeTimeout: 2 ** 31 - 1 }).closeTimeout).toBe(2 ** 31 - 1);
  });

  test('headers: an object of strings or string arrays', () => {
    expect(resolveOptions({ headers: { 'X-A': 'a', 'X-B': ['b', 'c'] } }).headers).toEqual({
      'X-A': 'a',
      'X-B': ['b', 'c'],
    });
    for (const headers of ['x', ['a'], { 'X-A': 1 }, { 'X-A': [1] }]) {
      expect(() => resolveOptions({ headers })).toThrow(TypeError);
      expect(() => resolveOptions({ headers })).toThrow('"headers"');
    }
  });

  test('headers: malformed names and values (header injection) are TypeErrors', () => {
    expect(() => resolveOptions({ headers: { 'Bad Name': 'x' } })).toThrow(TypeError);
    expect(() => resolveOptions({ headers: { 'X-A': 'a\r\nInjected: 1' } })).toThrow(TypeError);
    expect(() => resolveOptions({ headers: { 'X-A': ['ok', 'b\n'] } })).toThrow('"headers"');
  });

  test('headers: the ones the handshake sets are refused', () => {
    for (const name of [
      'Host',
      'upgrade',
      'Connection',
      'Sec-WebSocket-Key',
      'sec-websocket-protocol',
    ]) {
      expect(() => resolveOptions({ headers: { [name]: 'x' } })).toThrow(TypeError);
      // The protocol's rule and words (checkRequestHeaders), not a copy of its list.
      expect(() => resolveOptions({ headers: { [name]: 'x' } })).toThrow(
        `The "headers" option is invalid: Header "${name}" is set by the opening handshake itself`,
      );
    }
  });

  test('origin: a string without CR or LF', () => {
    expect(resolveOptions({ origin: 'https://a.example' }).origin).toBe('https://a.example');
    expect(() => resolveOptions({ origin: 5 })).toThrow('"origin"');
    expect(() => resolveOptions({ origin: 'a\r\nb' })).toThrow(TypeError);
  });

  test('TLS options pass through; wrong types are TypeErrors', () => {
    const ca = new Uint8Array([1]);
    expect(
      resolveOptions({ ca, cert: ['c'], key: 'k', rejectUnauthorized: false, servername: 'x' }).tls,
    ).toEqual({ ca, cert: ['c'], key: 'k', rejectUnauthorized: false, servername: 'x' });
    expect(() => resolveOptions({ ca: 5 })).toThrow('"ca"');
    expect(() => resolveOptions({ cert: [5] })).toThrow('"cert"');
    expect(() => resolveOptions({ key: {} })).toThrow('"key"');
    expect(() => resolveOptions({ rejectUnauthorized: 'no' })).toThrow('"rejectUnauthorized"');
    expect(() => resolveOptions({ servername: 1 })).toThrow('"servername"');
  });
});

describe('the constructor', () => {
  test('throws for an invalid option before connecting', () => {
    expect(() => new WebSocket('ws://127.0.0.1:1/', [], { handshakeTimeout: -5 })).toThrow(
      RangeError,
    );
    expect(() => new WebSocket('ws://127.0.0.1:1/', [], 'x' as never)).toThrow(TypeError);
  });

  test('checks the URL and protocols first, as a browser would', () => {
    expect(() => new WebSocket('ftp://x/', [], { handshakeTimeout: -5 })).toThrow(DOMException);
  });
});
