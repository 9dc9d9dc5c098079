/**
 * WebSocket over HTTP/2 (RFC 8441): the opening handshake as an extended
 * CONNECT stream instead of an HTTP/1.1 Upgrade. Everything after it is RFC
 * 6455 framing on the stream's DATA, unchanged: masking, closing handshake
 * and extensions included. What differs is only the handshake, and that is
 * header fields, never bytes: the I/O layer (`node:http2`) carries them.
 *
 * - The request is `:method CONNECT` with `:protocol websocket`, `:scheme`,
 *   `:path` and `:authority` (§4, §5); no `Upgrade`, `Connection` or
 *   `Sec-WebSocket-Key` (§5: "not used"), which HTTP/2 forbids anyway.
 * - `Sec-WebSocket-Version`, `-Protocol`, `-Extensions` and `Origin` mean
 *   what they mean in RFC 6455.
 * - Success is any 2xx status (§5), with no `Sec-WebSocket-Accept`.
 * - The server may only be asked once it sent
 *   `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (§3).
 */
import { HandshakeError, HandshakeRejectedError } from './errors.js';
import {
  type ExpectedResponse,
  RESERVED_REQUEST_HEADERS,
  type ValidatedRequest,
  type ValidatedResponse,
  checkNegotiated,
  checkTarget,
  checkValue,
  validateOffers,
} from './handshake.js';
import { isToken } from './header-values.js';
import { type HttpHeaders, headerValue } from './http1.js';

/** What a valid extended CONNECT request asks for: a {@link ValidatedRequest} without a key. */
export type ValidatedConnectRequest = Omit<ValidatedRequest, 'key'>;

/**
 * Header fields HTTP/2 forbids (RFC 9113 §8.2.2): connection-specific ones.
 * A response or request carrying them is malformed, so they are refused
 * before `node:http2` throws on them mid-handshake.
 */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Checks an extended CONNECT request (RFC 8441 §4-5), given its header
 * fields with the pseudo-headers (`:method`, `:protocol`, ...), as
 * `node:http2` hands them over.
 * @throws {HandshakeError} naming the failed check, with the status to
 *   answer: 405 (with `Allow: CONNECT`) for another method, 400 for a missing
 *   or other `:protocol`, `:scheme`, `:path` or `:authority`, then the RFC
 *   6455 checks of version (400 or 426), subprotocols and extensions.
 */
export function validateConnectRequest(headers: HttpHeaders): ValidatedConnectRequest {
  if (headerValue(headers, ':method') !== 'CONNECT') {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_METHOD',
      405,
      'Method must be CONNECT over HTTP/2 (RFC 8441)',
      { allow: 'CONNECT' },
    );
  }
  if (headerValue(headers, ':protocol') !== 'websocket') {
    throw new HandshakeError(
      'WS_ERR_HANDSHAKE_UPGRADE',
      400,
      'The :protocol pseudo-header must be "websocket"',
    );
  }
  for (const name of [':scheme', ':path', ':authority']) {
    if (!headerValue(headers, name)) {
      throw new HandshakeError(
        'WS_ERR_HANDSHAKE_MALFORMED',
        400,
        `An extended CONNECT request needs the ${name} pseudo-header`,
      );
    }
  }
  return validateOffers(headers);
}

/** What the server answers a valid extended CONNECT request with. */
export interface ConnectAcceptOptions {
  /** The chosen subprotocol: one the client offered; `undefined` or `""` for none. */
  protocol?: string | undefined;
  /** The accepted extensions' `Sec-WebSocket-Extensions` value. */
  extensions?: string | undefined;
  /** Extra header fields, e.g. `set-cookie`; sent with lower-case names. */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
}

/**
 * The response header fields accepting a request that passed
 * {@link validateConnectRequest}: `:status` 200 and what was chosen. The same
 * rule as over HTTP/1.1 (`acceptRequest`): the subprotocol must be one the
 * client offered, so the server learns of its mistake before answering.
 * @throws {TypeError} for a subprotocol not offered or not a token, a header
 *   name that is not a token, a pseudo-header or connection-specific field,
 *   or a value with CR, LF or NUL.
 */
export function acceptConnectRequest(
  request: Pick<ValidatedConnectRequest, 'protocols'>,
  options: ConnectAcceptOptions = {},
): Record<string, string | string[]> {
  const response: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = checkFieldName(name);
    if (lower === 'sec-websocket-protocol' || lower === 'sec-websocket-extensions') {
      throw new TypeError(`Header "${name}" is set by the opening handshake itself`);
    }
    response[lower] = typeof value === 'string' ? checkValue(value) : value.map(checkValue);
  }
  const { protocol } = options;
  if (protocol !== undefined && protocol !== '') {
    if (!request.protocols.includes(protocol)) {
      throw new TypeError(`Subprotocol "${protocol}" was chosen, but the client did not offer it`);
    }
    if (!isToken(protocol)) throw new TypeError(`Subprotocol "${protocol}" is not a valid token`);
    response['sec-websocket-protocol'] = protocol;
  }
  if (options.extensions) response['sec-websocket-extensions'] = checkValue(options.extensions);
  response[':status'] = '200';
  return response;
}

/** What the client asks for in an extended CONNECT request. */
export interface ConnectRequestOptions {
  /** `host` or `host:port`, the `:authority`. */
  authority: string;
  /** `https` for `wss:` URLs, `http` for `ws:` (RFC 8441 §5). */
  scheme: 'https' | 'http';
  /** Path and query, e.g. `/chat?room=1`. Default `/`. */
  path?: string | undefined;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[] | undefined;
  /** A `Sec-WebSocket-Extensions` offer. */
  extensions?: string | undefined;
  /** The `Origin` header. */
  origin?: string | undefined;
  /** Extra header fields (not the ones the handshake sets itself). */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
}

/**
 * The header fields of a client's extended CONNECT request (RFC 8441 §5),
 * pseudo-headers first, lower-case names, for `ClientHttp2Session.request`.
 * @throws {TypeError} as `buildClientRequest`: a subprotocol that is not a
 *   token, a header the handshake sets itself, a connection-specific field,
 *   or a name or value that would be malformed.
 */
export function buildConnectRequest(options: ConnectRequestOptions): Record<string, string> {
  const request: Record<string, string> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': options.scheme,
    ':path': checkTarget(options.path ?? '/'),
    ':authority': checkValue(options.authority),
    'sec-websocket-version': '13',
  };
  const protocols = options.protocols ?? [];
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new TypeError(`Subprotocol "${protocol}" is not a valid token`);
  }
  if (protocols.length > 0) request['sec-websocket-protocol'] = protocols.join(', ');
  if (options.extensions) request['sec-websocket-extensions'] = checkValue(options.extensions);
  if (options.origin !== undefined) request['origin'] = checkValue(options.origin);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = checkFieldName(name);
    if (RESERVED_REQUEST_HEADERS.has(lower) || lower === 'origin') {
      throw new TypeError(`Header "${name}" is set by the opening handshake itself`);
    }
    // HTTP/2 carries one field per value; joined as HTTP/1.1 would (RFC 9110 §5.3).
    request[lower] =
      typeof value === 'string' ? checkValue(value) : value.map(checkValue).join(', ');
  }
  return request;
}

/**
 * Checks the server's answer to an extended CONNECT request (RFC 8441 §5):
 * a 2xx status, then the subprotocol and extensions as in RFC 6455.
 * @throws {HandshakeRejectedError} `WS_ERR_HANDSHAKE_STATUS` with the status
 *   and headers received, or for the subprotocol; an `ExtensionError`.
 */
export function validateConnectResponse(
  response: { readonly status: number; readonly headers: Readonly<Record<string, string>> },
  expected: Pick<ExpectedResponse, 'protocols' | 'extensions' | 'requireProtocol'>,
): ValidatedResponse {
  if (response.status < 200 || response.status > 299) {
    throw new HandshakeRejectedError(
      'WS_ERR_HANDSHAKE_STATUS',
      response.status,
      `Unexpected server response: ${response.status}`,
      response.headers,
    );
  }
  return checkNegotiated(response, expected);
}

/**
 * Whether HTTP/2 forbids the header field `name` (any case) as
 * connection-specific (RFC 9113 §8.2.2): `connection`, `keep-alive`,
 * `proxy-connection`, `transfer-encoding`, `upgrade`. A response that
 * carries one is malformed; `node:http2` throws on it.
 */
export function isConnectionSpecificHeader(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name.toLowerCase());
}

/** A header name for HTTP/2: a token, lower-cased, neither pseudo nor connection-specific. */
function checkFieldName(name: string): string {
  if (!isToken(name)) throw new TypeError(`Invalid header name "${name}"`);
  const lower = name.toLowerCase();
  if (CONNECTION_SPECIFIC.has(lower)) {
    throw new TypeError(`Header "${name}" is connection-specific, which HTTP/2 forbids`);
  }
  return lower;
}
