/**
 * @proj/server: a WebSocket server for Node.js on the sans-I/O @proj/protocol core.
 * @packageDocumentation
 */
export {
  WebSocketServer,
  type ServerCloseOptions,
  type WebSocketServerEvents,
} from './websocket-server.js';
export {
  ServerWebSocket,
  type SendCallback,
  type ServerSendData,
  type ServerSendOptions,
  type ServerWebSocketEvents,
} from './server-websocket.js';
export { DEFAULTS, type HandshakeInfo, type ServerOptions } from './options.js';
export { type Rejection, reject } from './rejection.js';
export {
  CloseCode,
  HandshakeError,
  InvalidUtf8Error,
  PayloadTooBigError,
  PolicyError,
  ProtocolError,
  WebSocketError,
  type WebSocketErrorCode,
} from '@proj/protocol';
