/**
 * The backoff of ReconnectingWebSocket (src/backoff.ts): exponential
 * windows, full jitter over each, a floor and a ceiling.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { backoffCeiling, backoffDelay } from '../src/backoff.js';

const settings = { minDelay: 100, maxDelay: 5000, factor: 2 };

describe('backoffCeiling', () => {
  test('grows by factor from minDelay × factor, then stays at maxDelay', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffCeiling(attempt, settings));
    expect(ceilings).toEqual([200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  test('a huge attempt number reaches maxDelay instead of Infinity or NaN', () => {
    expect(backoffCeiling(100_000, settings)).toBe(5000);
  });

  test('factor 1: a constant window of width 0', () => {
    expect(backoffCeiling(9, { ...settings, factor: 1 })).toBe(100);
  });
});

describe('backoffDelay', () => {
  test('the bottom and the top of each window', () => {
    const low = [1, 2, 3, 6].map((attempt) => backoffDelay(attempt, settings, () => 0));
    const high = [1, 2, 3, 6].map((attempt) => backoffDelay(attempt, settings, () => 0.999_999));
    expect(low).toEqual([100, 100, 100, 100]);
    expect(high).toEqual([199, 399, 799, 4999]);
  });

  test('a random source outside [0, 1) cannot leave the window', () => {
    expect(backoffDelay(1, settings, () => -3)).toBe(100);
    expect(backoffDelay(1, settings, () => 1)).toBe(199);
    expect(backoffDelay(1, settings, () => 42)).toBe(199);
  });

  test('property: always a whole number in [minDelay, ceiling), or minDelay for an empty window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (minDelay, extra, factor, attempt, draw) => {
          const s = { minDelay, maxDelay: minDelay + extra, factor };
          const ceiling = backoffCeiling(attempt, s);
          const delay = backoffDelay(attempt, s, () => draw);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(minDelay);
          expect(delay).toBeLessThanOrEqual(s.maxDelay);
          if (ceiling - minDelay >= 1) expect(delay).toBeLessThan(ceiling);
          else expect(delay).toBe(minDelay);
        },
      ),
    );
  });

  test('property: the ceilings never shrink from one attempt to the next', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 60 }),
        (minDelay, extra, factor, attempt) => {
          const s = { minDelay, maxDelay: minDelay + extra, factor };
          expect(backoffCeiling(attempt + 1, s)).toBeGreaterThanOrEqual(backoffCeiling(attempt, s));
        },
      ),
    );
  });

  test('full jitter: draws spread over the whole window, not around its middle', () => {
    // 1000 evenly spaced draws over the third window [100, 800): every
    // tenth of it gets its share.
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) {
      const delay = backoffDelay(3, settings, () => i / 1000);
      counts[Math.floor(((delay - 100) / 700) * 10)]!++;
    }
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(99);
  });
});
