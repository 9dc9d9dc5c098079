/**
 * Option validation for every package: the protocol's own options and those
 * of `@proj/server`, `@proj/client` and `@proj/deflate`, so that one mistake
 * reads the same wherever it is made. Each check names the option, says what
 * it must be, and shows what it got:
 *
 * ```text
 * TypeError:  The "maxPayload" option must be an integer of at least 0, got "abc"
 * RangeError: The "maxPayload" option must be an integer of at least 0, got 1.5
 * TypeError:  The "rejectUnauthorized" option must be a boolean, got "no"
 * TypeError:  The "backlogPolicy" option must be one of "close", "reject", got "drop"
 * ```
 *
 * Which class: a value of the wrong type is a `TypeError`; a number that is
 * not an acceptable integer (a fraction, NaN, out of range) a `RangeError`.
 * That is the split Node's own validators make (`ERR_INVALID_ARG_TYPE`
 * against `ERR_OUT_OF_RANGE`), so a Node user meets the errors they know.
 * @packageDocumentation
 */

/** Bounds of an integer option. */
export interface IntegerRange {
  /** The smallest value accepted. */
  readonly min: number;
  /** The largest value accepted. Default `Number.MAX_SAFE_INTEGER`. */
  readonly max?: number | undefined;
  /** Whether `Infinity` is accepted too, meaning "no limit". Default `false`. */
  readonly orInfinity?: boolean | undefined;
}

/**
 * Checks an integer option.
 * @returns `value`.
 * @throws {TypeError} for a value that is not a number.
 * @throws {RangeError} for a number that is not an integer within `range`.
 */
export function integerOption(name: string, value: unknown, range: IntegerRange): number {
  const { min, max = Number.MAX_SAFE_INTEGER, orInfinity = false } = range;
  if (orInfinity && value === Infinity) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const bounds = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    const expected = `an integer ${bounds}${orInfinity ? ' or Infinity' : ''}`;
    throw optionError(typeof value === 'number' ? RangeError : TypeError, name, expected, value);
  }
  return value;
}

/**
 * Checks a boolean option.
 * @throws {TypeError} for anything but `true` or `false`.
 */
export function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw optionError(TypeError, name, 'a boolean', value);
  return value;
}

/**
 * Checks a string option.
 * @throws {TypeError} for anything but a string.
 */
export function stringOption(name: string, value: unknown): string {
  if (typeof value !== 'string') throw optionError(TypeError, name, 'a string', value);
  return value;
}

/**
 * Checks an option that is a callback.
 * @throws {TypeError} for anything but a function.
 */
export function functionOption<T>(name: string, value: T): T {
  if (typeof value !== 'function') throw optionError(TypeError, name, 'a function', value);
  return value;
}

/**
 * Checks an option that takes one of a few strings.
 * @throws {TypeError} for anything else.
 */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const list = allowed.map((item) => JSON.stringify(item)).join(', ');
    throw optionError(TypeError, name, `one of ${list}`, value);
  }
  return value as T;
}

/**
 * The one wording of an invalid option, for checks that the helpers above do
 * not cover: `The "<name>" option must be <expected>, got <value>`.
 */
export function optionError<E extends Error>(
  ErrorClass: new (message: string) => E,
  name: string,
  expected: string,
  value: unknown,
): E {
  return new ErrorClass(`The "${name}" option must be ${expected}, got ${describeValue(value)}`);
}

/**
 * A short, safe rendering of a value for an error message: strings quoted
 * (and cut at 40 characters), numbers as written, anything else by its kind,
 * so that no object's contents end up in a log.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/**
 * Refuses option names that the receiver does not know, so that a typo
 * (`maxPayLoad`) or an option of another library (`verifyClient`) fails
 * loudly instead of being ignored.
 *
 * ```text
 * TypeError: Unknown WebSocketServer option "maxPayLoad" (did you mean "maxPayload"?)
 * TypeError: The WebSocketServer option "verifyClient" is ws's; here: use "authenticate", ...
 * ```
 *
 * @param kind - whose options these are, for the message (`"WebSocketServer"`).
 * @param options - the object the caller passed.
 * @param known - every option name the receiver takes.
 * @param foreign - names other libraries (ws) use, each with what to do instead.
 * @throws {TypeError} naming the first unknown key.
 */
export function knownOptions(
  kind: string,
  options: object,
  known: readonly string[],
  foreign: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    // An explicit `undefined` is how spread defaults look; it sets nothing.
    if ((options as Record<string, unknown>)[key] === undefined && !Object.hasOwn(foreign, key))
      continue;
    if (Object.hasOwn(foreign, key)) {
      throw new TypeError(`The ${kind} option "${key}" is ws's; here: ${foreign[key]}`);
    }
    const lower = key.toLowerCase();
    const near = known.find((name) => name.toLowerCase() === lower);
    throw new TypeError(
      `Unknown ${kind} option "${key}"${near ? ` (did you mean "${near}"?)` : ''}; ` +
        `the options are ${known.map((name) => `"${name}"`).join(', ')}`,
    );
  }
}

/**
 * Checks a `maxPayload` option: a positive integer, or `Infinity` for no
 * limit. `0` gets its own message: ws reads it as "no limit", and a program
 * ported from ws carries it over, while here it would allow only empty
 * messages.
 * @throws {TypeError} for a value that is not a number.
 * @throws {RangeError} for 0, a fraction or a negative number.
 */
export function maxPayloadOption(value: unknown, name = 'maxPayload'): number {
  if (value === 0) {
    throw new RangeError(
      `The "${name}" option must be an integer of at least 1 or Infinity, got 0 ` +
        '(ws reads 0 as "no limit"; here that is Infinity, not advised on a public endpoint)',
    );
  }
  return integerOption(name, value, { min: 1, orInfinity: true });
}
