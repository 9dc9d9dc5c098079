/**
 * `@proj/client` in browsers: the browser's own WebSocket and event classes,
 * with the DOM's types, and `ReconnectingWebSocket` over that WebSocket.
 * Nothing of the Node implementation is imported here, not even a type (the
 * reconnecting class is runtime-neutral), so these declarations need
 * `lib: ["dom"]` and nothing of Node's (`@types/node`, `Buffer`): a browser
 * project compiles against them with `skipLibCheck` off. What only Node has
 * (`ping()`, `PongEvent`, the third constructor argument and its
 * `WebSocketOptions`, a reconnecting socket's `socketOptions` and header
 * token) is in the Node entry only.
 * @packageDocumentation
 */
import type { ProtocolsSource, ReconnectOptions, UrlSource } from './reconnect-options.js';
import { ReconnectingWebSocketBase, type WebSocketRuntime } from './reconnecting-websocket.js';

/** Exported as in the Node entry, so the same imports work; browsers never report them. */
export { HandshakeError, HandshakeRejectedError, WebSocketError } from '@proj/protocol';

/**
 * The browser's `WebSocket`: the value and the type are the DOM's own.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
export const WebSocket: typeof globalThis.WebSocket = globalThis.WebSocket;
/** A browser `WebSocket`. */
export type WebSocket = globalThis.WebSocket;

/** The browser's `CloseEvent`. */
export const CloseEvent: typeof globalThis.CloseEvent = globalThis.CloseEvent;
/** The `close` event. */
export type CloseEvent = globalThis.CloseEvent;

/** The browser's `ErrorEvent` (a browser's WebSocket fires a plain `Event` on error). */
export const ErrorEvent: typeof globalThis.ErrorEvent = globalThis.ErrorEvent;
/** An `ErrorEvent`. */
export type ErrorEvent = globalThis.ErrorEvent;

/** The browser's `MessageEvent`. */
export const MessageEvent: typeof globalThis.MessageEvent = globalThis.MessageEvent;
/** A `message` event. */
export type MessageEvent<T = unknown> = globalThis.MessageEvent<T>;

/** How binary messages are exposed: `"blob"` (the default) or `"arraybuffer"`. */
export type BinaryType = globalThis.BinaryType;
/** The events a {@link WebSocket} dispatches, by type. */
export type WebSocketEventMap = globalThis.WebSocketEventMap;
/** An event handler IDL attribute's value. */
export type WebSocketEventHandler<E extends Event> =
  ((this: WebSocket, event: E) => unknown) | null;
/** Data `send()` accepts. */
export type WebSocketData = Parameters<WebSocket['send']>[0];
/** Options of a {@link CloseEvent}. */
export type CloseEventInit = globalThis.CloseEventInit;
/** Options of an {@link ErrorEvent}. */
export type ErrorEventInit = globalThis.ErrorEventInit;
/** Options of a {@link MessageEvent}. */
export type MessageEventInit<T = unknown> = globalThis.MessageEventInit<T>;

/**
 * Options of a browser {@link ReconnectingWebSocket}: those of the Node
 * entry but `socketOptions` (a browser WebSocket takes none); and
 * `tokenIn: "header"` is a `TypeError` here, since a browser cannot set
 * WebSocket request headers.
 */
export type ReconnectingWebSocketOptions = ReconnectOptions<never>;

// Only names and functions, no call: a bundler drops it, with the class,
// from a page that never uses ReconnectingWebSocket.
const browserRuntime: WebSocketRuntime<WebSocket> = {
  requestHeaders: false,
  connect: (url, protocols) => new WebSocket(url, protocols),
  CloseEvent,
  MessageEvent,
  ErrorEvent,
  baseURL() {
    // What the WebSocket constructor resolves a relative URL against: a
    // document's base URL (<base href> included), or a worker's own URL.
    const global = globalThis as { document?: { baseURI: string }; location?: { href: string } };
    return global.document?.baseURI ?? global.location?.href;
  },
};

/**
 * A WebSocket that reconnects, over the browser's own WebSocket: the same
 * import and the same behaviour as in Node. It waits for the network while
 * `navigator.onLine` is false (an `offline` event says so) and tries at once
 * when the window's `online` event fires. With the `session` option it
 * carries a resumable session, as in Node (the session layer is
 * runtime-neutral). See the README ("Reconnecting", "Resumable sessions")
 * for the options and events.
 *
 * ```ts
 * const ws = new ReconnectingWebSocket('/feed', 'feed.v1', {
 *   token: () => auth.freshToken(), // in the query: browsers send no headers
 * });
 * ws.onmessage = (event) => render(event.data);
 * ws.addEventListener('offline', () => showBanner('waiting for the network'));
 * ```
 */
export class ReconnectingWebSocket extends ReconnectingWebSocketBase<WebSocket> {
  /**
   * Starts connecting, in a later task.
   * @param url - a `ws:`, `wss:`, `http:` or `https:` URL, or one relative to
   *   the page, or a function called before every attempt that returns one
   *   (or a promise of one).
   * @param protocols - subprotocols in order of preference, or a function
   *   called before every attempt that returns them.
   * @param options - see {@link ReconnectingWebSocketOptions}.
   * @throws {DOMException} `SyntaxError` for a URL or protocols a WebSocket would refuse.
   * @throws {TypeError} or {RangeError} for an invalid option, naming it.
   */
  constructor(url: UrlSource, protocols?: ProtocolsSource, options?: ReconnectingWebSocketOptions) {
    super(browserRuntime, url, protocols, options);
  }
}

export * from './reconnecting-exports.js';
