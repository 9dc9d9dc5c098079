/**
 * What both entries export of `ReconnectingWebSocket` beside their own
 * binding of the class and its options type: the runtime-neutral events,
 * error and types, listed once.
 * @packageDocumentation
 */
export {
  GiveUpEvent,
  type GiveUpEventInit,
  type GiveUpReason,
  type NetworkStatus,
  OfflineQueueFullError,
  type ProtocolsSource,
  type QueueLimit,
  type QueuedData,
  type ReconnectEnvironment,
  ReconnectedEvent,
  type ReconnectedEventInit,
  ReconnectingEvent,
  type ReconnectingEventInit,
  type ReconnectingWebSocketEventMap,
  SessionLostEvent,
  type SessionLostEventInit,
  type SessionOptions,
  type TokenSource,
  UnsentEvent,
  type UnsentEventInit,
  type UrlSource,
} from './reconnecting-websocket.js';
