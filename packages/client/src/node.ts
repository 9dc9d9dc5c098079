/**
 * `@proj/client` for Node.js: the WHATWG WebSocket over our RFC 6455
 * implementation, with the event classes it dispatches.
 * @packageDocumentation
 */
export {
  type BinaryType,
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
} from './events.js';
export { type TlsCredential, type WebSocketOptions } from './options.js';
/**
 * The causes an `error` event can carry: `HandshakeError` (with the refused
 * answer's `status` and `headers`) and the `WebSocketError` family.
 */
export { HandshakeError, WebSocketError } from '@proj/protocol';
