import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { sha1 } from '../src/sha1.js';
import { randomBytes, rng, toHex, utf8 } from './helpers.js';

function nodeSha1(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

describe('sha1', () => {
  // FIPS 180-2 Appendix A and the NIST example values.
  test.each([
    ['"abc" (one block)', 'abc', 'a9993e364706816aba3e25717850c26c9cd0d89d'],
    ['the empty string', '', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
    [
      'the 448-bit message (two blocks)',
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
    ],
    [
      'the 896-bit message',
      'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
      'a49b2446a02c645bf419f995b67091253a04a259',
    ],
  ])('hashes %s', (_name, message, digest) => {
    expect(toHex(sha1(utf8(message)))).toBe(digest);
  });

  test('hashes a million "a" (FIPS 180-2 A.3)', () => {
    expect(toHex(sha1(new Uint8Array(1_000_000).fill(0x61)))).toBe(
      '34aa973cd4c4daa4f61eeb2bdbad27316534016f',
    );
  });

  test('returns a 20-byte digest', () => {
    expect(sha1(utf8('x'))).toBeInstanceOf(Uint8Array);
    expect(sha1(utf8('x'))).toHaveLength(20);
  });

  test('matches node:crypto at every padding boundary (55, 56, 63, 64, 65, 119, 120 bytes)', () => {
    for (const length of [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129]) {
      const bytes = new Uint8Array(length).fill(length);
      expect(toHex(sha1(bytes)), `length ${length}`).toBe(nodeSha1(bytes));
    }
  });

  test('matches node:crypto on random inputs', () => {
    const random = rng(1);
    for (let i = 0; i < 300; i++) {
      const bytes = randomBytes(random, Math.floor(random() * 600));
      expect(toHex(sha1(bytes))).toBe(nodeSha1(bytes));
    }
  });

  test('does not modify its input', () => {
    const bytes = utf8('abc');
    sha1(bytes);
    expect(bytes).toEqual(utf8('abc'));
  });
});
