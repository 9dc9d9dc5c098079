import { decodeBase64, encodeBase64 } from './base64.js';
import { WEBSOCKET_GUID } from './constants.js';
import { ExtensionError, HandshakeError, HandshakeRejectedError } from './errors.js';
import {
  type Extension,
  hasToken,
  isToken,
  parseExtensions,
  parseTokenList,
} from './header-values.js';
import {
  type HttpHeaders,
  type HttpRequestHead,
  type HttpResponseHead,
  headerValue,
} from './http1.js';
import { sha1 as pureSha1 } from './sha1.js';

/** A SHA-1 implementation: the pure one by default, `node:crypto` where available. */
export type Sha1 = (data: Uint8Array) => Uint8Array;

/** Bytes of random drawn at once for keys: 256 keys per `getRandomValues` call. */
const KEY_POOL_SIZE = 4096;
const KEY_SIZE = 16;
let keyPool: Uint8Array<ArrayBuffer> | undefined;
let keyOffset = KEY_POOL_SIZE;

/**
 * A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes (RFC 6455 §4.1),
 * from `crypto.getRandomValues` drawn 4 KiB at a time. One call costs about
 * 5 µs on Node 20, whatever its size (a system call), and a reconnecting
 * client makes a key per attempt. Each byte is used once.
 */
export function generateKey(): string {
  if (keyOffset === KEY_POOL_SIZE) {
    keyPool ??= new Uint8Array(KEY_POOL_SIZE);
    crypto.getRandomValues(keyPool);
    keyOffset = 0;
  }
  const key = keyPool!.subarray(keyOffset, keyOffset + KEY_SIZE);
  keyOffset += KEY_SIZE;
  return encodeBase64(key);
}

const utf8Encoder = new TextEncoder();

/**
 * `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2).
 * RFC 6455 §1.3: `dGhlIHNhbXBsZSBub25jZQ==` → `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
 */
export function acceptKey(key: string, hash: Sha1 = pureSha1): string {
  return encodeBase64(hash(utf8Encoder.encode(key + WEBSOCKET_GUID)));
}

/** What a valid opening handshake request asks for. */
export interface ValidatedRequest {
  /** The `Sec-WebSocket-Key`. */
  readonly key: string;
  /** Subprotocols offered, in the client's order of preference. */
  readonly protocols: readonly string[];
  /** Extensions offered, in order. */
  readonly extensions: readonly Extension[];
  /** The `Origin` header, when the client sent one (browsers always do). */
  readonly origin: string | undefined;
}

/**
 * Checks a client's opening handshake (RFC 6455 §4.2.1).
 * @throws {HandshakeError} naming the failed check, with the status to answer:
 *   405 for a method other than GET, 426 (with `Sec-WebSocket-Version: 13`)
 *   for another protocol version, 400 for everything else.
 */
export function validateRequest(
  request: Pick<HttpRequestHead, 'method' | 'httpVersion' | 'headers'>,
): ValidatedRequest {
  const { headers } = request;
  // 1. "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1."
  if (request.method !== 'GET') {
    throw new HandshakeError('WS_ERR_HANDSHAKE_METHOD', 405, 'Method must be GET', {
      allow: 'GET',
    });
  }
  const [major = 0, minor = 0] = request.httpVersion.split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 1)) {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_HTTP_VERSION',
      400,
      'HTTP version must be at least 1.1',
    );
  }
  // 2. A |Host| header field.
  const host = single(headers, 'host');
  if (!host) throw new HandshakeError('WS_ERR_HANDSHAKE_HOST', 400, 'Missing Host header');
  // 3. |Upgrade| including "websocket"; 4. |Connection| including "Upgrade".
  if (!hasToken(headerValue(headers, 'upgrade'), 'websocket')) {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_UPGRADE',
      400,
      'Upgrade header must include "websocket"',
    );
  }
  if (!hasToken(headerValue(headers, 'connection'), 'upgrade')) {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_CONNECTION',
      400,
      'Connection header must include "Upgrade"',
    );
  }
  // 5. |Sec-WebSocket-Key|: base64 of a 16-byte value.
  const key = single(headers, 'sec-websocket-key');
  if (key === undefined || decodeBase64(key)?.length !== 16) {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_KEY',
      400,
      'Sec-WebSocket-Key must be base64 of 16 bytes',
    );
  }
  return { key, ...validateOffers(headers) };
}

/**
 * The handshake fields RFC 6455 and RFC 8441 share (§4.2.1 steps 6, 8 and 9,
 * and `Origin`): the version, the offered subprotocols and extensions.
 * @throws {HandshakeError} as {@link validateRequest}.
 * @internal
 */
export function validateOffers(headers: HttpHeaders): Omit<ValidatedRequest, 'key'> {
  // 6. |Sec-WebSocket-Version| 13; another version gets 426 naming ours (§4.4).
  const version = single(headers, 'sec-websocket-version');
  if (version === undefined || !/^\d{1,3}$/.test(version)) {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_VERSION',
      400,
      'Missing or malformed Sec-WebSocket-Version',
      {
        'sec-websocket-version': '13',
      },
    );
  }
  if (version !== '13') {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_VERSION',
      426,
      'Unsupported Sec-WebSocket-Version; this server speaks 13',
      {
        'sec-websocket-version': '13',
      },
    );
  }
  // 8. Optional |Sec-WebSocket-Protocol|: a list of distinct tokens.
  let protocols: string[] = [];
  const protocolHeader = headerValue(headers, 'sec-websocket-protocol');
  if (protocolHeader !== undefined) {
    const parsed = parseTokenList(protocolHeader);
    if (!parsed || new Set(parsed).size !== parsed.length) {
      throw new HandshakeError(
        'WS_ERR_HANDSHAKE_PROTOCOL',
        400,
        'Malformed Sec-WebSocket-Protocol header',
      );
    }
    protocols = parsed;
  }
  // 9. Optional |Sec-WebSocket-Extensions|.
  let extensions: Extension[] = [];
  const extensionHeader = headerValue(headers, 'sec-websocket-extensions');
  if (extensionHeader !== undefined) {
    const parsed = parseExtensions(extensionHeader);
    if (!parsed) {
      throw new HandshakeError(
        'WS_ERR_HANDSHAKE_EXTENSIONS',
        400,
        'Malformed Sec-WebSocket-Extensions header',
      );
    }
    extensions = parsed;
  }
  return { protocols, extensions, origin: single(headers, 'origin') };
}

/** The 101 answer to a validated request. */
export interface AcceptOptions {
  /** The request's `Sec-WebSocket-Key`. */
  key: string;
  /**
   * The subprotocols the client offered (`ValidatedRequest.protocols`). When
   * given, `protocol` must be one of them; {@link acceptRequest} always gives
   * them.
   */
  offered?: readonly string[] | undefined;
  /**
   * The chosen subprotocol: must be one the client offered. `undefined` for
   * none (`""` too, unless `offered` is given).
   */
  protocol?: string | undefined;
  /** The accepted extensions' `Sec-WebSocket-Extensions` value. */
  extensions?: string | undefined;
  /** Extra header fields, e.g. `Set-Cookie`. */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
  /** SHA-1 to compute the accept key with. */
  sha1?: Sha1 | undefined;
  /**
   * The `Sec-WebSocket-Accept` value, already computed (`acceptKey(key)`), for
   * a caller with a faster way to hash to base64 (Node's one-shot
   * `crypto.hash`); `key` and `sha1` are then not used for it.
   */
  accept?: string | undefined;
}

/**
 * Accepts a request that passed {@link validateRequest}: the
 * `101 Switching Protocols` head for what the server chose, blank line
 * included (python-websockets' `ServerProtocol.accept`). The chosen
 * subprotocol must be one the request offered: a client fails the connection
 * on any other (RFC 6455 §4.1), so the server is told here, before a byte is
 * written, instead of the client failing after the 101.
 * @throws {TypeError} for a subprotocol the client did not offer, or one that
 *   is not a token; a header name or value that would break the head.
 */
export function acceptRequest(
  request: Pick<ValidatedRequest, 'key' | 'protocols'>,
  options: Omit<AcceptOptions, 'key' | 'offered'> = {},
): string {
  return buildAcceptResponse({ ...options, key: request.key, offered: request.protocols });
}

/**
 * Builds the `101 Switching Protocols` response head, blank line included.
 * {@link acceptRequest} builds it from the validated request itself.
 * @throws {TypeError} as {@link acceptRequest}; the offered-subprotocol rule
 *   only when `offered` is given.
 */
export function buildAcceptResponse(options: AcceptOptions): string {
  let head =
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${options.accept ?? acceptKey(options.key, options.sha1)}\r\n`;
  // "" means no subprotocol, as in ServerConnection: an empty header field makes browsers fail.
  // With the offer known, anything but `undefined` is a choice to check ("" too).
  if (options.offered && options.protocol !== undefined) {
    if (!options.offered.includes(options.protocol)) {
      throw new TypeError(
        `Subprotocol "${String(options.protocol)}" was chosen, but the client did not offer it`,
      );
    }
  }
  if (options.protocol) {
    if (!isToken(options.protocol)) {
      throw new TypeError(`Subprotocol "${options.protocol}" is not a valid token`);
    }
    head += `Sec-WebSocket-Protocol: ${options.protocol}\r\n`;
  }
  if (options.extensions) head += `Sec-WebSocket-Extensions: ${checkValue(options.extensions)}\r\n`;
  head += formatHeaders(options.headers);
  return head + '\r\n';
}

/** An HTTP refusal of a handshake. */
export interface RejectOptions {
  /** Extra header fields. */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
  /** A short plain-text body; the status text when omitted. */
  body?: string | undefined;
}

/**
 * Builds a complete HTTP error response (head and body) that closes the
 * connection, e.g. for a {@link HandshakeError}'s `status` and `headers`.
 */
export function buildRejectResponse(status: number, options: RejectOptions = {}): string {
  const reason = STATUS_TEXT[status] ?? 'Error';
  const body = options.body ?? reason;
  const bodyBytes = utf8Encoder.encode(body).length;
  return (
    `HTTP/1.1 ${status} ${reason}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${bodyBytes}\r\n` +
    formatHeaders(options.headers) +
    '\r\n' +
    body
  );
}

/** What the client asks for in its opening handshake. */
export interface ClientRequestOptions {
  /** `host` or `host:port`, as the `Host` header should read. */
  host: string;
  /** Path and query, e.g. `/chat?room=1`. Default `/`. */
  path?: string | undefined;
  /** The `Sec-WebSocket-Key`; from {@link generateKey}. */
  key: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[] | undefined;
  /** A `Sec-WebSocket-Extensions` offer. */
  extensions?: string | undefined;
  /** The `Origin` header. */
  origin?: string | undefined;
  /** Extra header fields. */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
}

/**
 * Request header fields that the opening handshake sets itself (RFC 6455
 * §4.1), by lower-case name. Extra headers may not repeat them: a second
 * `Host` or `Upgrade` is a request that proxies and servers read
 * differently (RFC 7230 §5.4 answers a second `Host` with 400).
 */
export const RESERVED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * Checks extra header fields for a client's opening handshake, as
 * {@link buildClientRequest} does: every name a token and not one of
 * {@link RESERVED_REQUEST_HEADERS}, every value free of CR, LF and NUL.
 * For an I/O layer that checks its options before it connects.
 * @throws {TypeError} naming the header.
 */
export function checkRequestHeaders(
  headers: Readonly<Record<string, string | readonly string[]>> | undefined,
): void {
  formatRequestHeaders(headers);
}

/**
 * Builds the client's opening handshake request head (RFC 6455 §4.1).
 * @throws {TypeError} for a protocol that is not a token, a header the
 *   handshake sets itself ({@link RESERVED_REQUEST_HEADERS}), or a header
 *   name or value that would break the head (header injection).
 */
export function buildClientRequest(options: ClientRequestOptions): string {
  const protocols = options.protocols ?? [];
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new TypeError(`Subprotocol "${protocol}" is not a valid token`);
  }
  let head =
    `GET ${checkTarget(options.path ?? '/')} HTTP/1.1\r\n` +
    `Host: ${checkValue(options.host)}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${checkValue(options.key)}\r\n` +
    'Sec-WebSocket-Version: 13\r\n';
  if (protocols.length > 0) head += `Sec-WebSocket-Protocol: ${protocols.join(', ')}\r\n`;
  if (options.extensions) head += `Sec-WebSocket-Extensions: ${checkValue(options.extensions)}\r\n`;
  if (options.origin !== undefined) head += `Origin: ${checkValue(options.origin)}\r\n`;
  head += formatRequestHeaders(options.headers);
  return head + '\r\n';
}

/** What the client offered, to check the server's answer against. */
export interface ExpectedResponse {
  /** The key the request carried. */
  key: string;
  /** Subprotocols offered. */
  protocols?: readonly string[] | undefined;
  /** Names of extensions offered. */
  extensions?: readonly string[] | undefined;
  sha1?: Sha1 | undefined;
  /**
   * Fail an answer that chose no subprotocol when some were offered: the
   * WHATWG WebSocket's rule (browsers and `ws` fail such a connection). RFC
   * 6455 itself allows the answer. Default `false`.
   */
  requireProtocol?: boolean | undefined;
}

/** What a valid 101 response settled. */
export interface ValidatedResponse {
  /** The subprotocol the server chose, or `""`. */
  readonly protocol: string;
  /** The extensions the server accepted, parsed. */
  readonly extensions: readonly Extension[];
  /** The raw `Sec-WebSocket-Extensions` value, or `""`. */
  readonly extensionsHeader: string;
}

/**
 * Checks the server's answer to the opening handshake (RFC 6455 §4.1, the
 * client's steps 1-6). Each failure names the check that failed.
 * @throws {HandshakeRejectedError} with the status and headers received;
 *   an {@link ExtensionError} for the extensions.
 */
export function validateResponse(
  response: HttpResponseHead,
  expected: ExpectedResponse,
): ValidatedResponse {
  const { status, headers } = response;
  const fail = (
    code: ConstructorParameters<typeof HandshakeRejectedError>[0],
    message: string,
  ): HandshakeRejectedError => new HandshakeRejectedError(code, status, message, headers);
  // 1. "If the status code received from the server is not 101, the client handles
  //    the response per HTTP procedures", which for us is failing the connection.
  if (status !== 101)
    throw fail('WS_ERR_HANDSHAKE_STATUS', `Unexpected server response: ${status}`);
  // 2. |Upgrade| must be "websocket" (an ASCII case-insensitive match, not a
  //    list that includes it); 3. |Connection| must include the token "Upgrade".
  if (headers['upgrade']?.toLowerCase() !== 'websocket') {
    throw fail('WS_ERR_HANDSHAKE_UPGRADE', 'Upgrade header must be "websocket"');
  }
  if (!hasToken(headers['connection'], 'upgrade')) {
    throw fail('WS_ERR_HANDSHAKE_CONNECTION', 'Connection header must include "Upgrade"');
  }
  // 4. |Sec-WebSocket-Accept| must match the key.
  if (headers['sec-websocket-accept'] !== acceptKey(expected.key, expected.sha1)) {
    throw fail('WS_ERR_HANDSHAKE_ACCEPT', 'Sec-WebSocket-Accept does not match the key');
  }
  return checkNegotiated(response, expected);
}

/**
 * The client's checks of what the server chose, shared by RFC 6455 (§4.1
 * steps 5 and 6) and RFC 8441: extensions and subprotocol among those offered.
 * @throws {HandshakeRejectedError} or {@link ExtensionError}, carrying the response.
 * @internal
 */
export function checkNegotiated(
  response: Pick<HttpResponseHead, 'status' | 'headers'>,
  expected: Pick<ExpectedResponse, 'protocols' | 'extensions' | 'requireProtocol'>,
): ValidatedResponse {
  const { status, headers } = response;
  const fail = (
    code: ConstructorParameters<typeof HandshakeRejectedError>[0],
    message: string,
  ): HandshakeRejectedError => new HandshakeRejectedError(code, status, message, headers);
  const failExtensions = (message: string): ExtensionError =>
    new ExtensionError(message, status, headers);
  // 5. Extensions must be among those offered.
  const extensionsHeader = headers['sec-websocket-extensions'] ?? '';
  let extensions: Extension[] = [];
  if (extensionsHeader !== '') {
    const parsed = parseExtensions(extensionsHeader);
    if (!parsed) throw failExtensions('Malformed Sec-WebSocket-Extensions header');
    const offered = new Set(expected.extensions ?? []);
    const unexpected = parsed.find((extension) => !offered.has(extension.name));
    if (unexpected) {
      throw failExtensions(`Server accepted extension "${unexpected.name}" that was not offered`);
    }
    extensions = parsed;
  }
  // 6. The subprotocol, if any, must be one that was offered.
  const protocol = headers['sec-websocket-protocol'] ?? '';
  const offered = expected.protocols ?? [];
  if (protocol !== '') {
    if (!offered.includes(protocol)) {
      throw fail(
        'WS_ERR_HANDSHAKE_PROTOCOL',
        `Server chose subprotocol "${protocol}" that was not offered`,
      );
    }
  } else if (expected.requireProtocol === true && offered.length > 0) {
    throw fail(
      'WS_ERR_HANDSHAKE_PROTOCOL',
      `Server chose no subprotocol; offered: ${offered.join(', ')}`,
    );
  }
  return { protocol, extensions, extensionsHeader };
}

/** A header that must appear at most once, as one string. */
function single(headers: HttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === 'string') return value;
  return value.length === 1 ? value[0] : undefined;
}

/** @internal */
export function checkValue(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new TypeError('Header values must not contain CR, LF or NUL');
  return value;
}

/** A request target may hold no whitespace or control characters (RFC 7230 §5.3). */
/** @internal */
export function checkTarget(target: string): string {
  if (!/^[\x21-\x7e\x80-\uffff]+$/.test(target)) {
    throw new TypeError(
      'The request path must not be empty or contain spaces or control characters',
    );
  }
  return target;
}

function formatRequestHeaders(
  headers: Readonly<Record<string, string | readonly string[]>> | undefined,
): string {
  for (const name of Object.keys(headers ?? {})) {
    if (RESERVED_REQUEST_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`Header "${name}" is set by the opening handshake itself`);
    }
  }
  return formatHeaders(headers);
}

function formatHeaders(
  headers: Readonly<Record<string, string | readonly string[]>> | undefined,
): string {
  if (!headers) return '';
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!isToken(name)) throw new TypeError(`Invalid header name "${name}"`);
    for (const item of typeof value === 'string' ? [value] : value)
      out += `${name}: ${checkValue(item)}\r\n`;
  }
  return out;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
