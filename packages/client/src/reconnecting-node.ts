/**
 * The Node binding of {@link ReconnectingWebSocketBase}: over our own
 * WebSocket and event classes, with Node's `WebSocketOptions` as
 * `socketOptions` and the token as a request header when asked.
 * @packageDocumentation
 */
import { setMaxListeners } from 'node:events';
import { CloseEvent, ErrorEvent, MessageEvent } from './events.js';
import { type WebSocketOptions, resolveOptions } from './options.js';
import {
  type ProtocolsSource,
  ReconnectingWebSocketBase,
  type ReconnectOptions,
  type UrlSource,
  type WebSocketRuntime,
} from './reconnecting-websocket.js';
import { WebSocket } from './websocket.js';

/** Options of a Node {@link ReconnectingWebSocket}: `socketOptions` takes a WebSocket's Node-only options. */
export type ReconnectingWebSocketOptions = ReconnectOptions<WebSocketOptions>;

const nodeRuntime: WebSocketRuntime<WebSocket, WebSocketOptions> = {
  requestHeaders: true,
  checkSocketOptions(value) {
    // The WebSocket constructor's own check, now rather than at the first attempt.
    resolveOptions(value);
    return value as WebSocketOptions;
  },
  connect(url, protocols, headers, socketOptions) {
    // The option check refused an Authorization header beside a header token.
    const options = headers
      ? { ...socketOptions, headers: { ...socketOptions?.headers, ...headers } }
      : socketOptions;
    return new WebSocket(url, protocols, options);
  },
  CloseEvent,
  // Ours builds what it is given; the message type is the WebSocket's.
  MessageEvent: MessageEvent as WebSocketRuntime<WebSocket>['MessageEvent'],
  ErrorEvent,
};

/**
 * A WebSocket that reconnects, over this package's Node WebSocket: the same
 * import and the same behaviour as in browsers, where it wraps the native
 * WebSocket. See {@link ReconnectingWebSocketBase} for the behaviour and the
 * README ("Reconnecting", "Resumable sessions") for the options and events.
 *
 * ```ts
 * const ws = new ReconnectingWebSocket('wss://example.com/feed', 'feed.v1', {
 *   token: () => auth.freshToken(),
 *   maxRetryTime: 10 * 60_000,
 * });
 * ws.onmessage = (event) => render(event.data);
 * ws.addEventListener('reconnecting', (event) => console.log(`retry ${event.attempt} in ${event.delay} ms`));
 * ```
 */
export class ReconnectingWebSocket extends ReconnectingWebSocketBase<WebSocket, WebSocketOptions> {
  /**
   * Starts connecting, in a later task.
   * @param url - a `ws:`, `wss:`, `http:` or `https:` URL, or a function
   *   called before every attempt that returns one (or a promise of one).
   * @param protocols - subprotocols in order of preference, or a function
   *   called before every attempt that returns them.
   * @param options - see {@link ReconnectingWebSocketOptions}.
   * @throws {DOMException} `SyntaxError` for a URL or protocols a WebSocket would refuse.
   * @throws {TypeError} or {RangeError} for an invalid option, naming it.
   */
  constructor(url: UrlSource, protocols?: ProtocolsSource, options?: ReconnectingWebSocketOptions) {
    super(nodeRuntime, url, protocols, options);
    // Browsers do not limit listeners; Node's EventTarget warns past 10.
    setMaxListeners(0, this);
  }
}

export * from './reconnecting-exports.js';
