/**
 * The case table itself: the Autobahn case list, complete and in order, and
 * the UTF-8 verdicts its 6.x sequences carry.
 */
import { describe, expect, test } from 'vitest';
import { CASES, sectionOf } from './cases.js';

const countBy = (key: (id: string) => string): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const { id } of CASES) counts[key(id)] = (counts[key(id)] ?? 0) + 1;
  return counts;
};

describe('case table', () => {
  test('has the 301 Autobahn cases of sections 1-7, 9 and 10, each id once', () => {
    expect(CASES).toHaveLength(301);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    expect(countBy(sectionOf)).toEqual({
      '1': 16,
      '2': 11,
      '3': 7,
      '4': 10,
      '5': 20,
      '6': 145,
      '7': 37,
      '9': 54,
      '10': 1,
    });
  });

  test('has the subsections of 6 and 9 in Autobahn sizes', () => {
    const sub = (id: string): string => id.split('.').slice(0, 2).join('.');
    const counts = countBy(sub);
    const of = (prefix: string): number[] =>
      Object.entries(counts)
        .filter(([key]) => key.startsWith(prefix))
        .map(([, n]) => n);
    // 6.1-6.4, then Markus Kuhn's stress test in 6.5-6.23.
    expect(of('6.')).toEqual([
      3, 4, 2, 4, 5, 11, 4, 2, 4, 3, 5, 8, 5, 10, 1, 3, 5, 5, 5, 7, 8, 34, 7,
    ]);
    expect(of('7.')).toEqual([6, 6, 1, 13, 9, 2]);
    expect(of('9.')).toEqual([6, 6, 9, 9, 6, 6, 6, 6]);
  });

  test('expects an echo for valid UTF-8 and 1007 for invalid, as Autobahn does', () => {
    const failing = (prefix: string): string[] =>
      CASES.filter((c) => c.id.startsWith(prefix) && c.outcome.kind === 'fail').map((c) => c.id);
    // Prefixes of κόσμε are valid only where they end on a code point.
    expect(failing('6.6.')).toEqual(['6.6.1', '6.6.3', '6.6.4', '6.6.6', '6.6.8', '6.6.10']);
    expect(failing('6.11.')).toEqual(['6.11.5']); // U+110000
    for (const valid of ['6.5.', '6.7.', '6.9.', '6.22.', '6.23.'])
      expect(failing(valid)).toEqual([]);
    for (const invalid of [
      '6.3.',
      '6.4.',
      '6.8.',
      '6.10.',
      '6.12.',
      '6.16.',
      '6.19.',
      '6.20.',
      '6.21.',
    ]) {
      const all = CASES.filter((c) => c.id.startsWith(invalid)).map((c) => c.id);
      expect(failing(invalid)).toEqual(all);
    }
  });
});
