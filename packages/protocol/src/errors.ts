/**
 * Every error this SDK throws or reports, in one hierarchy (the README's
 * "Errors" table lists them with their codes and where they are thrown):
 *
 * - {@link WebSocketError}: the connection failed, or never opened. Each
 *   carries a stable `code` and the `closeCode` it fails the connection with.
 *   - {@link ProtocolError} (1002), {@link InvalidUtf8Error} and
 *     {@link InvalidCompressedDataError} (1007), {@link PolicyError} (1008),
 *     {@link PayloadTooBigError} (1009), {@link InternalError} (1011).
 *   - {@link HandshakeError} (1006): a server refuses a request; `status` and
 *     `headers` are the answer to send.
 *     - {@link HandshakeRejectedError}: a client's handshake failed; `status`
 *       and `headers` are what the server sent. Two narrower kinds:
 *       {@link ExtensionError} and {@link AbnormalClosureError}.
 * - Errors of a call, which do not fail a connection by themselves, so they
 *   carry no close code: {@link InvalidStateError}, {@link BacklogExceededError}.
 *
 * Why the handshake split: a server decides the status it answers with, a
 * client can only report the one it received, and code that catches one
 * must not mistake it for the other (python-websockets likewise keeps
 * `InvalidStatus`, a client's, apart from a server's `reject`).
 * @packageDocumentation
 */
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
  | 'WS_ERR_INVALID_CLOSE_PAYLOAD'
  /** A breach of the resumable session protocol (`docs/session-protocol.md`). */
  | 'WS_ERR_SESSION_PROTOCOL';

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
  | 'WS_ERR_HANDSHAKE_EOF';

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

/**
 * A permessage-deflate message that does not inflate (RFC 7692 §8.2.3.4
 * hands it the same fate as invalid UTF-8: close code 1007). Thrown by the
 * inflater of the I/O layer (`@proj/deflate`); zlib's own error is `cause`.
 */
export class InvalidCompressedDataError extends WebSocketError {
  declare readonly code: 'WS_ERR_INVALID_COMPRESSED_DATA';
  constructor(message: string, options?: ErrorOptions) {
    super('WS_ERR_INVALID_COMPRESSED_DATA', CloseCode.InvalidPayload, message, options);
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

/**
 * A request the server refuses during the opening handshake (RFC 6455
 * §4.2.1), thrown by the server-side checks (`validateRequest`, `splitHead`,
 * `parseRequestHead`, `checkHeaderCount`). `status` is the HTTP status to
 * answer with (400, 405, 426, 431) and `headers` the header fields that go
 * with it (`Allow: GET` with a 405, `Sec-WebSocket-Version: 13` with a 426):
 * pass both to `buildRejectResponse`. The close code is 1006: no WebSocket
 * connection ever existed.
 *
 * A client's failed handshake is the subclass {@link HandshakeRejectedError},
 * whose `status` and `headers` are the ones received instead.
 */
export class HandshakeError extends WebSocketError {
  declare readonly code: HandshakeErrorCode;
  /** The HTTP status to answer with; received, on a {@link HandshakeRejectedError}. */
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

/**
 * A client's opening handshake failed: the server refused it (a status other
 * than 101, code `WS_ERR_HANDSHAKE_STATUS`) or its answer failed one of the
 * client's checks (RFC 6455 §4.1). `status` and `headers` are what the server
 * sent: 101 for a switching answer that failed a check, `0` and `{}` when no
 * well-formed status line arrived. Thrown by `validateResponse` and reported
 * by `ClientConnection`; the connection closes with 1006.
 */
export class HandshakeRejectedError extends HandshakeError {
  /** The HTTP status received, or `0` when none could be read. */
  declare readonly status: number;
  /** The response's header fields (lower-case names), `{}` when none could be read. */
  declare readonly headers: Readonly<Record<string, string>>;
}

/**
 * The server's answer negotiates extensions this client cannot use: one it
 * did not offer, a malformed `Sec-WebSocket-Extensions`, or permessage-deflate
 * parameters outside the offer (RFC 6455 §9.1, RFC 7692 §5). Code
 * `WS_ERR_HANDSHAKE_EXTENSIONS`. Close code 1006 like any failed handshake:
 * 1010 is what a client sends to close an open connection that lacks an
 * extension it requires, and this client requires none.
 */
export class ExtensionError extends HandshakeRejectedError {
  declare readonly code: 'WS_ERR_HANDSHAKE_EXTENSIONS';
  constructor(message: string, status = 101, headers: Readonly<Record<string, string>> = {}) {
    super('WS_ERR_HANDSHAKE_EXTENSIONS', status, message, headers);
  }
}

/**
 * The transport closed before the server's answer was complete, so no close
 * frame could ever come (close code 1006, which is never sent on the wire).
 * Code `WS_ERR_HANDSHAKE_EOF`, `status` 0; reported by `ClientConnection`.
 */
export class AbnormalClosureError extends HandshakeRejectedError {
  declare readonly code: 'WS_ERR_HANDSHAKE_EOF';
  constructor(message = 'Connection closed before the opening handshake completed') {
    super('WS_ERR_HANDSHAKE_EOF', 0, message);
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

/**
 * A send method of `Connection` called in a state that cannot send: before
 * the connection is open, once it is closing, or mixing text and binary
 * fragments in one message. A mistake of the caller, so it never fails the
 * connection and carries no close code.
 */
export class InvalidStateError extends Error {
  readonly code = 'WS_ERR_INVALID_STATE';
  override get name(): string {
    return 'InvalidStateError';
  }
}

/**
 * A send refused because the connection's queue already holds more than its
 * `maxBacklog` bytes (`@proj/server`). Whether the connection is then closed
 * with 1008 is the server's `backlogPolicy`, not this error's: with
 * `'reject'` only the message is dropped, so it carries no close code.
 */
export class BacklogExceededError extends Error {
  readonly code = 'WS_ERR_BACKLOG_EXCEEDED';
  /** Bytes that were queued when the send was refused. */
  readonly bufferedAmount: number;
  /** The limit in force, in bytes. */
  readonly maxBacklog: number;

  constructor(bufferedAmount: number, maxBacklog: number) {
    super(`Send refused: ${bufferedAmount} bytes queued, the limit is ${maxBacklog}`);
    this.bufferedAmount = bufferedAmount;
    this.maxBacklog = maxBacklog;
  }

  override get name(): string {
    return 'BacklogExceededError';
  }
}
