import { describe, expect, test } from 'vitest';
import { decodeBase64, encodeBase64 } from '../src/base64.js';
import { KEY, randomBytes, rng, utf8 } from './helpers.js';

describe('RFC 4648 §10 test vectors', () => {
  test.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ])('decodes %j from %j, and encodes it back', (plain, encoded) => {
    expect(decodeBase64(encoded)).toEqual(utf8(plain));
    expect(encodeBase64(utf8(plain))).toBe(encoded);
  });
});

describe('encodeBase64', () => {
  test('uses + and / for the last two alphabet values', () => {
    expect(encodeBase64(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe('+/+/');
  });

  test('matches node Buffer on random inputs of every padding length', () => {
    const random = rng(64);
    for (let length = 0; length < 200; length++) {
      const bytes = randomBytes(random, length);
      expect(encodeBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    }
  });
});

describe('decodeBase64', () => {
  test('round-trips random bytes', () => {
    const random = rng(7);
    for (let length = 0; length < 100; length++) {
      const bytes = randomBytes(random, length);
      expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
    }
  });

  test('decodes the RFC 6455 sample key to exactly 16 bytes', () => {
    expect(decodeBase64(KEY)).toEqual(utf8('the sample nonce'));
  });

  test.each([
    ['Zg=', 'length not a multiple of 4'],
    ['Zg', 'missing padding'],
    ['Zm9*', 'character outside the alphabet'],
    ['Zm9-', 'URL-safe alphabet'],
    ['Zm9_', 'URL-safe alphabet'],
    ['Zm 9', 'whitespace'],
    ['Zm9\u00e9', 'non-ASCII character'],
    ['Zm9\u0100', 'character above U+00FF'],
    ['Zg==Zm9v', 'padding before the end'],
    ['Z===', 'three padding characters'],
    ['====', 'only padding'],
    ['=Zm9', 'padding at the start'],
    ['Zh==', 'non-zero bits under two padding characters'],
    ['Zm9=', 'non-zero bits under one padding character'],
  ])('rejects %j (%s)', (text) => {
    expect(decodeBase64(text)).toBeNull();
  });
});
