/**
 * `@proj/client` in browsers: the browser's own WebSocket and event classes,
 * behind the same types as the Node entry. No Node code is imported here.
 * @packageDocumentation
 */
import type { WebSocket as WebSocketClass } from './websocket.js';
import type {
  CloseEvent as CloseEventClass,
  ErrorEvent as ErrorEventClass,
  MessageEvent as MessageEventClass,
} from './events.js';

export type {
  BinaryType,
  WebSocketData,
  WebSocketEventHandler,
  WebSocketEventMap,
} from './websocket.js';
export type { CloseEventInit, ErrorEventInit, MessageEventInit } from './events.js';
export type { TlsCredential, WebSocketOptions } from './options.js';
/** Exported as in the Node entry, so the same imports work; browsers never report them. */
export { HandshakeError, HandshakeRejectedError, WebSocketError } from '@proj/protocol';

const runtime = globalThis as unknown as {
  WebSocket: typeof WebSocketClass;
  CloseEvent: typeof CloseEventClass;
  ErrorEvent: typeof ErrorEventClass;
  MessageEvent: typeof MessageEventClass;
};

/**
 * The browser's WebSocket. A third constructor argument (Node-only options)
 * is ignored by browsers.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
export const WebSocket = runtime.WebSocket;
/** The browser's `WebSocket` instance type, as in the Node entry. */
export type WebSocket = WebSocketClass;

/** The browser's `CloseEvent`. */
export const CloseEvent = runtime.CloseEvent;
/** The `close` event. */
export type CloseEvent = import('./events.js').CloseEvent;

/** The browser's `ErrorEvent`. */
export const ErrorEvent = runtime.ErrorEvent;
/** An `error` event (a plain `Event` in browsers; `ErrorEvent` in Node). */
export type ErrorEvent = import('./events.js').ErrorEvent;

/** The browser's `MessageEvent`. */
export const MessageEvent = runtime.MessageEvent;
/** A `message` event. */
export type MessageEvent<T = unknown> = import('./events.js').MessageEvent<T>;
