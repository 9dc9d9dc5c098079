/**
 * The options of a {@link ReconnectingWebSocket}: their types, defaults and
 * validation, worded as every other option of the project
 * (`@proj/protocol`'s `options.ts`). Runtime-neutral: nothing here is Node's.
 * @packageDocumentation
 */
import {
  functionOption,
  integerOption,
  isValidCloseCode,
  knownOptions,
  oneOf,
  optionError,
  stringOption,
} from '@proj/protocol';
import { FINAL_CLOSE_CODES, MAX_DELAY } from './retry-hint.js';
import type { RetrySettings } from './retry-policy.js';
import {
  type ResolvedSessionOptions,
  type SessionOptions,
  resolveSessionOption,
} from './session-options.js';

/**
 * Where to connect: a URL, or a function called before every attempt that
 * returns one or a promise of one (e.g. to pick a server, or to sign the
 * URL afresh).
 */
export type UrlSource = string | URL | (() => string | URL | PromiseLike<string | URL>);

/**
 * The subprotocols to offer: a string, a list, or a function called before
 * every attempt that returns either or a promise of either.
 */
export type ProtocolsSource =
  | string
  | Iterable<string>
  | (() => string | Iterable<string> | PromiseLike<string | Iterable<string>>);

/**
 * A function called before every attempt for a fresh token (e.g. from a
 * refresh endpoint): a string, or `null`/`undefined`/`""` to send none.
 */
export type TokenSource = () => string | null | undefined | PromiseLike<string | null | undefined>;

/**
 * Whether the network is up, and signals when it changes: in browsers,
 * `navigator.onLine` with the window's `online` and `offline` events.
 */
export interface NetworkStatus {
  /** `false` when the device knows it has no network; `true` does not mean a server is reachable. */
  readonly onLine: boolean;
  /** Registers a listener for `online` or `offline`. */
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  /** Removes it. */
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

/**
 * What the ReconnectingWebSocket takes from its runtime, replaceable for
 * tests and for runtimes with their own signals (a React Native app's
 * NetInfo, say). Every member is optional.
 */
export interface ReconnectEnvironment {
  /** A number in [0, 1) for the jitter. Default `Math.random`. */
  random?: (() => number) | undefined;
  /** The time in ms since the epoch, for the caps, `minUptime` and HTTP-dates. Default `Date.now`. */
  now?: (() => number) | undefined;
  /** Starts a timer; with `clearTimeout`, both or neither. Default the global one. */
  setTimeout?: ((callback: () => void, ms: number) => unknown) | undefined;
  /** Cancels a timer `setTimeout` returned. Default the global one. */
  clearTimeout?: ((handle: unknown) => void) | undefined;
  /**
   * The network status to wait on, or `null` to ignore it. Default: where
   * the global object has `navigator.onLine` and `addEventListener`
   * (browsers, workers), those; elsewhere (Node) none.
   */
  network?: NetworkStatus | null | undefined;
}

/**
 * Options of a `ReconnectingWebSocket`, all optional; times in ms. An unknown
 * key is a `TypeError` naming it.
 * @typeParam SocketOptions - what `socketOptions` takes: Node's
 *   `WebSocketOptions`; nothing in browsers.
 */
export interface ReconnectOptions<SocketOptions = never> {
  /** The shortest wait before a retry, and the base of the backoff. Default 1000. */
  minDelay?: number | undefined;
  /** The longest wait the backoff reaches (a server's hint may ask for longer). Default 30 000. */
  maxDelay?: number | undefined;
  /** How much the backoff window grows per retry: a number of at least 1. Default 2. */
  factor?: number | undefined;
  /** Most retries in a row before giving up (`giveup`, reason `"max-retries"`). Default `Infinity`. */
  maxRetries?: number | undefined;
  /**
   * No attempt starts more than this many ms after the outage began (the
   * connection was lost, or the first attempt started); the next one that
   * would gives up instead (reason `"max-retry-time"`). Default `Infinity`.
   */
  maxRetryTime?: number | undefined;
  /**
   * How long a connection must stay open to count as back: one that closes
   * sooner keeps the retry count (and so the backoff) growing. Default 5000.
   */
  minUptime?: number | undefined;
  /**
   * How long an attempt may take, providers included, before it is
   * abandoned and counted as failed; 0 for no limit. Default 30 000.
   */
  openTimeout?: number | undefined;
  /**
   * Most messages `send()` queues while disconnected (with `session`: most
   * messages sent and not yet acknowledged); `Infinity`, or 0 to queue none.
   * Default 1000.
   */
  maxQueuedMessages?: number | undefined;
  /**
   * Most bytes `send()` queues while disconnected (with `session`: of those
   * not yet acknowledged); `Infinity`, or 0. Default 1 048 576 (1 MiB).
   */
  maxQueuedBytes?: number | undefined;
  /**
   * More close codes after which no retry is made, beside 1002, 1003 and
   * 1007-1010 (e.g. an application's 4001 "logged out"). Default none.
   */
  finalCloseCodes?: readonly number[] | undefined;
  /** A token, fetched before every attempt; see `tokenIn`. Default none. */
  token?: TokenSource | undefined;
  /**
   * Where the token goes: `"query"`, the URL query parameter `tokenParam`
   * (works everywhere); or `"header"`, `Authorization: Bearer <token>`
   * (Node only: browsers cannot set WebSocket request headers). Default `"query"`.
   */
  tokenIn?: 'query' | 'header' | undefined;
  /** The query parameter for `tokenIn: "query"`. Default `"access_token"` (RFC 6750 §2.3). */
  tokenParam?: string | undefined;
  /** Node only: the options of each underlying `WebSocket` (headers, TLS, limits...). */
  socketOptions?: SocketOptions | undefined;
  /** Replaces the clock, the randomness, the timers or the network status; see {@link ReconnectEnvironment}. */
  environment?: ReconnectEnvironment | undefined;
  /**
   * A resumable session over the connections (`docs/session-protocol.md`),
   * where the server offers one: `true` for the defaults, or its settings.
   * Default none.
   */
  session?: boolean | SessionOptions | undefined;
}

/** {@link ReconnectOptions} validated, every default applied. */
export interface ResolvedReconnectOptions<SocketOptions> extends RetrySettings {
  readonly openTimeout: number;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly token: TokenSource | undefined;
  readonly tokenIn: 'query' | 'header';
  readonly tokenParam: string;
  readonly socketOptions: SocketOptions | undefined;
  readonly random: () => number;
  readonly now: () => number;
  readonly setTimeout: (callback: () => void, ms: number) => unknown;
  readonly clearTimeout: (handle: unknown) => void;
  readonly network: NetworkStatus | null;
  /** `null` without sessions. */
  readonly session: ResolvedSessionOptions | null;
}

/** What the runtime can do with options, from its binding. */
export interface OptionCapabilities<SocketOptions> {
  /** Whether it can set request headers (Node can, browsers cannot). */
  readonly requestHeaders: boolean;
  /** Checks `socketOptions`; absent where there are none (browsers). */
  readonly checkSocketOptions?: ((value: unknown) => SocketOptions) | undefined;
}

/** Defaults, in ms where a time. */
export const RECONNECT_DEFAULTS = {
  minDelay: 1000,
  maxDelay: 30_000,
  factor: 2,
  maxRetries: Infinity,
  maxRetryTime: Infinity,
  minUptime: 5000,
  openTimeout: 30_000,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 1024 * 1024,
  tokenIn: 'query',
  tokenParam: 'access_token',
} as const;

/** Every key of {@link ReconnectOptions}; a `Record` so a key added there but not here fails to compile. */
const OPTION_KEYS: Record<keyof ReconnectOptions, true> = {
  minDelay: true,
  maxDelay: true,
  factor: true,
  maxRetries: true,
  maxRetryTime: true,
  minUptime: true,
  openTimeout: true,
  maxQueuedMessages: true,
  maxQueuedBytes: true,
  finalCloseCodes: true,
  token: true,
  tokenIn: true,
  tokenParam: true,
  socketOptions: true,
  environment: true,
  session: true,
};
const OPTION_NAMES: readonly string[] = Object.keys(OPTION_KEYS);

const ENVIRONMENT_KEYS: Record<keyof ReconnectEnvironment, true> = {
  random: true,
  now: true,
  setTimeout: true,
  clearTimeout: true,
  network: true,
};
const ENVIRONMENT_NAMES: readonly string[] = Object.keys(ENVIRONMENT_KEYS);

/**
 * Options of the reconnecting clients a program may be ported from
 * (reconnecting-websocket, partysocket) that have no key of the same name
 * here, with what to use instead.
 */
const FOREIGN_OPTIONS: Readonly<Record<string, string>> = {
  minReconnectionDelay: 'use "minDelay"',
  maxReconnectionDelay: 'use "maxDelay"',
  reconnectionDelayGrowFactor: 'use "factor"',
  connectionTimeout: 'use "openTimeout"',
  maxEnqueuedMessages: 'use "maxQueuedMessages" (and "maxQueuedBytes")',
  startClosed: 'a ReconnectingWebSocket connects when constructed; construct it when you need it',
  WebSocket: "the class is bound to its entry's WebSocket: Node's own, or the browser's native one",
  debug: 'listen to the "reconnecting", "reconnected", "offline" and "giveup" events',
};

/**
 * Checks the options and applies the defaults.
 * @throws {TypeError} for an unknown option, a value of the wrong type, a
 *   `tokenIn: "header"` where request headers cannot be set, or socket
 *   options where there are none.
 * @throws {RangeError} for a number out of range, or `maxDelay` below `minDelay`.
 */
export function resolveReconnectOptions<SocketOptions>(
  given: unknown,
  capabilities: OptionCapabilities<SocketOptions>,
): ResolvedReconnectOptions<SocketOptions> {
  const options = given ?? {};
  if (typeof options !== 'object') {
    throw new TypeError(`The "options" argument must be an object, got ${typeof options}`);
  }
  for (const key of Object.keys(options)) {
    // knownOptions words foreign names as ws's; these are other libraries'.
    if (Object.hasOwn(FOREIGN_OPTIONS, key)) {
      throw new TypeError(
        `The ReconnectingWebSocket option "${key}" is reconnecting-websocket's; here: ${FOREIGN_OPTIONS[key]}`,
      );
    }
  }
  knownOptions('ReconnectingWebSocket', options, OPTION_NAMES);
  const o = options as ReconnectOptions<unknown>;
  const d = RECONNECT_DEFAULTS;
  const minDelay = time('minDelay', o.minDelay, d.minDelay, 1);
  const maxDelay = time('maxDelay', o.maxDelay, d.maxDelay, 1);
  if (maxDelay < minDelay) {
    throw new RangeError(
      `The "maxDelay" option must be at least "minDelay" (${minDelay}), got ${maxDelay}`,
    );
  }
  const tokenIn =
    o.tokenIn === undefined ? d.tokenIn : oneOf('tokenIn', o.tokenIn, ['query', 'header']);
  if (tokenIn === 'header' && !capabilities.requestHeaders) {
    throw new TypeError(
      'The "tokenIn" option "header" needs request headers, which browsers cannot set on a ' +
        'WebSocket; use "query" (or offer the token as a subprotocol with a protocols provider)',
    );
  }
  const socketOptions = checkSocketOptions(o.socketOptions, capabilities);
  if (tokenIn === 'header' && o.token !== undefined && hasAuthorization(o.socketOptions)) {
    throw new TypeError(
      'The "token" option with tokenIn "header" sets the Authorization header, which ' +
        '"socketOptions.headers" sets too; give it in one place',
    );
  }
  const environment = checkEnvironment(o.environment);
  return {
    minDelay,
    maxDelay,
    factor: factorOption(o.factor),
    maxRetries: count('maxRetries', o.maxRetries, d.maxRetries),
    maxRetryTime: count('maxRetryTime', o.maxRetryTime, d.maxRetryTime),
    minUptime: time('minUptime', o.minUptime, d.minUptime, 0),
    openTimeout: time('openTimeout', o.openTimeout, d.openTimeout, 0),
    maxQueuedMessages: count('maxQueuedMessages', o.maxQueuedMessages, d.maxQueuedMessages),
    maxQueuedBytes: count('maxQueuedBytes', o.maxQueuedBytes, d.maxQueuedBytes),
    finalCloseCodes: new Set([...FINAL_CLOSE_CODES, ...closeCodes(o.finalCloseCodes)]),
    token: o.token === undefined ? undefined : functionOption('token', o.token),
    tokenIn,
    tokenParam: tokenParamOption(o.tokenParam),
    socketOptions,
    ...environment,
    session: resolveSessionOption(o.session),
  };
}

/** A time in ms that a timer must be able to wait. */
function time(name: string, value: unknown, fallback: number, min: number): number {
  return value === undefined ? fallback : integerOption(name, value, { min, max: MAX_DELAY });
}

/** A count or a duration that may be unlimited. */
function count(name: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : integerOption(name, value, { min: 0, orInfinity: true });
}

function factorOption(value: unknown): number {
  if (value === undefined) return RECONNECT_DEFAULTS.factor;
  if (typeof value !== 'number')
    throw optionError(TypeError, 'factor', 'a number of at least 1', value);
  if (!Number.isFinite(value) || value < 1) {
    throw optionError(RangeError, 'factor', 'a number of at least 1', value);
  }
  return value;
}

function tokenParamOption(value: unknown): string {
  if (value === undefined) return RECONNECT_DEFAULTS.tokenParam;
  const name = stringOption('tokenParam', value);
  if (name === '') throw optionError(TypeError, 'tokenParam', 'a non-empty string', value);
  return name;
}

function closeCodes(value: unknown): number[] {
  if (value === undefined) return [];
  const expected = 'an array of close codes (1000-1003, 1007-1014, 3000-4999)';
  if (!Array.isArray(value)) throw optionError(TypeError, 'finalCloseCodes', expected, value);
  for (const code of value) {
    if (typeof code !== 'number') {
      throw optionError(TypeError, 'finalCloseCodes', expected, code);
    }
    // Only codes a close frame can carry: 1005 and 1006 never reach a
    // client from a server, so listing them would be a mistake.
    if (!isValidCloseCode(code)) {
      throw new RangeError(`The "finalCloseCodes" option must be ${expected}, got ${code} in it`);
    }
  }
  return value as number[];
}

function checkSocketOptions<SocketOptions>(
  value: unknown,
  capabilities: OptionCapabilities<SocketOptions>,
): SocketOptions | undefined {
  if (value === undefined) return undefined;
  if (!capabilities.checkSocketOptions) {
    throw new TypeError(
      'The "socketOptions" option is Node only: browsers take no options for a WebSocket',
    );
  }
  if (typeof value === 'object' && value !== null && 'protocols' in value) {
    throw new TypeError(
      'The "socketOptions" option must not hold "protocols": they are the second argument',
    );
  }
  return capabilities.checkSocketOptions(value);
}

function hasAuthorization(socketOptions: unknown): boolean {
  const headers = (socketOptions as { headers?: unknown } | undefined)?.headers;
  if (typeof headers !== 'object' || headers === null) return false;
  return Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
}

type EnvironmentPart = Pick<
  ResolvedReconnectOptions<unknown>,
  'random' | 'now' | 'setTimeout' | 'clearTimeout' | 'network'
>;

function checkEnvironment(value: unknown): EnvironmentPart {
  const given = value ?? {};
  if (typeof given !== 'object') {
    throw optionError(TypeError, 'environment', 'an object', value);
  }
  knownOptions('ReconnectingWebSocket environment', given, ENVIRONMENT_NAMES);
  const e = given as ReconnectEnvironment;
  if ((e.setTimeout === undefined) !== (e.clearTimeout === undefined)) {
    throw new TypeError(
      'The "environment" option\'s "setTimeout" and "clearTimeout" go together: give both or neither',
    );
  }
  return {
    random: e.random === undefined ? Math.random : functionOption('environment.random', e.random),
    now: e.now === undefined ? Date.now : functionOption('environment.now', e.now),
    setTimeout:
      e.setTimeout === undefined
        ? (callback, ms) => globalThis.setTimeout(callback, ms)
        : functionOption('environment.setTimeout', e.setTimeout),
    clearTimeout:
      e.clearTimeout === undefined
        ? (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0])
        : functionOption('environment.clearTimeout', e.clearTimeout),
    network: e.network === undefined ? globalNetwork() : checkNetwork(e.network),
  };
}

function checkNetwork(value: unknown): NetworkStatus | null {
  if (value === null) return null;
  const network = value as Partial<NetworkStatus> | undefined;
  if (
    typeof network !== 'object' ||
    typeof network.onLine !== 'boolean' ||
    typeof network.addEventListener !== 'function' ||
    typeof network.removeEventListener !== 'function'
  ) {
    throw optionError(
      TypeError,
      'environment.network',
      'null or an object with "onLine", "addEventListener" and "removeEventListener"',
      value,
    );
  }
  return network as NetworkStatus;
}

/**
 * The global object's network status, where it has one: browsers and
 * workers. Node has no `navigator.onLine` (and its `navigator`, from Node
 * 21, no `online` event), so there the network is never waited for.
 */
function globalNetwork(): NetworkStatus | null {
  const global = globalThis as {
    navigator?: { onLine?: unknown };
    addEventListener?: unknown;
    removeEventListener?: unknown;
  };
  const navigator = global.navigator;
  if (
    typeof navigator?.onLine !== 'boolean' ||
    typeof global.addEventListener !== 'function' ||
    typeof global.removeEventListener !== 'function'
  ) {
    return null;
  }
  const target = globalThis as unknown as EventTarget;
  return {
    get onLine() {
      return navigator.onLine as boolean;
    },
    addEventListener: (type, listener) => target.addEventListener(type, listener),
    removeEventListener: (type, listener) => target.removeEventListener(type, listener),
  };
}
