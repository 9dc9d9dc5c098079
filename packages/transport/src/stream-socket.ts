/**
 * An HTTP/2 stream as a transport socket (RFC 8441): what a Duplex lacks to
 * stand for a TCP connection.
 * @packageDocumentation
 */
import { type Http2Stream, constants } from 'node:http2';
import type { TransportSocket } from './socket-transport.js';

/**
 * Gives `stream` the abort of a WebSocket over HTTP/2: where a TCP
 * connection is reset, the stream is reset with CANCEL (RFC 8441 §5), not
 * with the NO_ERROR a plain `destroy()` sends. Returns the stream.
 */
export function withStreamAbort<S extends Http2Stream>(stream: S): S & TransportSocket {
  const socket = stream as S & TransportSocket & { abort: () => void };
  socket.abort = abortStream;
  return socket;
}

/** Shared by every stream: no closure per connection. */
function abortStream(this: Http2Stream): void {
  this.close(constants.NGHTTP2_CANCEL);
}
