import { describe, expect, test } from 'vitest';
import { InvalidUtf8Error } from '@proj/protocol';
import {
  Utf8Validator,
  decodeUtf8,
  decodeUtf8Strict,
  encodeUtf8,
  isValidUtf8,
  utf8Length,
} from '../src/utf8.js';
import { expectWsError, hex, randomBytes, rng, thrown } from './helpers.js';

const fatal = new TextDecoder('utf-8', { fatal: true });
function decoderAccepts(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Validates `bytes` pushed in the given pieces. */
function validInPieces(pieces: Uint8Array[]): boolean {
  const validator = new Utf8Validator();
  return pieces.every((piece) => validator.push(piece)) && validator.complete;
}

// Autobahn|Testsuite 6.x and the Markus Kuhn stress test they are drawn from.
const VALID: [string, string][] = [
  ['6.2 "Hello-µ@ßöäüàá-UTF-8!!"', '48656c6c6f2dc2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121'],
  ['6.5.1 "κόσμε"', 'cebae1bdb9cf83cebcceb5'],
  ['6.7.1 first 1-byte code point U+0000', '00'],
  ['6.7.2 first 2-byte code point U+0080', 'c280'],
  ['6.7.3 first 3-byte code point U+0800', 'e0a080'],
  ['6.7.4 first 4-byte code point U+10000', 'f0908080'],
  ['6.9.1 last 1-byte code point U+007F', '7f'],
  ['6.9.2 last 2-byte code point U+07FF', 'dfbf'],
  ['6.9.3 last 3-byte code point U+FFFF', 'efbfbf'],
  ['6.9.4 last code point U+10FFFF', 'f48fbfbf'],
  ['6.11.1 U+D7FF, just below the surrogates', 'ed9fbf'],
  ['6.11.2 U+E000, just above the surrogates', 'ee8080'],
  ['6.11.3 U+FFFD', 'efbfbd'],
  ['6.22.1 noncharacter U+FFFE', 'efbfbe'],
  ['6.22 noncharacter U+1FFFF', 'f09fbfbf'],
  ['6.22.34 noncharacter U+10FFFE', 'f48fbfbe'],
  ['a BOM', 'efbbbf'],
  ['the empty message', ''],
  ['long ASCII run then multi-byte', `${'41'.repeat(100)}e282ac`],
];

const INVALID: [string, string][] = [
  ['6.3.1 "κόσμε-edited" with a surrogate', 'cebae1bdb9cf83cebcceb5eda080656469746564'],
  ['6.8.1 5-byte sequence', 'f888808080'],
  ['6.8.2 6-byte sequence', 'fc8480808080'],
  ['6.10.1 above U+10FFFF (F7 BF BF BF)', 'f7bfbfbf'],
  ['6.10.2 5-byte maximum', 'fbbfbfbfbf'],
  ['6.10.3 6-byte maximum', 'fdbfbfbfbfbf'],
  ['6.11.5 U+110000 (F4 90 80 80)', 'f4908080'],
  ['6.12.1 lone continuation 0x80', '80'],
  ['6.12.2 lone continuation 0xBF', 'bf'],
  ['6.12.3 two continuation bytes', '80bf'],
  ['6.13.1 lone 2-byte lead followed by space', 'c020'],
  ['6.13.2 lone 3-byte lead followed by space', 'e020'],
  ['6.13.3 lone 4-byte lead followed by space', 'f020'],
  ['6.14.1 2-byte sequence missing its last byte', 'c0'],
  ['6.14.3 4-byte sequence missing its last byte', 'f08080'],
  ['6.14.7 truncated U+07FF', 'df'],
  ['6.14.8 truncated U+FFFF', 'efbf'],
  ['6.14.9 truncated F7 BF BF', 'f7bfbf'],
  [
    '6.15.1 concatenated truncated sequences',
    'c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf',
  ],
  ['6.16.1 impossible byte FE', 'fe'],
  ['6.16.2 impossible byte FF', 'ff'],
  ['6.16.3 FE FE FF FF', 'fefeffff'],
  ['6.17.1 overlong "/" in 2 bytes', 'c0af'],
  ['6.17.2 overlong "/" in 3 bytes', 'e080af'],
  ['6.17.3 overlong "/" in 4 bytes', 'f08080af'],
  ['6.18.1 maximum overlong 2-byte (C1 BF)', 'c1bf'],
  ['6.18.2 maximum overlong 3-byte (E0 9F BF)', 'e09fbf'],
  ['6.18.3 maximum overlong 4-byte (F0 8F BF BF)', 'f08fbfbf'],
  ['6.19.1 overlong NUL C0 80', 'c080'],
  ['6.19.2 overlong NUL E0 80 80', 'e08080'],
  ['6.19.3 overlong NUL F0 80 80 80', 'f0808080'],
  ['6.20.1 surrogate U+D800 (ED A0 80)', 'eda080'],
  ['6.20.4 surrogate U+DB7F', 'edadbf'],
  ['6.20.5 surrogate U+DBFF', 'edafbf'],
  ['6.20.6 surrogate U+DC00', 'edb080'],
  ['6.20.7 surrogate U+DFFF', 'edbfbf'],
  ['6.21.1 paired surrogates U+D800 U+DC00', 'eda080edb080'],
  ['6.21.8 paired surrogates U+DBFF U+DFFF', 'edafbfedbfbf'],
  ['F5 lead byte', 'f5808080'],
  ['a valid prefix, then a bad byte', '48656c6c6fc3'],
  ['truncated 3-byte sequence at message end', 'e282'],
];

describe('Utf8Validator', () => {
  test.each(VALID)('accepts %s', (_name, bytes) => {
    expect(isValidUtf8(hex(bytes))).toBe(true);
    expect(decoderAccepts(hex(bytes))).toBe(true);
  });

  test.each(INVALID)('rejects %s', (_name, bytes) => {
    expect(isValidUtf8(hex(bytes))).toBe(false);
    expect(decoderAccepts(hex(bytes))).toBe(false);
  });

  test.each(VALID)('accepts %s split at every byte boundary', (_name, bytes) => {
    const data = hex(bytes);
    for (let split = 0; split <= data.length; split++) {
      expect(validInPieces([data.subarray(0, split), data.subarray(split)])).toBe(true);
    }
    expect(validInPieces(Array.from(data, (byte) => new Uint8Array([byte])))).toBe(true);
  });

  test.each(INVALID)('rejects %s fed one byte at a time', (_name, bytes) => {
    expect(validInPieces(Array.from(hex(bytes), (byte) => new Uint8Array([byte])))).toBe(false);
  });

  test('rejects every byte that can never appear: C0, C1 and F5..FF', () => {
    for (const byte of [0xc0, 0xc1, 0xf5, 0xf6, 0xf7, 0xf8, 0xfb, 0xfc, 0xfd, 0xfe, 0xff]) {
      expect(new Utf8Validator().push(new Uint8Array([byte])), byte.toString(16)).toBe(false);
    }
  });

  test('reports an invalid byte as soon as it arrives (6.4.1 fail fast)', () => {
    // "κόσμε" then F4 90 80 80 (above U+10FFFF): the 0x90 is already impossible.
    const validator = new Utf8Validator();
    expect(validator.push(hex('cebae1bdb9cf83cebcceb5f4'))).toBe(true);
    expect(validator.complete).toBe(false);
    expect(validator.push(hex('90'))).toBe(false);
  });

  test('reports a truncated sequence through `complete`', () => {
    const validator = new Utf8Validator();
    expect(validator.push(hex('e282'))).toBe(true);
    expect(validator.complete).toBe(false);
    expect(validator.push(hex('ac'))).toBe(true);
    expect(validator.complete).toBe(true);
  });

  test('keeps the overlong and surrogate bounds across pieces', () => {
    for (const [lead, bad] of [
      ['e0', '80'],
      ['ed', 'a0'],
      ['f0', '80'],
      ['f4', '90'],
    ] as const) {
      const validator = new Utf8Validator();
      expect(validator.push(hex(lead))).toBe(true);
      expect(validator.push(hex(bad)), `${lead} ${bad}`).toBe(false);
    }
  });

  test('reset() forgets a partial code point', () => {
    const validator = new Utf8Validator();
    validator.push(hex('f0'));
    expect(validator.complete).toBe(false);
    validator.reset();
    expect(validator.complete).toBe(true);
    expect(validator.push(hex('41'))).toBe(true);
    // The F0 bound (>= 0x90) is gone too.
    validator.push(hex('e0'));
    validator.reset();
    expect(validator.push(hex('c280'))).toBe(true);
  });

  test('agrees with TextDecoder (fatal) on random bytes, whole and split', () => {
    const random = rng(2024);
    let valid = 0;
    for (let i = 0; i < 5000; i++) {
      // Mostly valid text with occasional corruption, so both outcomes are common.
      const text = Array.from({ length: Math.floor(random() * 8) }, () =>
        String.fromCodePoint(
          [0x41, 0xe9, 0x20ac, 0x1f600, 0xfffd, 0x10fffd][Math.floor(random() * 6)]! +
            Math.floor(random() * 3),
        ),
      ).join('');
      const bytes = encodeUtf8(text).slice();
      if (bytes.length > 0 && random() < 0.5) {
        bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      }
      const expected = decoderAccepts(bytes);
      if (expected) valid++;
      expect(isValidUtf8(bytes)).toBe(expected);
      const split = Math.floor(random() * (bytes.length + 1));
      expect(validInPieces([bytes.subarray(0, split), bytes.subarray(split)])).toBe(expected);
    }
    expect(valid).toBeGreaterThan(1000);
    expect(valid).toBeLessThan(4500);
  });

  test('agrees with TextDecoder (fatal) on uniformly random bytes', () => {
    const random = rng(99);
    for (let i = 0; i < 5000; i++) {
      const bytes = randomBytes(random, Math.floor(random() * 6));
      expect(isValidUtf8(bytes)).toBe(decoderAccepts(bytes));
    }
  });
});

describe('decodeUtf8', () => {
  test('decodes valid text', () => {
    expect(decodeUtf8(hex('cebae1bdb9cf83cebcceb5'))).toBe('\u03ba\u1f79\u03c3\u03bc\u03b5');
  });

  test('keeps a leading BOM: it is part of the message', () => {
    expect(decodeUtf8(hex('efbbbf41'))).toBe('\ufeffA');
  });
});

describe('decodeUtf8Strict', () => {
  test('decodes valid text and keeps a BOM', () => {
    expect(decodeUtf8Strict(hex('efbbbf48c3a9'))).toBe('\ufeffHé');
  });

  test('throws InvalidUtf8Error (1007) on invalid bytes', () => {
    const error = thrown(() => decodeUtf8Strict(hex('eda080')));
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });
});

describe('encodeUtf8', () => {
  test('encodes text and replaces lone surrogates with U+FFFD', () => {
    expect(encodeUtf8('€')).toEqual(hex('e282ac'));
    expect(encodeUtf8('\ud800')).toEqual(hex('efbfbd'));
  });
});

describe('utf8Length', () => {
  test.each([
    ['', 0],
    ['abc', 3],
    ['é', 2],
    ['€', 3],
    ['😀', 4],
    ['\ud800', 3],
    ['\udc00', 3],
    ['\ud800a', 4],
    ['\ud800\ud800', 6],
    ['a\ud83d', 4],
  ])('%j is %i bytes', (text, length) => {
    expect(utf8Length(text)).toBe(length);
  });

  test('agrees with TextEncoder on random strings, lone surrogates included', () => {
    const random = rng(3);
    for (let i = 0; i < 2000; i++) {
      let text = '';
      const n = Math.floor(random() * 10);
      for (let j = 0; j < n; j++) {
        const pick = random();
        text += String.fromCharCode(
          pick < 0.3
            ? Math.floor(random() * 0x80)
            : pick < 0.5
              ? 0x80 + Math.floor(random() * 0x780)
              : pick < 0.8
                ? 0xd800 + Math.floor(random() * 0x800)
                : Math.floor(random() * 0x10000),
        );
      }
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
    }
  });
});
