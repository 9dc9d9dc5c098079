import { afterEach, describe, expect, test, vi } from 'vitest';
import { applyMask, createRandomMaskSource, maskInto } from '../src/mask.js';
import { RFC_MASK, expectBytes, hex, pattern, randomBytes, rng, utf8 } from './helpers.js';

/** The obvious byte-at-a-time definition of RFC 6455 §5.3. */
function reference(data: Uint8Array, mask: Uint8Array, maskOffset = 0): Uint8Array {
  return data.map((byte, i) => byte ^ mask[(maskOffset + i) & 3]!);
}

const LENGTHS = [...Array.from({ length: 101 }, (_, i) => i), 1023, 4096, 65_537];
const MASK = hex('a1b2c3d4');

describe('applyMask', () => {
  test('masks "Hello" with the RFC 6455 §5.7 key', () => {
    const data = utf8('Hello');
    applyMask(data, RFC_MASK);
    expect(data).toEqual(hex('7f9f4d5158'));
  });

  test('masking twice is the identity, for lengths 0..100 and large, at byte offsets 0..3', () => {
    const random = rng(5);
    for (const length of LENGTHS) {
      for (let offset = 0; offset < 4; offset++) {
        const buffer = randomBytes(random, length + 8);
        const original = buffer.slice();
        const view = buffer.subarray(offset, offset + length);
        applyMask(view, MASK);
        expectBytes(view, reference(original.subarray(offset, offset + length), MASK));
        applyMask(view, MASK);
        // Identity, and nothing outside the view was touched.
        expectBytes(buffer, original);
      }
    }
  });

  test('matches the byte-by-byte definition for every mask phase', () => {
    for (const length of [31, 32, 33, 64, 65, 1000]) {
      for (let phase = 0; phase < 4; phase++) {
        const data = pattern(length, 3);
        applyMask(data, MASK, phase);
        expect(data).toEqual(reference(pattern(length, 3), MASK, phase));
      }
    }
  });

  test('returns the mask offset for the next piece, so pieces mask like the whole', () => {
    const whole = pattern(300);
    applyMask(whole, MASK);
    for (let split = 0; split <= 300; split += 7) {
      const data = pattern(300);
      const next = applyMask(data.subarray(0, split), MASK);
      expect(next).toBe(split & 3);
      expect(applyMask(data.subarray(split), MASK, next)).toBe((split + 300 - split) & 3);
      expect(data).toEqual(whole);
    }
  });

  test('an all-zero mask leaves data unchanged', () => {
    const data = pattern(100);
    applyMask(data, new Uint8Array(4));
    expect(data).toEqual(pattern(100));
  });
});

describe('maskInto', () => {
  test('writes to a separate target and leaves the source unchanged', () => {
    for (const length of LENGTHS) {
      const source = pattern(length, 9);
      const target = new Uint8Array(length);
      maskInto(source, target, MASK);
      expect(source).toEqual(pattern(length, 9));
      expectBytes(target, reference(source, MASK));
    }
  });

  test('handles every relative alignment of source and target', () => {
    const random = rng(11);
    for (const length of [0, 3, 31, 32, 33, 100, 1027]) {
      for (let sourceOffset = 0; sourceOffset < 4; sourceOffset++) {
        for (let targetOffset = 0; targetOffset < 4; targetOffset++) {
          for (let phase = 0; phase < 4; phase++) {
            const sourceBuffer = randomBytes(random, length + 8);
            const targetBuffer = new Uint8Array(length + 8).fill(0xee);
            const source = sourceBuffer.subarray(sourceOffset, sourceOffset + length);
            const target = targetBuffer.subarray(targetOffset, targetOffset + length);
            maskInto(source, target, MASK, phase);
            expect(target).toEqual(reference(source, MASK, phase));
            // Bytes around the target are untouched.
            expect(targetBuffer.subarray(0, targetOffset).every((b) => b === 0xee)).toBe(true);
            expect(targetBuffer.subarray(targetOffset + length).every((b) => b === 0xee)).toBe(
              true,
            );
          }
        }
      }
    }
  });

  test('masks in place when target is the source', () => {
    const data = pattern(77);
    maskInto(data, data, MASK, 2);
    expect(data).toEqual(reference(pattern(77), MASK, 2));
  });

  test('works on views of a SharedArrayBuffer', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    shared.set(pattern(64));
    maskInto(shared, shared, MASK);
    expect(Array.from(shared)).toEqual(Array.from(reference(pattern(64), MASK)));
  });
});

describe('createRandomMaskSource', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  test('returns 4-byte keys from crypto.getRandomValues', () => {
    const source = createRandomMaskSource();
    const keys = Array.from({ length: 50 }, () => source().slice());
    for (const key of keys) expect(key).toHaveLength(4);
    // 50 keys of 32 random bits: a repeat would mean the source is not random.
    expect(new Set(keys.map((k) => k.join())).size).toBe(50);
  });

  test.each([
    ['a pool of 16 bytes', 4, 16],
    ['the default pool (8 KiB)', 2048, undefined],
  ])('draws from a pool: %s serves %i keys per getRandomValues call', (_name, keys, poolSize) => {
    const spy = vi.spyOn(crypto, 'getRandomValues');
    const source = createRandomMaskSource(poolSize);
    expect(spy).not.toHaveBeenCalled();
    for (let i = 0; i < keys; i++) source();
    expect(spy).toHaveBeenCalledTimes(1);
    source();
    expect(spy).toHaveBeenCalledTimes(2);
  });

  test('rounds the pool size down to a multiple of 4, and to at least 4', () => {
    const spy = vi.spyOn(crypto, 'getRandomValues');
    const odd = createRandomMaskSource(10);
    odd();
    odd();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]![0]).toHaveLength(8);
    for (const tiny of [0, 3]) {
      spy.mockClear();
      const source = createRandomMaskSource(tiny);
      expect(source()).toHaveLength(4);
      source();
      expect(spy).toHaveBeenCalledTimes(2);
    }
  });

  test('never uses Math.random', () => {
    const spy = vi.spyOn(Math, 'random');
    const source = createRandomMaskSource(8);
    for (let i = 0; i < 10; i++) source();
    expect(spy).not.toHaveBeenCalled();
  });
});
