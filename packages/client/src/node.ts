/**
 * `@proj/client` for Node.js: the WHATWG WebSocket over our RFC 6455
 * implementation, with the event classes it dispatches (`PongEvent`, like
 * `ping()`, is Node only).
 * @packageDocumentation
 */
export {
  type BinaryType,
  type PingData,
  WebSocket,
  type WebSocketData,
  type WebSocketEventHandler,
  type WebSocketEventMap,
} from './websocket.js';
export {
  CloseEvent,
  type CloseEventInit,
  ErrorEvent,
  type ErrorEventInit,
  MessageEvent,
  type MessageEventInit,
  PongEvent,
  type PongEventInit,
} from './events.js';
export { type WebSocketInit } from './constructor-arguments.js';
export { type TlsCredential, type WebSocketOptions } from './options.js';
/** The cause of an `error` event when the proxy (`proxy`, `HTTPS_PROXY`...) failed the connection. */
export { ProxyError, type ProxyErrorCode } from './proxy-error.js';
/** `ReconnectingWebSocket`, its events, options and errors (README: "Reconnecting"). */
export * from './reconnecting-node.js';
/**
 * The causes an `error` event can carry: a `HandshakeRejectedError` (a
 * `HandshakeError` with the received answer's `status` and `headers`) and the
 * rest of the `WebSocketError` family (every class in `@proj/protocol`).
 */
export { HandshakeError, HandshakeRejectedError, WebSocketError } from '@proj/protocol';
