/**
 * The chaos test's seeded PRNG and its seed from the environment: the same
 * seed draws the same numbers, every draw stays in its range, and a bad
 * `CHAOS_SEED` is refused rather than silently replaced.
 */
import { describe, expect, test } from 'vitest';
import { chaosSeed, seededRandom } from './random.js';

describe('seededRandom', () => {
  test('the same seed draws the same numbers; another seed others', () => {
    const draw = (seed: number): number[] => {
      const random = seededRandom(seed);
      return Array.from({ length: 8 }, () => random.next());
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(8)).not.toEqual(draw(7));
  });

  test('draws stay in their ranges, and pick follows the weights', () => {
    const random = seededRandom(12345);
    const picks = { a: 0, b: 0, never: 0 };
    const outOfRange: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const x = random.next();
      if (!(x >= 0 && x < 1)) outOfRange.push(x);
      const y = random.between(200, 3000);
      if (!(y >= 200 && y < 3000)) outOfRange.push(y);
      const z = random.exponential(100);
      if (!(z >= 0 && Number.isFinite(z))) outOfRange.push(z);
      picks[random.pick({ a: 3, b: 1, never: 0 })]++;
    }
    expect(outOfRange).toEqual([]);
    expect(picks.never).toBe(0);
    // 3:1 within a wide margin (the expected share of a is 0.75).
    expect(picks.a / 10_000).toBeGreaterThan(0.7);
    expect(picks.a / 10_000).toBeLessThan(0.8);
  });

  test.each([-1, 1.5, 2 ** 32, Number.NaN])('refuses the seed %s', (seed) => {
    expect(() => seededRandom(seed)).toThrow(RangeError);
  });

  test('pick needs a positive weight', () => {
    expect(() => seededRandom(1).pick({ a: 0 })).toThrow(RangeError);
  });
});

describe('chaosSeed', () => {
  test('takes CHAOS_SEED when set', () => {
    expect(chaosSeed({ CHAOS_SEED: '42' })).toBe(42);
    expect(chaosSeed({ CHAOS_SEED: '0' })).toBe(0);
  });

  test('draws a valid seed when unset or empty', () => {
    for (const env of [{}, { CHAOS_SEED: '' }]) {
      const seed = chaosSeed(env);
      expect(() => seededRandom(seed)).not.toThrow();
    }
  });

  test.each(['x', '-3', '1.5', '4294967296'])('refuses CHAOS_SEED=%s', (text) => {
    expect(() => chaosSeed({ CHAOS_SEED: text })).toThrow(/CHAOS_SEED must be an integer/);
  });
});
