/**
 * @proj/protocol: RFC 6455 WebSocket as a pure state machine. Bytes in,
 * events and bytes out; no sockets, timers, Node or DOM APIs.
 * @packageDocumentation
 */
export { EMPTY, concatBytes, toBytes } from './bytes.js';
export { CloseCode, isValidCloseCode } from './close-code.js';
export {
  type ClosePayload,
  parseClosePayload,
  serializeClosePayload,
  truncateCloseReason,
} from './close-payload.js';
export {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_HEAD_SIZE,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_PAYLOAD,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  WEBSOCKET_GUID,
  isControlOpcode,
  isKnownOpcode,
} from './constants.js';
export {
  AbnormalClosureError,
  BacklogExceededError,
  ExtensionError,
  HandshakeError,
  type HandshakeErrorCode,
  HandshakeRejectedError,
  InternalError,
  InvalidCompressedDataError,
  InvalidStateError,
  InvalidUtf8Error,
  PayloadTooBigError,
  PolicyError,
  ProtocolError,
  type ProtocolErrorCode,
  WebSocketError,
  type WebSocketErrorCode,
  toWebSocketError,
} from './errors.js';
export {
  type EncodeFrameOptions,
  type FrameHeader,
  encodeFrame,
  encodeFrameInto,
  frameHeaderSize,
  writeFrameHeader,
} from './frame.js';
export { FrameParser, type FrameParserOptions, type FrameSink } from './frame-parser.js';
export { type MaskSource, applyMask, createRandomMaskSource, maskInto } from './mask.js';
export { MASK_ARENA_SIZE, type MaskArena, simdMaskArena } from './mask-simd.js';
export {
  LEND_MIN,
  type LentBuffers,
  MessageAssembler,
  type MessageLimits,
  type MessageSink,
} from './message-assembler.js';
export {
  decodeUtf8,
  decodeUtf8Strict,
  encodeUtf8,
  isValidUtf8,
  Utf8Validator,
  utf8Length,
} from './utf8.js';
export { sha1 } from './sha1.js';
export {
  type IntegerRange,
  booleanOption,
  describeValue,
  functionOption,
  integerOption,
  knownOptions,
  maxPayloadOption,
  oneOf,
  optionError,
  stringOption,
} from './options.js';
export { decodeBase64, encodeBase64 } from './base64.js';
export {
  type Extension,
  type ExtensionParam,
  hasToken,
  isToken,
  parseExtensions,
  parseTokenList,
  serializeExtensions,
} from './header-values.js';
export {
  type HeadSplit,
  type HttpHeaders,
  type HttpHeadLimits,
  type HttpRequestHead,
  type HttpResponseHead,
  checkHeaderCount,
  headerValue,
  parseRequestHead,
  parseResponseHead,
  splitHead,
} from './http1.js';
export {
  type AcceptOptions,
  type ClientRequestOptions,
  type ExpectedResponse,
  type RejectOptions,
  type Sha1,
  type ValidatedRequest,
  type ValidatedResponse,
  RESERVED_REQUEST_HEADERS,
  acceptKey,
  acceptRequest,
  buildAcceptResponse,
  buildClientRequest,
  buildRejectResponse,
  checkRequestHeaders,
  generateKey,
  validateRequest,
  validateResponse,
} from './handshake.js';
export {
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
  ConnectionState,
  type OpenInfo,
  type SendData,
  type SendOptions,
} from './connection.js';
export {
  DEFAULT_WINDOW_BITS,
  type DeflateAcceptance,
  type DeflateConfig,
  type DeflateParams,
  MIN_WINDOW_BITS,
  PERMESSAGE_DEFLATE,
  acceptDeflateOffer,
  acceptDeflateResponse,
  buildDeflateOffer,
  checkWindowBits,
} from './permessage-deflate.js';
export {
  type ConnectAcceptOptions,
  type ConnectRequestOptions,
  type ValidatedConnectRequest,
  acceptConnectRequest,
  buildConnectRequest,
  isConnectionSpecificHeader,
  validateConnectRequest,
  validateConnectResponse,
} from './extended-connect.js';
export { ClientConnection, type ClientConnectionOptions } from './client-connection.js';
export { ServerConnection, type ServerConnectionOptions } from './server-connection.js';
export { type ConnectionEvent, EventCollector } from './event-collector.js';
export {
  type LoggedMessage,
  SESSION_PROTOCOL,
  type SelectedProtocol,
  type SessionControl,
  SessionLog,
  type SessionLogLimits,
  type SessionOfferEntry,
  type SessionText,
  decodeSessionControl,
  encodeSessionControl,
  escapeSessionText,
  isSessionData,
  isSessionId,
  isSessionToken,
  parseSelectedProtocol,
  readSessionText,
  sessionError,
  sessionOffer,
  sessionOffers,
} from './session.js';
