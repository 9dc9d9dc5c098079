import type { IncomingMessage } from 'node:http';
import { Http2ServerRequest } from 'node:http2';

/**
 * The request of an opening handshake, as the hooks and events see it: an
 * `IncomingMessage` for an HTTP/1.1 Upgrade, an `Http2ServerRequest` for an
 * RFC 8441 extended CONNECT stream of an HTTP/2 server. Both have `headers`,
 * `url`, `method` and `socket`; {@link isHttp2Request} says which
 * protocol carried it, and over HTTP/2 `request.stream` is the stream.
 */
export type UpgradeRequest = IncomingMessage | Http2ServerRequest;

/**
 * Whether `request` came as an HTTP/2 extended CONNECT stream (RFC 8441).
 * By its class, not its version: an HTTP/1.1 parser reports whatever version
 * the request line claims, `HTTP/2.0` included.
 */
export function isHttp2Request(request: UpgradeRequest): request is Http2ServerRequest {
  return request instanceof Http2ServerRequest;
}
