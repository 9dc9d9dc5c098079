/**
 * `@proj/client` in browsers: the browser's own WebSocket and event classes,
 * with the DOM's types. Nothing of the Node implementation is imported here,
 * not even a type, so these declarations need `lib: ["dom"]` and nothing of
 * Node's (`@types/node`, `Buffer`): a browser project compiles against them
 * with `skipLibCheck` off. What only Node has (`ping()`, `PongEvent`, the
 * third constructor argument and its `WebSocketOptions`) is in the Node entry
 * only.
 * @packageDocumentation
 */

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
