import { Buffer } from 'node:buffer';
import process from 'node:process';
import type { IncomingMessage } from 'node:http';
import {
  type Http2SecureServer,
  type Http2Server,
  Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { isConnectionSpecificHeader } from '@proj/protocol';
import { withStreamAbort } from '@proj/transport';
import type { Rejection } from './rejection.js';

/**
 * WebSocket over HTTP/2 (RFC 8441) on a `node:http2` server: how its
 * extended CONNECT streams reach the WebSocketServer, and the few things a
 * stream needs to stand where a socket stands. The handshake's rules are the
 * protocol's (`validateConnectRequest`, `acceptConnectRequest`).
 */

/** A `node:http2` server, secure or not. */
export type Http2AnyServer = Http2SecureServer | Http2Server;

/** Whether `server` is a `node:http2` server (it has `updateSettings`; `node:http`'s has not). */
export function isHttp2Server(server: object): server is Http2AnyServer {
  return typeof (server as Partial<Http2Server>).updateSettings === 'function';
}

/** The body of the 404 for a WebSocket CONNECT no attached server serves. */
const NO_ENDPOINT = 'No WebSocket endpoint at this path';

/** Streams some attached WebSocketServer took (or left to a foreign `connect` listener). */
const claimed = new WeakSet<ServerHttp2Stream>();

/** What a {@link Http2Routing} calls back. */
export interface Http2RoutingHandlers {
  /** Whether this WebSocketServer serves `request`'s path. */
  matches(request: Http2ServerRequest): boolean;
  /** Takes a matching extended CONNECT request (`request.stream` is the stream). */
  handle(request: Http2ServerRequest): void;
  /** An HTTP/1.1 CONNECT on an `allowHTTP1` server that nobody else listens for. */
  refuseHttp1Connect(request: IncomingMessage, socket: Duplex): void;
}

/**
 * Routes the extended CONNECT streams of one `node:http2` server to one
 * WebSocketServer. Node reports such a stream two ways, and which one depends
 * on the application: with a `request` listener (the compatibility API) as a
 * `connect` event, which, unheard, node answers 405 itself; without one only
 * as a `stream` event. Both are listened to: `connect` takes the stream at
 * once; `stream` waits a tick, so that a `connect` in the same dispatch
 * claims it first, and takes it only if nobody did.
 */
export class Http2Routing {
  readonly #server: Http2AnyServer;
  readonly #handlers: Http2RoutingHandlers;
  /** Every WebSocketServer's routing on this server (for the shared 404 and 405). */
  readonly #siblings: () => readonly Http2Routing[];

  readonly #onConnect = (
    request: Http2ServerRequest | IncomingMessage,
    second: Http2ServerResponse | Duplex,
  ): void => {
    if (!(request instanceof Http2ServerRequest)) {
      // An HTTP/1.1 CONNECT (allowHTTP1): node would have dropped it unheard.
      if (this.#isFirst() && !this.#foreign('connect'))
        this.#handlers.refuseHttp1Connect(request as IncomingMessage, second as Duplex);
      return;
    }
    const h2 = request as Http2ServerRequest;
    if (claimed.has(h2.stream)) return;
    if (isWebSocketConnect(h2.headers) && this.#handlers.matches(h2)) {
      claimed.add(h2.stream);
      this.#handlers.handle(h2);
      return;
    }
    // Not ours: another sibling's, a foreign listener's, or nobody's.
    if (!this.#isFirst() || this.#foreign('connect')) return;
    const siblings = this.#siblings();
    if (isWebSocketConnect(h2.headers) && siblings.some((s) => s.#handlers.matches(h2))) return;
    claimed.add(h2.stream);
    const response = second as Http2ServerResponse;
    if (isWebSocketConnect(h2.headers)) {
      respondToStream(h2.stream, { status: 404, headers: {}, body: NO_ENDPOINT });
    } else {
      // What node answers an unheard CONNECT.
      response.statusCode = 405;
      response.end();
    }
  };

  readonly #onStream = (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    _flags: number,
    rawHeaders: string[],
  ): void => {
    if (!isWebSocketConnect(headers)) return;
    process.nextTick(() => {
      if (claimed.has(stream) || stream.destroyed || stream.headersSent) return;
      const request = new Http2ServerRequest(stream, headers, {}, rawHeaders);
      if (this.#handlers.matches(request)) {
        claimed.add(stream);
        this.#handlers.handle(request);
        return;
      }
      // With a request handler node emits `connect`, where the 404 is decided.
      // Without one, nobody else answers a WebSocket CONNECT for a path no
      // attached server serves (the application's stream listener had its
      // turn, synchronously): the first of them refuses it, as over HTTP/1.1,
      // rather than leave the client waiting on a stream nobody reads.
      if (this.#server.listenerCount('request') > 0 || !this.#isFirst()) return;
      if (this.#siblings().some((s) => s.#handlers.matches(request))) return;
      claimed.add(stream);
      respondToStream(stream, { status: 404, headers: {}, body: NO_ENDPOINT });
    });
  };

  constructor(
    server: Http2AnyServer,
    handlers: Http2RoutingHandlers,
    siblings: () => readonly Http2Routing[],
  ) {
    this.#server = server;
    this.#handlers = handlers;
    this.#siblings = siblings;
    server.on('connect', this.#onConnect);
    server.on('stream', this.#onStream);
  }

  /** Stops routing (the WebSocketServer closes). */
  detach(): void {
    this.#server.off('connect', this.#onConnect);
    this.#server.off('stream', this.#onStream);
  }

  #isFirst(): boolean {
    return this.#siblings()[0] === this;
  }

  /** Whether someone besides the attached WebSocketServers listens for `event`. */
  #foreign(event: 'connect'): boolean {
    return this.#server.listenerCount(event) > this.#siblings().length;
  }
}

/** `:method CONNECT` with `:protocol websocket` (RFC 8441 §4). */
export function isWebSocketConnect(headers: IncomingHttpHeaders): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket';
}

/**
 * Answers a refused extended CONNECT with a status, header fields and a short
 * body, and ends the stream (the HTTP/2 connection stays up for the page).
 */
export function respondToStream(
  stream: ServerHttp2Stream,
  rejection: Pick<Rejection, 'status' | 'headers' | 'body'>,
): void {
  stream.on('error', destroyStream);
  if (stream.destroyed || stream.headersSent || !stream.writable) {
    stream.destroy();
    return;
  }
  const body = rejection.body ?? '';
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(rejection.headers ?? {})) {
    // A refusal made for HTTP/1.1 may carry them; node:http2 would throw.
    if (!isConnectionSpecificHeader(name)) headers[name.toLowerCase()] = value as string | string[];
  }
  headers[':status'] = rejection.status;
  headers['content-type'] = 'text/plain; charset=utf-8';
  headers['content-length'] = Buffer.byteLength(body);
  stream.respond(headers);
  stream.end(body);
}

function destroyStream(this: Duplex): void {
  this.destroy();
}

/** Counters an HTTP/2 stream lacks; a socket has them. */
interface StreamCounts {
  bytesRead: number;
  bytesWritten: number;
  remoteAddress: string | undefined;
}

/**
 * Makes an accepted stream answer what the server reads of a socket: the
 * peer's address (its session's socket's) and the bytes it carried each way,
 * counted here since a stream does not count them.
 */
export function adoptStream(stream: ServerHttp2Stream): ServerHttp2Stream & StreamCounts {
  const adopted = withStreamAbort(stream) as ServerHttp2Stream & StreamCounts;
  adopted.bytesRead = 0;
  adopted.bytesWritten = 0;
  adopted.remoteAddress = stream.session?.socket?.remoteAddress;
  stream.on('data', countRead);
  const write = stream.write;
  adopted.write = function (this: typeof adopted, chunk: unknown, ...rest: unknown[]): boolean {
    this.bytesWritten += (chunk as Uint8Array).byteLength;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof stream.write;
  return adopted;
}

function countRead(this: StreamCounts, chunk: Uint8Array): void {
  this.bytesRead += chunk.byteLength;
}
