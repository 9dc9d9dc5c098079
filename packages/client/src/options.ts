/**
 * The Node-only options of the WebSocket constructor (the third argument, or
 * the init dictionary's keys beside `protocols`): their types, their defaults
 * and their validation. Browsers ignore a third argument, so code that passes
 * one stays portable.
 * @packageDocumentation
 */
import {
  type DeflateOptions,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from '@proj/deflate';
import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD,
  booleanOption,
  checkRequestHeaders,
  integerOption,
  knownOptions,
  maxPayloadOption,
  optionError,
  stringOption,
} from '@proj/protocol';
import { type ProxyEndpoint, proxyOption } from './proxy-url.js';

/** A PEM string or DER/PEM bytes (a `Buffer` is a `Uint8Array`). */
export type TlsCredential = string | Uint8Array;

/**
 * Node-only options: `new WebSocket(url, protocols, options)`, or the same
 * keys in the init dictionary, `new WebSocket(url, { protocols, ...options })`.
 * All optional; times are in milliseconds. A key not listed here is a
 * `TypeError` naming it; `ws`'s option names say what to do instead.
 */
export interface WebSocketOptions {
  /**
   * Extra request headers for the opening handshake, e.g. `Authorization` or
   * `Cookie`. Headers the handshake owns (`Host`, `Upgrade`, `Connection`,
   * `Sec-WebSocket-*`) are refused. Default: none.
   */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
  /**
   * The `Origin` header. Browsers always send their page's origin; Node has
   * none, so none is sent unless given. Default: none.
   */
  origin?: string | undefined;
  /**
   * How long DNS, TCP, a proxy's CONNECT, TLS and the HTTP upgrade together
   * may take before the connection fails (`error`, then `close` with 1006).
   * With `http2`, the HTTP/2 connection, its SETTINGS and the stream's
   * response count instead of the upgrade. Default 30 000.
   */
  handshakeTimeout?: number | undefined;
  /**
   * How long to wait for the server to close the TCP connection once the
   * closing handshake has started (or the connection failed) before
   * destroying the socket (`close` with 1006). Default 30 000.
   */
  closeTimeout?: number | undefined;
  /**
   * Largest message accepted, in bytes; a larger one fails the connection
   * with 1009. `Infinity` for no limit (only for a server you trust). `0` is
   * refused: `ws` reads it as "no limit", which here is `Infinity`.
   * Default 16 MiB.
   */
  maxPayload?: number | undefined;
  /** Most frames in one message; more fail the connection with 1008. Default 131 072. */
  maxFragments?: number | undefined;
  /**
   * Offer permessage-deflate (RFC 7692), as browsers always do: `true` or
   * options. With it, `maxPayload` counts inflated bytes. Default `false`:
   * opt in, as on the server, so that zlib memory and CPU are a choice.
   */
  perMessageDeflate?: boolean | DeflateOptions | undefined;
  /**
   * Node only, beyond WHATWG: ping the server every `pingInterval` ms, and
   * fail the connection as half-open when nothing at all (no pong, no
   * message) arrived during a whole interval after a ping: `error` (an
   * `ErrorEvent` whose `error` says so), then `close` with 1006, the socket
   * destroyed. A lost peer is found within two intervals. `0` turns it off.
   * Default 0.
   */
  pingInterval?: number | undefined;
  /** `wss:` only: certificate authorities to trust instead of Node's bundled list. */
  ca?: TlsCredential | readonly TlsCredential[] | undefined;
  /** `wss:` only: client certificate chain, for servers that ask for one. */
  cert?: TlsCredential | readonly TlsCredential[] | undefined;
  /** `wss:` only: private key of `cert`. */
  key?: TlsCredential | readonly TlsCredential[] | undefined;
  /** `wss:` only: whether to refuse a server whose certificate does not verify. Default `true`. */
  rejectUnauthorized?: boolean | undefined;
  /** `wss:` only: the TLS SNI name. Default: the URL's host name, none for an IP address. */
  servername?: string | undefined;
  /**
   * The HTTP proxy to connect through, for `ws:` and `wss:` alike:
   * `http://[user:pass@]host:port` (a string or a `URL`; credentials
   * percent-encoded, sent as `Proxy-Authorization: Basic`). The client asks it
   * for a tunnel (HTTP CONNECT); a `wss:` connection is encrypted end to end
   * through it. `https:` proxy URLs (TLS to the proxy) are refused.
   * `false`: connect directly, whatever the environment says. Default: the
   * environment's, read when the WebSocket is made: `HTTPS_PROXY` for `wss:`
   * (else `HTTP_PROXY`), `HTTP_PROXY` for `ws:`, lower-case spellings first,
   * `NO_PROXY` for the hosts to reach directly (README: "Proxies"). An
   * explicit proxy is used for every host: `NO_PROXY` is not consulted.
   */
  proxy?: string | URL | false | undefined;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441)
   * instead of an HTTP/1.1 Upgrade: WebSockets to the same origin (with the
   * same TLS options) share one TCP and TLS connection. `wss:` offers h2 by
   * ALPN; `ws:` speaks cleartext HTTP/2 by prior knowledge (h2c). When the
   * server does not take WebSockets over HTTP/2 (ALPN chose HTTP/1.1, its
   * SETTINGS lack `SETTINGS_ENABLE_CONNECT_PROTOCOL`, or it does not speak
   * h2c) the WebSocket connects over HTTP/1.1 as without this option, and
   * later ones to that origin go there at once. Through a proxy, HTTP/1.1 is
   * always used. Default `false`.
   */
  http2?: boolean | undefined;
}

/** {@link WebSocketOptions} with every default applied. */
export interface ResolvedOptions {
  readonly headers: Readonly<Record<string, string | readonly string[]>> | undefined;
  readonly origin: string | undefined;
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly maxPayload: number;
  readonly maxFragments: number;
  /** 0 when off. */
  readonly pingInterval: number;
  /** permessage-deflate settings, `null` when not offered. */
  readonly deflate: ResolvedDeflateOptions | null;
  readonly tls: {
    readonly ca?: TlsCredential | TlsCredential[];
    readonly cert?: TlsCredential | TlsCredential[];
    readonly key?: TlsCredential | TlsCredential[];
    readonly rejectUnauthorized: boolean;
    readonly servername: string | undefined;
  };
  /** The `proxy` option: a proxy, `false` for none, `undefined` for the environment's. */
  readonly proxy: ProxyEndpoint | false | undefined;
  /** Whether to try HTTP/2 first (RFC 8441). */
  readonly http2: boolean;
}

/** Default of `handshakeTimeout` and `closeTimeout`: 30 s. */
export const DEFAULT_TIMEOUT = 30_000;

/** The largest delay Node's timers accept. */
const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * Checks the options (the third constructor argument, or the init
 * dictionary) and applies the defaults.
 * @param given - what the caller passed.
 * @param inInit - whether `given` is the init dictionary, where
 *   `protocols` is one of the keys (it is not read here).
 * @throws {TypeError} for an unknown option (ws's names with what to use
 *   instead), an option of the wrong type, or a header that is malformed or
 *   belongs to the handshake.
 * @throws {RangeError} for a number out of range.
 */
export function resolveOptions(given: unknown, inInit = false): ResolvedOptions {
  const options = given ?? {};
  if (typeof options !== 'object') {
    throw new TypeError('The "options" argument must be an object');
  }
  if (!inInit && (options as { protocols?: unknown }).protocols !== undefined) {
    throw new TypeError(
      'The "protocols" option belongs in the init dictionary, new WebSocket(url, { protocols, ...options }); ' +
        'with the options as the third argument, pass the protocols second',
    );
  }
  knownOptions('WebSocket', options, inInit ? INIT_NAMES : OPTION_NAMES, WS_CLIENT_OPTIONS);
  const o = options as WebSocketOptions;
  return {
    headers: checkHeaders(o.headers),
    origin: checkOrigin(o.origin),
    handshakeTimeout: checkInteger(
      'handshakeTimeout',
      o.handshakeTimeout,
      DEFAULT_TIMEOUT,
      1,
      MAX_TIMEOUT,
    ),
    closeTimeout: checkInteger('closeTimeout', o.closeTimeout, DEFAULT_TIMEOUT, 1, MAX_TIMEOUT),
    maxPayload: o.maxPayload === undefined ? DEFAULT_MAX_PAYLOAD : maxPayloadOption(o.maxPayload),
    maxFragments: checkInteger('maxFragments', o.maxFragments, DEFAULT_MAX_FRAGMENTS, 1),
    pingInterval: checkInteger('pingInterval', o.pingInterval, 0, 0, MAX_TIMEOUT),
    deflate: resolveDeflateOptions(o.perMessageDeflate, false),
    tls: {
      ...credential('ca', o.ca),
      ...credential('cert', o.cert),
      ...credential('key', o.key),
      rejectUnauthorized:
        o.rejectUnauthorized === undefined
          ? true
          : booleanOption('rejectUnauthorized', o.rejectUnauthorized),
      servername: o.servername === undefined ? undefined : stringOption('servername', o.servername),
    },
    proxy: proxyOption(o.proxy),
    http2: o.http2 === undefined ? false : booleanOption('http2', o.http2),
  };
}

/**
 * Every key of {@link WebSocketOptions}; a `Record` so that the compiler
 * refuses an option added to the interface but not here.
 */
const OPTION_KEYS: Record<keyof WebSocketOptions, true> = {
  headers: true,
  origin: true,
  handshakeTimeout: true,
  closeTimeout: true,
  maxPayload: true,
  maxFragments: true,
  perMessageDeflate: true,
  pingInterval: true,
  ca: true,
  cert: true,
  key: true,
  rejectUnauthorized: true,
  servername: true,
  proxy: true,
  http2: true,
};
const OPTION_NAMES: readonly string[] = Object.keys(OPTION_KEYS);
/** The init dictionary's keys: the options and `protocols`. */
const INIT_NAMES: readonly string[] = ['protocols', ...OPTION_NAMES];

const NO_CUSTOM_DIAL =
  "the Node client opens its own TCP or TLS connection to the URL's host and port, " +
  'and takes no socket settings; remove it';
const OWN_LOOKUP =
  "the Node client resolves the URL's host itself; put an IP address in the URL " +
  '(ws://[::1]:8080/) to choose one';
const OTHER_TLS =
  'the TLS options are "ca", "cert", "key", "rejectUnauthorized" and "servername"; ' +
  'others are not supported';

/**
 * `ws` 8's client options (its own, and the `http.request`/`tls.connect`
 * options it passes on) that have no key of the same name here, with what to
 * do instead. Read from ws 8.23 `lib/websocket.js` (`initAsClient`) and
 * `@types/ws` `ClientOptions`.
 */
const WS_CLIENT_OPTIONS: Readonly<Record<string, string>> = {
  agent:
    'the Node client opens its own TCP or TLS connection, and takes no agent; for a ' +
    'proxy, give its URL as "proxy" (http://[user:pass@]host:port, HTTP CONNECT), or set ' +
    'HTTPS_PROXY / HTTP_PROXY / NO_PROXY, which are read by default',
  followRedirects:
    'redirects are not followed: as in browsers, an answer other than 101 fails the ' +
    'connection (error, then close 1006); connect to the final URL',
  maxRedirects:
    'redirects are not followed: as in browsers, an answer other than 101 fails the ' +
    'connection (error, then close 1006); connect to the final URL',
  protocolVersion: 'only version 13 (RFC 6455) exists, and it is always sent; remove it',
  protocol:
    'subprotocols are the second argument (a string or a list), or "protocols" in the ' +
    'init dictionary',
  skipUTF8Validation: 'text and close reasons are always validated (RFC 6455 §8.1); remove it',
  autoPong: 'pings are always answered (RFC 6455 §5.5.2); remove it',
  maxPendingAutoPongs: 'pings are always answered (RFC 6455 §5.5.2); remove it',
  allowSynchronousEvents:
    "events are dispatched one per task, as in browsers (a message listener's promise " +
    'callbacks settle before the next message); remove it',
  maxBufferedChunks: 'use "maxPayload" and "maxFragments" to bound a message',
  finishRequest: 'the handshake request is not exposed; add request headers with "headers"',
  createConnection: NO_CUSTOM_DIAL,
  generateMask: 'masks always come from crypto.getRandomValues (RFC 6455 §5.3); remove it',
  localAddress: NO_CUSTOM_DIAL,
  localPort: NO_CUSTOM_DIAL,
  family: OWN_LOOKUP,
  lookup: OWN_LOOKUP,
  hints: OWN_LOOKUP,
  autoSelectFamily: OWN_LOOKUP,
  socketPath: 'Unix domain sockets (ws+unix:) are not supported',
  timeout:
    'use "handshakeTimeout" for the opening handshake, "pingInterval" to find a silent ' +
    'connection',
  signal: 'call close() to abandon a connection that is still connecting',
  host: 'the Host header comes from the URL; put the host there',
  hostname: 'the host comes from the URL; put it there',
  port: 'the port comes from the URL; put it there',
  path: 'the path comes from the URL; put it there',
  auth: 'send credentials with "headers" (e.g. { Authorization: "Basic ..." })',
  checkServerIdentity:
    'the certificate is checked against the URL\'s host, or "servername" when given; ' +
    'a custom check is not supported',
  passphrase:
    'an encrypted key is not supported: decrypt it (crypto.createPrivateKey({ key, ' +
    'passphrase }).export({ type: "pkcs8", format: "pem" })) and pass that as "key"',
  pfx: 'pass the certificate and its key as "cert" and "key" (PEM) instead',
  ciphers: OTHER_TLS,
  minVersion: OTHER_TLS,
  maxVersion: OTHER_TLS,
  secureContext: OTHER_TLS,
  secureProtocol: OTHER_TLS,
  secureOptions: OTHER_TLS,
  sigalgs: OTHER_TLS,
  ecdhCurve: OTHER_TLS,
  crl: OTHER_TLS,
  ALPNProtocols: OTHER_TLS,
  session: OTHER_TLS,
};

/** An integer option, its default when not given. */
function checkInteger(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max?: number,
): number {
  return value === undefined ? fallback : integerOption(name, value, { min, max });
}

function credential(
  name: 'ca' | 'cert' | 'key',
  value: unknown,
): { [K in typeof name]?: TlsCredential | TlsCredential[] } {
  if (value === undefined) return {};
  const isCredential = (item: unknown): item is TlsCredential =>
    typeof item === 'string' || item instanceof Uint8Array;
  if (isCredential(value)) return { [name]: value };
  if (Array.isArray(value) && value.every(isCredential)) return { [name]: [...value] };
  throw optionError(TypeError, name, 'a string, a Uint8Array or an array of them', value);
}

function checkOrigin(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const origin = stringOption('origin', value);
  try {
    // The protocol is the one judge of a request header.
    checkRequestHeaders({ origin });
  } catch (error) {
    throw new TypeError(
      `The "origin" option is not a valid header value: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return origin;
}

function checkHeaders(value: unknown): ResolvedOptions['headers'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(TypeError, 'headers', 'an object of header names to values', value);
  }
  const headers: Record<string, string | readonly string[]> = {};
  for (const [name, item] of Object.entries(value)) {
    if (typeof item === 'string') headers[name] = item;
    else if (Array.isArray(item) && item.every((v) => typeof v === 'string'))
      headers[name] = [...item];
    else
      throw new TypeError(
        `The "headers" option's "${name}" must be a string or an array of strings`,
      );
  }
  try {
    // The protocol's rules, as its request builder applies them: names are
    // tokens and not ones the handshake sets itself, values hold no CR, LF or NUL.
    checkRequestHeaders(headers);
  } catch (error) {
    throw new TypeError(`The "headers" option is invalid: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return headers;
}
