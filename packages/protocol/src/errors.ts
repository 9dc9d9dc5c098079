import { CloseCode } from './close-code.js';

/**
 * Stable string codes of every error the protocol reports. They are part of
 * the public API: match on `error.code`, never on the message text.
 */
export type WebSocketErrorCode =
  | ProtocolErrorCode
  | 'WS_ERR_INVALID_UTF8'
  /** permessage-deflate data that does not inflate (close code 1007). */
  | 'WS_ERR_INVALID_COMPRESSED_DATA'
  | 'WS_ERR_TOO_MANY_FRAGMENTS'
  | 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
  | 'WS_ERR_EXTENSION_NEGOTIATION'
  | 'WS_ERR_ABNORMAL_CLOSURE'
  | 'WS_ERR_INTERNAL'
  | HandshakeErrorCode;

/** Codes of {@link ProtocolError}: a peer broke a framing rule (close code 1002). */
export type ProtocolErrorCode =
  | 'WS_ERR_INVALID_OPCODE'
  | 'WS_ERR_UNEXPECTED_RSV'
  | 'WS_ERR_EXPECTED_MASK'
  | 'WS_ERR_UNEXPECTED_MASK'
  | 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'
  | 'WS_ERR_EXPECTED_FIN'
  | 'WS_ERR_INVALID_PAYLOAD_LENGTH'
  | 'WS_ERR_UNEXPECTED_CONTINUATION'
  | 'WS_ERR_EXPECTED_CONTINUATION'
  | 'WS_ERR_INVALID_CLOSE_CODE'
  | 'WS_ERR_INVALID_CLOSE_PAYLOAD';

/** Codes of {@link HandshakeError}: the opening handshake failed. */
export type HandshakeErrorCode =
  | 'WS_ERR_HANDSHAKE_MALFORMED'
  | 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE'
  | 'WS_ERR_HANDSHAKE_METHOD'
  | 'WS_ERR_HANDSHAKE_HTTP_VERSION'
  | 'WS_ERR_HANDSHAKE_HOST'
  | 'WS_ERR_HANDSHAKE_UPGRADE'
  | 'WS_ERR_HANDSHAKE_CONNECTION'
  | 'WS_ERR_HANDSHAKE_KEY'
  | 'WS_ERR_HANDSHAKE_VERSION'
  | 'WS_ERR_HANDSHAKE_PROTOCOL'
  | 'WS_ERR_HANDSHAKE_EXTENSIONS'
  | 'WS_ERR_HANDSHAKE_STATUS'
  | 'WS_ERR_HANDSHAKE_ACCEPT'
  | 'WS_ERR_HANDSHAKE_EOF'
  | 'WS_ERR_HANDSHAKE_REJECTED';

/**
 * Base of every error the protocol reports. Each carries a stable string
 * `code` and the close code that the connection is failed with, so the I/O
 * layer maps any error to a close frame in one line:
 * `connection.fail(err.closeCode, err.message)`.
 */
export class WebSocketError extends Error {
  /** Stable machine-readable code, e.g. `WS_ERR_INVALID_UTF8`. */
  readonly code: WebSocketErrorCode;
  /** The close code this error fails the connection with (RFC 6455 §7.4.1). */
  readonly closeCode: number;

  constructor(
    code: WebSocketErrorCode,
    closeCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.closeCode = closeCode;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** The peer broke a framing rule of RFC 6455. Close code 1002. */
export class ProtocolError extends WebSocketError {
  declare readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(code, CloseCode.ProtocolError, message);
  }
}

/** A text message or close reason is not valid UTF-8. Close code 1007. */
export class InvalidUtf8Error extends WebSocketError {
  declare readonly code: 'WS_ERR_INVALID_UTF8';
  constructor(message = 'Invalid UTF-8 in text message') {
    super('WS_ERR_INVALID_UTF8', CloseCode.InvalidPayload, message);
  }
}

/** The peer broke a local policy such as the fragment limit. Close code 1008. */
export class PolicyError extends WebSocketError {
  declare readonly code: 'WS_ERR_TOO_MANY_FRAGMENTS';
  constructor(code: 'WS_ERR_TOO_MANY_FRAGMENTS', message: string) {
    super(code, CloseCode.PolicyViolation, message);
  }
}

/** A message is larger than `maxPayload`. Close code 1009. */
export class PayloadTooBigError extends WebSocketError {
  declare readonly code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
  constructor(message: string) {
    super('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', CloseCode.MessageTooBig, message);
  }
}

/** Extension negotiation failed where the client required it. Close code 1010. */
export class ExtensionError extends WebSocketError {
  declare readonly code: 'WS_ERR_EXTENSION_NEGOTIATION';
  constructor(message: string) {
    super('WS_ERR_EXTENSION_NEGOTIATION', CloseCode.MandatoryExtension, message);
  }
}

/**
 * The opening handshake failed. On the server `status` is the HTTP status to
 * answer with (400, 405, 426, 431, ...) and `headers` any header fields the
 * answer needs (`Sec-WebSocket-Version: 13` with a 426). On the client
 * `status` is the status line the server sent (0 when there was none).
 * The close code is 1006: no WebSocket connection ever existed.
 */
export class HandshakeError extends WebSocketError {
  declare readonly code: HandshakeErrorCode;
  /** HTTP status: to send (server) or received (client). */
  readonly status: number;
  /** Header fields that belong with `status`. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: HandshakeErrorCode,
    status: number,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, CloseCode.Abnormal, message);
    this.status = status;
    this.headers = headers;
  }
}

/** The transport closed without a close frame. Close code 1006, never sent on the wire. */
export class AbnormalClosureError extends WebSocketError {
  declare readonly code: 'WS_ERR_ABNORMAL_CLOSURE';
  constructor(message = 'Connection closed without a close frame') {
    super('WS_ERR_ABNORMAL_CLOSURE', CloseCode.Abnormal, message);
  }
}

/**
 * Anything that is not a {@link WebSocketError}: a bug, or an exception out
 * of an injected hook. Close code 1011; the message on the wire is generic
 * because the original may hold details a peer must not see. The original is
 * kept as `cause` for local logging.
 */
export class InternalError extends WebSocketError {
  declare readonly code: 'WS_ERR_INTERNAL';
  constructor(cause?: unknown) {
    super('WS_ERR_INTERNAL', CloseCode.InternalError, 'Internal error', { cause });
  }
}

/**
 * The one mapping from any thrown value to a protocol error (and so to a
 * close code): our errors pass through, everything else becomes 1011.
 */
export function toWebSocketError(error: unknown): WebSocketError {
  return error instanceof WebSocketError ? error : new InternalError(error);
}
