/**
 * The error a connection through an HTTP proxy fails with when the proxy,
 * not the WebSocket server, is what went wrong: unreachable, closed, an
 * answer that is not HTTP, or a CONNECT it refused. What happens after the
 * tunnel is up (TLS with the server, the opening handshake) reports the
 * errors a direct connection reports.
 * @packageDocumentation
 */

/**
 * Stable codes of {@link ProxyError}; match on them, never on the message.
 *
 * - `WS_ERR_PROXY_UNREACHABLE`: no TCP connection to the proxy (refused,
 *   DNS, reset); the socket error is `cause`.
 * - `WS_ERR_PROXY_CLOSED`: the proxy closed the connection before it
 *   finished answering CONNECT.
 * - `WS_ERR_PROXY_MALFORMED`: its answer is not an HTTP/1.x response head,
 *   or its head does not end within 16 KiB.
 * - `WS_ERR_PROXY_STATUS`: it answered CONNECT with a status other than 2xx
 *   (`status`); 407 means it wants credentials.
 */
export type ProxyErrorCode =
  | 'WS_ERR_PROXY_UNREACHABLE'
  | 'WS_ERR_PROXY_CLOSED'
  | 'WS_ERR_PROXY_MALFORMED'
  | 'WS_ERR_PROXY_STATUS';

/**
 * A connection through an HTTP proxy failed at the proxy. Reported as the
 * `error` event's `error` (then `close` with 1006), like every failure
 * before the connection is established.
 *
 * The message names the proxy by its URL without credentials, and says for
 * a 407 whether credentials were sent.
 */
export class ProxyError extends Error {
  /** Stable machine-readable code. */
  readonly code: ProxyErrorCode;
  /** The status the proxy answered CONNECT with; `0` when no status line was read. */
  readonly status: number;
  /** The proxy, as `http://host:port`: never its credentials. */
  readonly proxy: string;

  constructor(
    code: ProxyErrorCode,
    proxy: string,
    status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.proxy = proxy;
    this.status = status;
  }

  override get name(): string {
    return 'ProxyError';
  }
}
