/**
 * The `session` option of a {@link ReconnectingWebSocket}: its type, its
 * defaults and its validation, worded as every other option of the project.
 * Runtime-neutral.
 * @see docs/session-protocol.md
 * @packageDocumentation
 */
import { integerOption, knownOptions, optionError } from '@proj/protocol';
import { MAX_DELAY } from './retry-hint.js';

/**
 * Settings of a resumable session (`session: { ... }`), all optional; times
 * in ms. An unknown key is a `TypeError` naming it.
 */
export interface SessionOptions {
  /** Acknowledge the server's messages after this many were delivered. Default 64. */
  ackEvery?: number | undefined;
  /** ...or this long after the first one not yet acknowledged, whichever comes first. Default 50. */
  ackDelay?: number | undefined;
  /**
   * How long without any message from the server before the connection is
   * judged dead, dropped and resumed on a new one. Default: twice the
   * keep-alive period the server announces in its `ready` (none when it
   * announces 0).
   */
  keepAliveTimeout?: number | undefined;
}

/** {@link SessionOptions} validated, the defaults applied. */
export interface ResolvedSessionOptions {
  readonly ackEvery: number;
  readonly ackDelay: number;
  /** `undefined`: twice the server's keep-alive period. */
  readonly keepAliveTimeout: number | undefined;
}

/** Defaults of {@link SessionOptions}, as the document suggests (section 5). */
export const SESSION_DEFAULTS = {
  ackEvery: 64,
  ackDelay: 50,
} as const;

/** Every key of {@link SessionOptions}; a `Record` so a key added there but not here fails to compile. */
const SESSION_KEYS: Record<keyof SessionOptions, true> = {
  ackEvery: true,
  ackDelay: true,
  keepAliveTimeout: true,
};
const SESSION_NAMES: readonly string[] = Object.keys(SESSION_KEYS);

/**
 * Checks the `session` option: `true` for the defaults, an object of
 * {@link SessionOptions}, or `false`/`undefined` for no session.
 * @returns the settings, or `null` without sessions.
 * @throws {TypeError} for another value, an unknown key or a value of the wrong type.
 * @throws {RangeError} for a number out of range.
 */
export function resolveSessionOption(value: unknown): ResolvedSessionOptions | null {
  if (value === undefined || value === false) return null;
  if (value === true) return { ...SESSION_DEFAULTS, keepAliveTimeout: undefined };
  if (typeof value !== 'object' || value === null) {
    throw optionError(TypeError, 'session', 'a boolean or an object', value);
  }
  knownOptions('ReconnectingWebSocket session', value, SESSION_NAMES);
  const o = value as SessionOptions;
  return {
    ackEvery:
      o.ackEvery === undefined
        ? SESSION_DEFAULTS.ackEvery
        : integerOption('session.ackEvery', o.ackEvery, { min: 1 }),
    ackDelay:
      o.ackDelay === undefined
        ? SESSION_DEFAULTS.ackDelay
        : integerOption('session.ackDelay', o.ackDelay, { min: 0, max: MAX_DELAY }),
    // At least 2 ms, so that the check every keepAliveTimeout / 2 has a period.
    keepAliveTimeout:
      o.keepAliveTimeout === undefined
        ? undefined
        : integerOption('session.keepAliveTimeout', o.keepAliveTimeout, { min: 2, max: MAX_DELAY }),
  };
}
