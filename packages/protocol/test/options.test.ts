/**
 * The shared option validators: one wording for each kind of mistake, and
 * Node's split between TypeError (wrong type) and RangeError (a number that
 * is not an acceptable integer).
 */
import { describe, expect, test } from 'vitest';
import * as options from '../src/options.js';

describe('integerOption', () => {
  test('returns an integer within the range, bounds included', () => {
    expect(options.integerOption('n', 0, { min: 0 })).toBe(0);
    expect(options.integerOption('n', 15, { min: 8, max: 15 })).toBe(15);
    expect(options.integerOption('n', Number.MAX_SAFE_INTEGER, { min: 0 })).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  test('a value that is not a number is a TypeError showing what it got', () => {
    expect(() => options.integerOption('maxPayload', 'abc', { min: 0 })).toThrow(TypeError);
    expect(() => options.integerOption('maxPayload', 'abc', { min: 0 })).toThrow(
      'The "maxPayload" option must be an integer of at least 0, got "abc"',
    );
    expect(() => options.integerOption('n', null, { min: 0 })).toThrow('got null');
  });

  test.each([1.5, Number.NaN, Infinity, -1, 16, 2 ** 53])('the number %s is a RangeError', (n) => {
    expect(() => options.integerOption('n', n, { min: 0, max: 15 })).toThrow(RangeError);
    expect(() => options.integerOption('n', n, { min: 0, max: 15 })).toThrow(
      `The "n" option must be an integer from 0 to 15, got ${n}`,
    );
  });

  test('orInfinity: Infinity means no limit; -Infinity stays a RangeError', () => {
    expect(options.integerOption('n', Infinity, { min: 1, orInfinity: true })).toBe(Infinity);
    expect(() => options.integerOption('n', -Infinity, { min: 1, orInfinity: true })).toThrow(
      'The "n" option must be an integer of at least 1 or Infinity, got -Infinity',
    );
  });
});

describe('the other kinds', () => {
  test('booleanOption', () => {
    expect(options.booleanOption('b', false)).toBe(false);
    expect(() => options.booleanOption('b', 'no')).toThrow(
      new TypeError('The "b" option must be a boolean, got "no"'),
    );
  });

  test('stringOption', () => {
    expect(options.stringOption('s', '')).toBe('');
    expect(() => options.stringOption('s', 1)).toThrow(
      new TypeError('The "s" option must be a string, got 1'),
    );
  });

  test('functionOption', () => {
    const f = (): void => {};
    expect(options.functionOption('f', f)).toBe(f);
    expect(() => options.functionOption('f', {})).toThrow(
      new TypeError('The "f" option must be a function, got an object'),
    );
  });

  test('oneOf lists the choices', () => {
    expect(options.oneOf('p', 'reject', ['close', 'reject'])).toBe('reject');
    expect(() => options.oneOf('p', 'drop', ['close', 'reject'])).toThrow(
      new TypeError('The "p" option must be one of "close", "reject", got "drop"'),
    );
  });

  test('optionError words any other expectation the same way', () => {
    const error = options.optionError(RangeError, 'x', 'a string starting with "/"', 'ws');
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('The "x" option must be a string starting with "/", got "ws"');
  });
});

describe('describeValue', () => {
  test.each<[unknown, string]>([
    ['abc', '"abc"'],
    ['x'.repeat(50), JSON.stringify(`${'x'.repeat(40)}...`)],
    [1.5, '1.5'],
    [undefined, 'undefined'],
    [null, 'null'],
    [true, 'true'],
    [[1], 'an array'],
    [{ secret: 'hunter2' }, 'an object'],
    [() => 1, 'a function'],
    [Symbol('s'), 'Symbol(s)'],
  ])('%s → %s', (value, text) => {
    expect(options.describeValue(value)).toBe(text);
  });
});

describe('knownOptions', () => {
  const known = ['maxPayload', 'headers'] as const;

  test('accepts known keys, and unknown ones left undefined (spread defaults)', () => {
    expect(() =>
      options.knownOptions('Thing', { maxPayload: 1, headers: {} }, known),
    ).not.toThrow();
    expect(() => options.knownOptions('Thing', { other: undefined }, known)).not.toThrow();
  });

  test('an unknown key: a TypeError naming it and listing the options', () => {
    expect(() => options.knownOptions('Thing', { colour: 'red' }, known)).toThrow(TypeError);
    expect(() => options.knownOptions('Thing', { colour: 'red' }, known)).toThrow(
      'Unknown Thing option "colour"; the options are "maxPayload", "headers"',
    );
  });

  test('a key that differs only in case suggests the right spelling', () => {
    expect(() => options.knownOptions('Thing', { maxPayLoad: 1 }, known)).toThrow(
      'Unknown Thing option "maxPayLoad" (did you mean "maxPayload"?)',
    );
  });

  test("another library's key says what to use instead, even when undefined", () => {
    const foreign = { verifyClient: 'use "authenticate"' };
    for (const value of [() => true, undefined]) {
      expect(() => options.knownOptions('Thing', { verifyClient: value }, known, foreign)).toThrow(
        'The Thing option "verifyClient" is ws\'s; here: use "authenticate"',
      );
    }
  });
});

describe('maxPayloadOption', () => {
  test('a positive integer or Infinity', () => {
    expect(options.maxPayloadOption(1)).toBe(1);
    expect(options.maxPayloadOption(Infinity)).toBe(Infinity);
  });

  test("0, which ws reads as no limit, is refused with ws's meaning explained", () => {
    expect(() => options.maxPayloadOption(0)).toThrow(RangeError);
    expect(() => options.maxPayloadOption(0)).toThrow(
      /ws reads 0 as "no limit"; here that is Infinity/,
    );
  });

  test.each([
    [-1, RangeError],
    [1.5, RangeError],
    ['1', TypeError],
  ])('%j is a %s', (value, ErrorClass) => {
    expect(() => options.maxPayloadOption(value)).toThrow(ErrorClass);
  });
});
