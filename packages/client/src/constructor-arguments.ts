/**
 * The constructor's second and third arguments. WHATWG takes protocols
 * there, a `(DOMString or sequence<DOMString>)`; undici and Bun also take an
 * init dictionary, `new WebSocket(url, { protocols, headers, ... })`, and so
 * do we in Node. Telling them apart keeps every WHATWG call meaning what it
 * means in a browser: strings and iterables are protocols, and so is any
 * other value WebIDL would turn into a string, except a plain object, which
 * no browser call passes on purpose (it would offer "[object Object]").
 * @packageDocumentation
 */
import { describeValue, optionError } from '@proj/protocol';
import type { WebSocketOptions } from './options.js';
import { toDOMString } from './webidl.js';

/**
 * The init dictionary, Node only: `new WebSocket(url, init)`, as undici and
 * Bun take it. `protocols` and every {@link WebSocketOptions} key, all
 * optional; an unknown key is a `TypeError` naming it.
 *
 * ```ts
 * new WebSocket('wss://example.com/feed', {
 *   protocols: ['feed.v2', 'feed.v1'],
 *   headers: { Authorization: `Bearer ${token}` },
 *   perMessageDeflate: true,
 * });
 * ```
 */
export interface WebSocketInit extends WebSocketOptions {
  /** A subprotocol or a sequence of them, offered in order of preference. Default: none. */
  protocols?: string | Iterable<string> | undefined;
}

/** The arguments after the URL, sorted out. */
export interface ConstructorArguments {
  /** The protocols, still to be checked against the WHATWG rules (steps 3 and 4). */
  readonly protocols: string | string[];
  /** The options, still to be checked ({@link resolveOptions}). */
  readonly options: unknown;
  /** Whether `options` is the init dictionary (where `protocols` is a known key). */
  readonly inInit: boolean;
}

/**
 * Sorts out `new WebSocket(url, protocols?, options?)` and
 * `new WebSocket(url, init)`.
 * @throws {TypeError} for an init dictionary and options both; for an init
 *   dictionary whose `protocols` is not a string or a sequence of strings;
 *   for a Symbol where WebIDL wants a string.
 */
export function readConstructorArguments(second: unknown, third: unknown): ConstructorArguments {
  if (isInitDictionary(second)) {
    if (third !== undefined) {
      throw new TypeError(
        "Failed to construct 'WebSocket': the options go either in the init dictionary, " +
          'new WebSocket(url, { protocols, ...options }), or third, ' +
          'new WebSocket(url, protocols, options); not in both',
      );
    }
    return { protocols: initProtocols(second.protocols), options: second, inInit: true };
  }
  return {
    // WebIDL: a missing optional argument takes its default, the empty sequence.
    protocols: second === undefined ? [] : toProtocolList(second),
    options: third,
    inInit: false,
  };
}

/**
 * A plain object (a literal, or made by `Object.create(null)`) that is not
 * iterable. Other objects keep WebIDL's meaning: an iterable is a sequence,
 * anything else is converted to a string.
 */
function isInitDictionary(value: unknown): value is { protocols?: unknown } {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  return (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] == null;
}

/**
 * The dictionary's `protocols`: stricter than WebIDL's conversion, because
 * nobody writes `{ protocols: 5 }` on purpose.
 */
function initProtocols(value: unknown): string | string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return value;
  const expected = 'a string or a sequence of strings';
  if (typeof value !== 'object' || value === null) {
    throw optionError(TypeError, 'protocols', expected, value);
  }
  const iterator = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iterator !== 'function') throw optionError(TypeError, 'protocols', expected, value);
  return Array.from(value as Iterable<unknown>, (item, index) => {
    if (typeof item !== 'string') {
      throw new TypeError(
        `The "protocols" option must be ${expected}, got ${describeValue(item)} at index ${index}`,
      );
    }
    return item;
  });
}

/**
 * WebIDL `(DOMString or sequence<DOMString>)`: an object with an iterator
 * is a sequence, anything else a string.
 * @see https://webidl.spec.whatwg.org/#es-union
 */
function toProtocolList(protocols: unknown): string | string[] {
  if (typeof protocols === 'object' && protocols !== null) {
    const iterator = (protocols as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (iterator !== undefined && iterator !== null) {
      return Array.from(protocols as Iterable<unknown>, toDOMString);
    }
  }
  return toDOMString(protocols);
}
