/**
 * The `sessions` option of a `WebSocketServer`: resumable sessions
 * (`docs/session-protocol.md`), their defaults and their validation.
 * @packageDocumentation
 */
import { integerOption, knownOptions, optionError } from '@proj/protocol';
import type { SessionStore } from './session-store.js';

/**
 * Settings of resumable sessions (the `sessions` option; `true` takes every
 * default). See the README's "Resumable sessions" and
 * `docs/session-protocol.md`.
 */
export interface SessionOptions {
  /** Milliseconds a suspended session (no connection) is kept before it is forgotten. Default 120,000. */
  timeout?: number;
  /**
   * Milliseconds between the server's keep-alive acknowledgements while a
   * session is attached (the client judges the connection dead after twice
   * this of silence); sent to the client in `ready`. Also the ping heartbeat
   * of the server when `heartbeatInterval` is not set. Default 15,000.
   */
  keepAlive?: number;
  /** Most messages in a session's replay log (sent, not yet acknowledged). Default 4,096. */
  maxMessages?: number;
  /** Most bytes in a session's replay log (UTF-8 bytes of text, bytes of binary). Default 4 MiB. */
  maxBytes?: number;
  /** Acknowledge after this many delivered messages... Default 64. */
  ackEvery?: number;
  /** ...or this many milliseconds after the first unacknowledged one, whichever comes first. Default 50. */
  ackDelay?: number;
  /**
   * Where sessions are recorded so that another node can resume them
   * (`RedisSessionStore` from `@proj/redis`, or `MemorySessionStore` for
   * servers of one process). Default: none, sessions live in this server's
   * memory only.
   */
  store?: SessionStore;
}

/** {@link SessionOptions} with defaults applied. */
export interface ResolvedSessionOptions {
  readonly timeout: number;
  readonly keepAlive: number;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly ackEvery: number;
  readonly ackDelay: number;
  readonly store: SessionStore | undefined;
}

/** Defaults of {@link SessionOptions}, as the README's table lists them. */
export const SESSION_DEFAULTS = {
  timeout: 120_000,
  keepAlive: 15_000,
  maxMessages: 4096,
  maxBytes: 4 * 1024 * 1024,
  ackEvery: 64,
  ackDelay: 50,
} as const;

const SESSION_OPTION_NAMES = [
  'timeout',
  'keepAlive',
  'maxMessages',
  'maxBytes',
  'ackEvery',
  'ackDelay',
  'store',
] as const satisfies readonly (keyof SessionOptions)[];

const STORE_METHODS = ['create', 'claim', 'commit', 'restore', 'touch', 'remove'] as const;

/** The longest delay Node's timers take. */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * Checks the `sessions` option and applies its defaults.
 * @returns `null` when sessions are off (`undefined` or `false`).
 * @throws {TypeError|RangeError} naming the option, as every option check does.
 */
export function resolveSessionOptions(value: unknown): ResolvedSessionOptions | null {
  if (value === undefined || value === false) return null;
  const options: SessionOptions = value === true ? {} : (value as SessionOptions);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw optionError(TypeError, 'sessions', 'a boolean or an object', value);
  }
  knownOptions('WebSocketServer sessions', options, SESSION_OPTION_NAMES);
  const store = options.store as Partial<SessionStore> | undefined;
  if (
    store !== undefined &&
    (typeof store !== 'object' ||
      store === null ||
      !STORE_METHODS.every((name) => typeof store[name] === 'function'))
  ) {
    throw optionError(
      TypeError,
      'sessions.store',
      `an object with ${STORE_METHODS.join(', ')} methods`,
      store,
    );
  }
  const integer = (
    name: keyof typeof SESSION_DEFAULTS,
    min: number,
    max?: number,
    orInfinity = false,
  ): number =>
    integerOption(`sessions.${name}`, options[name] ?? SESSION_DEFAULTS[name], {
      min,
      max,
      orInfinity,
    });
  return {
    timeout: integer('timeout', 1, MAX_TIMER),
    keepAlive: integer('keepAlive', 1, MAX_TIMER),
    maxMessages: integer('maxMessages', 1, undefined, true),
    maxBytes: integer('maxBytes', 1, undefined, true),
    ackEvery: integer('ackEvery', 1),
    ackDelay: integer('ackDelay', 0, MAX_TIMER),
    store: store as SessionStore | undefined,
  };
}
