/**
 * The Node-only third argument of the WebSocket constructor: its types, its
 * defaults and its validation. Browsers ignore a third argument, so code that
 * passes one stays portable.
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
  optionError,
  stringOption,
} from '@proj/protocol';

/** A PEM string or DER/PEM bytes (a `Buffer` is a `Uint8Array`). */
export type TlsCredential = string | Uint8Array;

/**
 * Node-only options: `new WebSocket(url, protocols, options)`. All optional.
 * Times are in milliseconds.
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
   * How long DNS, TCP, TLS and the HTTP upgrade together may take before the
   * connection fails (`error`, then `close` with 1006). Default 30 000.
   */
  handshakeTimeout?: number | undefined;
  /**
   * How long to wait for the server to close the TCP connection once the
   * closing handshake has started (or the connection failed) before
   * destroying the socket (`close` with 1006). Default 30 000.
   */
  closeTimeout?: number | undefined;
  /** Largest message accepted, in bytes; a larger one fails the connection with 1009. Default 16 MiB. */
  maxPayload?: number | undefined;
  /** Most frames in one message; more fail the connection with 1008. Default 131 072. */
  maxFragments?: number | undefined;
  /**
   * Offer permessage-deflate (RFC 7692), as browsers always do: `true` or
   * options. With it, `maxPayload` counts inflated bytes. Default `false`:
   * opt in, as on the server, so that zlib memory and CPU are a choice.
   */
  perMessageDeflate?: boolean | DeflateOptions | undefined;
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
}

/** {@link WebSocketOptions} with every default applied. */
export interface ResolvedOptions {
  readonly headers: Readonly<Record<string, string | readonly string[]>> | undefined;
  readonly origin: string | undefined;
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly maxPayload: number;
  readonly maxFragments: number;
  /** permessage-deflate settings, `null` when not offered. */
  readonly deflate: ResolvedDeflateOptions | null;
  readonly tls: {
    readonly ca?: TlsCredential | TlsCredential[];
    readonly cert?: TlsCredential | TlsCredential[];
    readonly key?: TlsCredential | TlsCredential[];
    readonly rejectUnauthorized: boolean;
    readonly servername: string | undefined;
  };
}

/** Default of `handshakeTimeout` and `closeTimeout`: 30 s. */
export const DEFAULT_TIMEOUT = 30_000;

/** The largest delay Node's timers accept. */
const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * Checks the third constructor argument and applies the defaults.
 * @throws {TypeError} for an option of the wrong type, or a header that is
 *   malformed or belongs to the handshake.
 * @throws {RangeError} for a number out of range.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') {
    throw new TypeError('The "options" argument must be an object');
  }
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
    maxPayload: checkInteger('maxPayload', o.maxPayload, DEFAULT_MAX_PAYLOAD, 0),
    maxFragments: checkInteger('maxFragments', o.maxFragments, DEFAULT_MAX_FRAGMENTS, 1),
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
  };
}

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
