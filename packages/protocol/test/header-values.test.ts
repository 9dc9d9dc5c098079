import { describe, expect, test } from 'vitest';
import {
  hasToken,
  isToken,
  isTokenChar,
  parseExtensions,
  parseTokenList,
  serializeExtensions,
} from '../src/header-values.js';

/** RFC 7230 §3.2.6 tchar, written from the grammar: the oracle for isTokenChar. */
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

describe('isToken / isTokenChar', () => {
  test('accepts every tchar of RFC 7230 §3.2.6', () => {
    expect(isToken("!#$%&'*+-.^_`|~09AZaz")).toBe(true);
    expect(isToken('chat.example.com')).toBe(true);
  });

  test('agrees with the RFC 7230 tchar set for every code unit below 256', () => {
    for (let code = 0; code < 256; code++) {
      expect(isTokenChar(code), `0x${code.toString(16)}`).toBe(
        TCHAR.test(String.fromCharCode(code)),
      );
    }
    expect(isTokenChar(0x3b1)).toBe(false);
  });

  test.each(['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'a/b', 'a\tb', 'é', 'a\u0000', '(a)', '{a}'])(
    'refuses %j',
    (value) => {
      expect(isToken(value)).toBe(false);
    },
  );
});

describe('parseTokenList', () => {
  test('splits on commas and trims spaces and tabs', () => {
    expect(parseTokenList('chat, superchat')).toEqual(['chat', 'superchat']);
    expect(parseTokenList(' \tkeep-alive ,Upgrade\t')).toEqual(['keep-alive', 'Upgrade']);
  });

  test('skips empty list elements (RFC 7230 §7)', () => {
    expect(parseTokenList(',a,, b ,')).toEqual(['a', 'b']);
  });

  test.each(['', ' , ', 'a b', 'a, b c', 'a;b', '"a"'])('refuses %j', (value) => {
    expect(parseTokenList(value)).toBeNull();
  });
});

describe('hasToken', () => {
  test('matches case-insensitively anywhere in the list', () => {
    expect(hasToken('keep-alive, Upgrade', 'upgrade')).toBe(true);
    expect(hasToken('WebSocket', 'websocket')).toBe(true);
    expect(hasToken('upgrade', 'Upgrade')).toBe(true);
  });

  test('is false for a missing or malformed header, or a partial match', () => {
    expect(hasToken(undefined, 'upgrade')).toBe(false);
    expect(hasToken('keep-alive', 'upgrade')).toBe(false);
    expect(hasToken('upgrades', 'upgrade')).toBe(false);
    expect(hasToken('Upgrade x y', 'upgrade')).toBe(false);
    expect(hasToken('', 'upgrade')).toBe(false);
  });
});

describe('parseExtensions', () => {
  test('parses names, bare parameters and token values', () => {
    expect(
      parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits=10'),
    ).toEqual([
      {
        name: 'permessage-deflate',
        params: [
          { name: 'client_max_window_bits', value: true },
          { name: 'server_max_window_bits', value: '10' },
        ],
      },
    ]);
  });

  test('parses several extensions and keeps duplicates in order', () => {
    expect(parseExtensions('foo, bar; a=1; a=2,baz')).toEqual([
      { name: 'foo', params: [] },
      {
        name: 'bar',
        params: [
          { name: 'a', value: '1' },
          { name: 'a', value: '2' },
        ],
      },
      { name: 'baz', params: [] },
    ]);
  });

  test('unquotes quoted-string values, with backslash escapes', () => {
    expect(parseExtensions('x; a="10"; b = "v\\al"')).toEqual([
      {
        name: 'x',
        params: [
          { name: 'a', value: '10' },
          { name: 'b', value: 'val' },
        ],
      },
    ]);
  });

  test('refuses an escaped quote once unquoted, because the value must be a token', () => {
    expect(parseExtensions('x; c="\\""')).toBeNull();
  });

  test('allows spaces and tabs around every separator', () => {
    expect(parseExtensions(' \tx \t; \ta \t= \t1 \t, \ty')).toEqual([
      { name: 'x', params: [{ name: 'a', value: '1' }] },
      { name: 'y', params: [] },
    ]);
  });

  test.each([
    ['', 'empty value'],
    [',', 'empty element'],
    ['x,', 'trailing comma'],
    ['x;', 'empty parameter'],
    ['x; =1', 'parameter without a name'],
    ['x; a=', 'empty value after ='],
    ['x; a="1', 'unterminated quoted string'],
    ['x; a="1\\', 'escape at the end'],
    ['x; a=""', 'empty quoted value'],
    ['x; a="1 2"', 'quoted value that is not a token'],
    ['x y', 'two names without a comma'],
    ['x; a=1 b', 'junk after a value'],
    ['"x"', 'quoted extension name'],
    ['x; a="1"b', 'junk after a quoted value'],
  ])('refuses %j (%s)', (value) => {
    expect(parseExtensions(value)).toBeNull();
  });
});

describe('serializeExtensions', () => {
  test('formats extensions as a header value', () => {
    expect(
      serializeExtensions([
        {
          name: 'permessage-deflate',
          params: [
            { name: 'client_max_window_bits', value: true },
            { name: 'server_max_window_bits', value: '10' },
          ],
        },
        { name: 'x', params: [] },
      ]),
    ).toBe('permessage-deflate; client_max_window_bits; server_max_window_bits=10, x');
  });

  test('round-trips with parseExtensions', () => {
    const header = 'a; b; c=1, d';
    expect(serializeExtensions(parseExtensions(header)!)).toBe(header);
  });

  test('formats nothing as an empty string', () => {
    expect(serializeExtensions([])).toBe('');
  });
});
