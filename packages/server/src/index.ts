/**
 * @proj/server: a WebSocket server for Node.js on the sans-I/O @proj/protocol core.
 * @packageDocumentation
 */
export {
  type BroadcastOptions,
  type PublishOptions,
  WebSocketServer,
  type ServerCloseOptions,
  type WebSocketServerEvents,
} from './websocket-server.js';
export { type DrainOptions } from './drain.js';
export {
  ServerWebSocket,
  type SendCallback,
  type ServerSendData,
  type ServerSendOptions,
  type ServerWebSocketEvents,
} from './server-websocket.js';
export {
  type Authenticate,
  type AuthenticateOption,
  type BacklogPolicy,
  DEFAULTS,
  type HandshakeInfo,
  type AttachableServer,
  type ServerOptions,
  type ServerSettings,
} from './options.js';
export { type UpgradeRequest, isHttp2Request } from './request.js';
export {
  type BacklogExceededMessage,
  CHANNELS,
  CLOSE_CAUSES,
  type CloseCause,
  type CloseMessage,
  type HandshakeRejectedMessage,
  type MemoryPressureMessage,
  type MemoryStats,
  type OpenMessage,
  type ServerStats,
  type SessionStats,
  type UserCodeSite,
  type UserErrorMessage,
} from './diagnostics.js';
export {
  ServerSession,
  type ServerSessionEvents,
  type SessionCloseCause,
} from './server-session.js';
export { SESSION_DEFAULTS, type SessionOptions } from './session-options.js';
export { MemorySessionStore } from './memory-session-store.js';
export {
  type CommitResult,
  type SessionStep,
  type SessionStore,
  type StoredMessage,
  type StoredSession,
} from './session-store.js';
export { MemoryAdapter, type PubSubAdapter, type PubSubAdapterEvents } from './pubsub-adapter.js';
export {
  ClusterAdapter,
  type ClusterAdapterOptions,
  type ClusterAdapterStats,
  type ClusterRelay,
  type ClusterRelayStats,
  installClusterRelay,
} from './cluster-adapter.js';
export { type OriginAllowListOptions, type OriginCheck, originAllowList } from './origin.js';
export { type Rejection, reject } from './rejection.js';
export {
  BacklogExceededError,
  CloseCode,
  HandshakeError,
  InvalidUtf8Error,
  PayloadTooBigError,
  PolicyError,
  ProtocolError,
  WebSocketError,
  type WebSocketErrorCode,
} from '@proj/protocol';
